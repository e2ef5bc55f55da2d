// Nothing is lost for good: changes made while the watcher was stopped, while its connections to the API server were
// cut, while the API server restarted, or while Temporal was down reach the stream workflows once everything is back;
// meanwhile its readiness probes answer 503.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { startStack, type Stack } from '../../stack/index.ts';
import { startTemporalServer, type TemporalServer } from '../../stack/temporal.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { atLeast, versionKey } from '../../workflows/lifecycle/versions.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  ApiServerProxy,
  lastEventId,
  MOCK_STREAMS,
  MOCK_STREAMS_V2,
  signalsOf,
  startTestWatcher,
  Streams,
  temporalClient,
  uniqueTaskQueue,
  waitForGeneration,
  waitForReadiness,
  waitForSignal,
  watchStreamVersions,
} from './watcher-harness.ts';

const v2 = (name: string, namespace: string) =>
  streamWorkflowId({ streamClass: MOCK_STREAMS_V2.streamClass, namespace, name });
const v0 = (name: string, namespace: string) =>
  streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name });

test('streams created, changed and deleted while the watcher was stopped are resynced when it starts again', async (t) => {
  const kc = kubeConfig();
  const namespace = await testNamespace(t, kc, 'watch-offline');
  await installTestPlugin(kc, namespace);
  const taskQueue = uniqueTaskQueue('offline');
  const client = await temporalClient(t);
  const streams = new Streams(kc, namespace);

  const first = await startTestWatcher(t, { namespace, taskQueue, name: 'offline-1', kubeConfig: kc });
  await first.ready();
  await streams.create(MOCK_STREAMS, 'orders');
  await streams.create(MOCK_STREAMS, 'unchanged');
  await streams.create(MOCK_STREAMS_V2, 'invoices', 'mock-v2-job');
  for (const id of [v0('orders', namespace), v0('unchanged', namespace), v2('invoices', namespace)]) {
    await waitFor(`${id} started`, async () => (await signalsOf(client, id)).length > 0);
  }
  await first.stop();

  const marks = {
    orders: await lastEventId(client, v0('orders', namespace)),
    unchanged: await lastEventId(client, v0('unchanged', namespace)),
    invoices: await lastEventId(client, v2('invoices', namespace)),
  };
  await streams.create(MOCK_STREAMS, 'payments');
  await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/while-stopped');
  const invoices = await watchStreamVersions(t, kc, MOCK_STREAMS_V2, namespace, 'invoices');
  await streams.delete(MOCK_STREAMS_V2, 'invoices');

  const second = await startTestWatcher(t, { namespace, taskQueue, name: 'offline-2', kubeConfig: kc });
  await second.ready();
  const signalAfter = (id: string, mark: number, name: string) =>
    waitFor(`${name} on ${id}`, async () =>
      (await signalsOf(client, id)).find((signal) => signal.eventId > mark && signal.name === name),
    );
  const resyncs = [
    await signalAfter(v0('payments', namespace), 0, 'resync'),
    await signalAfter(v0('orders', namespace), marks.orders, 'resync'),
    await signalAfter(v0('unchanged', namespace), marks.unchanged, 'resync'),
  ];
  const deleted = await signalAfter(v2('invoices', namespace), marks.invoices, 'deleted');
  assert.match(deleted.reason, /stream no longer exists/);
  // Nothing was seen of these objects as they changed: the workflows must look, whatever they saw before, and see
  // each stream at least as the resync saw it.
  assert.deepEqual(
    resyncs.map((signal) => signal.versions),
    [undefined, undefined, undefined],
  );
  const current = await Promise.all(
    ['payments', 'orders', 'unchanged'].map((name) => streams.version(MOCK_STREAMS, name)),
  );
  assert.deepEqual(
    resyncs.map((signal) => signal.required?.[versionKey.stream]),
    current,
  );
  // No stream has a Job or CronJob here: each resync requires the absence of a Job as of the watcher's Job list,
  // which came after every change above (and nothing of a CronJob).
  const latest = current.reduce((a, b) => (atLeast(a, b) ? a : b));
  for (const signal of resyncs) {
    const version = signal.required?.[versionKey.job];
    assert.ok(version !== undefined && atLeast(version, latest), `Job ${version} is at least ${latest}`);
    assert.equal(signal.required?.[versionKey.cronJob], undefined);
  }
  // The deletion was not seen either, but the list that shows it is at a version at least as new: an observation
  // older than that (a cache behind) would still show the stream.
  const deletedAt = await invoices.of('DELETED');
  const required = deleted.versions?.[versionKey.stream];
  assert.ok(required !== undefined && atLeast(required, deletedAt), `${required} is at least ${deletedAt}`);
});

test('watches cut while the API server stays up are restored, and a change made meanwhile arrives', async (t) => {
  const kc = kubeConfig();
  const namespace = await testNamespace(t, kc, 'watch-cut');
  await installTestPlugin(kc, namespace);
  const proxy = await ApiServerProxy.start(t, kc);
  const client = await temporalClient(t);
  const watcher = await startTestWatcher(t, {
    namespace,
    taskQueue: uniqueTaskQueue('cut'),
    name: 'cut',
    kubeConfig: proxy.kubeConfig,
    // Keep leading while cut off.
    config: { leaderElection: { leaseDuration: '30s', renewPeriod: '2s' } },
  });
  await watcher.ready();
  await waitFor('the watcher to lead', () => watcher.isLeader());
  const streams = new Streams(kc, namespace);
  await streams.create(MOCK_STREAMS, 'orders');
  const id = v0('orders', namespace);
  await waitForSignal(client, id, 'streamObserved');
  const mark = await lastEventId(client, id);
  const resource = `${MOCK_STREAMS.plural}.${MOCK_STREAMS.group}`;
  const restarts = () => watcher.metrics.value(watcher.metrics.informerRestarts, { resource, cause: 'error' });
  const restartsBefore = await restarts();

  proxy.cut();
  await waitFor('the stream watch to fail', async () => (await restarts()) > restartsBefore);
  const unready = await waitForReadiness(watcher, 503);
  assert.ok(unready.reasons.includes('streams of StreamClass mock-stream not watched'), unready.reasons.join('; '));
  await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/while-cut');
  proxy.restore();

  await waitForGeneration(client, id, 2, { after: mark });
  await waitForReadiness(watcher, 200);
});

describe('outages (a private stack)', () => {
  let stack: Stack;
  let kc: KubeConfig;
  let temporal: TemporalServer | undefined;

  before(async () => {
    stack = await startStack();
    kc = new KubeConfig();
    kc.loadFromFile(stack.kubeconfigPath);
  });
  after(async () => {
    await temporal?.stop();
    await stack.stop();
  });

  async function setup(name: string, t: TestContext) {
    const namespace = `outage-${name}`;
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await installTestPlugin(kc, namespace);
    const client = await temporalClient(t, stack.temporalAddress);
    const watcher = await startTestWatcher(t, {
      namespace,
      taskQueue: uniqueTaskQueue(name),
      name,
      kubeConfig: kc,
      temporalAddress: stack.temporalAddress,
      // Keep leading through a short outage; restart informers quickly.
      config: { leaderElection: { leaseDuration: '30s', renewPeriod: '2s' }, informers: { restartBackoffMax: '1s' } },
    });
    await watcher.ready();
    await waitFor('the watcher to lead', () => watcher.isLeader());
    const streams = new Streams(kc, namespace);
    await streams.create(MOCK_STREAMS, 'orders');
    const id = v0('orders', namespace);
    await waitFor('the stream observed', async () => (await signalsOf(client, id)).length > 0);
    return { watcher, client, streams, id };
  }

  test('the watcher recovers from an API server restart and forwards a change made meanwhile', async (t) => {
    const { watcher, client, streams, id } = await setup('apiserver', t);
    const restarts = () => watcher.metrics.value(watcher.metrics.informerRestarts);
    const restartsBefore = await restarts();

    const mark = await lastEventId(client, id);

    await stack.kubernetes.processes.apiserver.kill();
    const unready = await waitForReadiness(watcher, 503);
    assert.ok(
      unready.reasons.some((reason) => reason.includes('watch failing')),
      unready.reasons.join('; '),
    );
    await stack.kubernetes.restartApiserver();
    await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/after-restart');

    // Forwarded as it happened, or found by the resync after the re-list: either way the workflow saw generation 2.
    await waitForGeneration(client, id, 2, { after: mark });
    await waitForReadiness(watcher, 200);
    assert.ok((await restarts()) > restartsBefore, 'the failed informers were restarted');
  });

  test('signals wait out a Temporal outage and arrive when it is back', async (t) => {
    const { watcher, client, streams, id } = await setup('temporal', t);
    const mark = await lastEventId(client, id);

    await stack.temporal.process.kill();
    const unready = await waitForReadiness(watcher, 503);
    assert.ok(
      unready.reasons.some((reason) => reason.includes('Temporal')),
      unready.reasons.join('; '),
    );
    await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/during-outage');
    await waitFor('a failed attempt', async () => (await watcher.metrics.value(watcher.metrics.signalFailures)) > 0, {
      timeoutMs: 30_000,
    });
    temporal = await startTemporalServer({
      binary: toolchain().temporal,
      dir: stack.dir,
      logDir: stack.logDir,
      port: Number(new URL(`http://${stack.temporalAddress}`).port),
      uiPort: Number(new URL(stack.temporalUiUrl).port),
    });

    await waitForReadiness(watcher, 200);
    const signals = await waitFor(
      'the change to reach the workflow',
      async () => {
        const later = (await signalsOf(client, id)).filter((signal) => signal.eventId > mark);
        return later.some((signal) => /generation 1 -> 2/.test(signal.reason)) && later;
      },
      { timeoutMs: 30_000 },
    );
    assert.ok(signals.some((signal) => signal.name === 'streamObserved'));
  });
});
