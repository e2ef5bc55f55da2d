// The watcher against a real API server and a real Temporal server: Kubernetes events become signals on the stream
// workflows (no worker runs here: the workflows stay scheduled, and their histories show what they were sent).
import assert from 'node:assert/strict';
import { before, describe, test, type TestContext } from 'node:test';
import { BatchV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { OUTCOME_FINALIZER } from '../../resources/job-metadata.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAMING_JOB_TEMPLATES } from '../../resources/api-group.ts';
import { initialBackfillRequestName } from '../../resources/backfill-request.ts';
import { waitFor } from '../../stack/wait.ts';
import { versionKey } from '../../workflows/lifecycle/versions.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  httpGet,
  lastEventId,
  MOCK_STREAMS,
  MOCK_STREAMS_V2,
  resourceVersionOf,
  signalsOf,
  startTestWatcher,
  Streams,
  temporalClient,
  uniqueTaskQueue,
  waitForSignal,
  watchStreamVersions,
  watchVersions,
} from './watcher-harness.ts';

let kc: KubeConfig;

before(() => {
  kc = kubeConfig();
});

/** A namespace with the test plugin, a leading watcher on its own task queue, and a Temporal client. */
async function setup(t: TestContext, name: string) {
  const namespace = await testNamespace(t, kc, `watch-${name}`);
  await installTestPlugin(kc, namespace);
  const taskQueue = uniqueTaskQueue(name);
  const watcher = await startTestWatcher(t, { namespace, taskQueue, name, kubeConfig: kc });
  const client = await temporalClient(t);
  await watcher.ready();
  await waitFor('the watcher to lead', () => watcher.isLeader());
  // The resync every new leader runs is done: later signals are the tests' own doing.
  await waitFor('the first resync', async () => (await watcher.metrics.value(watcher.metrics.resyncs)) >= 1);
  const streams = new Streams(kc, namespace);
  const id = (streamName: string, streamClass: string = MOCK_STREAMS.streamClass) =>
    streamWorkflowId({ streamClass, namespace, name: streamName });
  return { namespace, taskQueue, watcher, client, streams, id };
}

/** What makes a Job or CronJob the workload of the MockStream `orders`: the labels, as the upstream operator sets. */
const upstreamWorkload = (name: string) => ({
  name,
  labels: { 'arcane/stream-id': 'orders', 'arcane/stream-kind': 'MockStream', 'arcane/backfilling': 'false' },
});

/** The same as this operator makes it: it also names the stream's class. */
const ordersWorkload = (name: string) => ({
  ...upstreamWorkload(name),
  annotations: { 'arcane.sneaksanddata.com/stream-class': 'mock-stream' },
});

/** A pod spec kwok runs (its fake nodes are tainted). */
const kwokPod = {
  restartPolicy: 'Never',
  tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
  containers: [{ name: 'stream', image: 'busybox:1.37' }],
};

describe('watcher forwarding', () => {
  test('a new stream gets a workflow named after it, started by the signal, findable by its search attributes', async (t) => {
    const { namespace, taskQueue, client, streams, id } = await setup(t, 'new');
    const created = await streams.create(MOCK_STREAMS, 'orders');

    const signal = await waitForSignal(client, id('orders'), 'streamObserved', { reason: /MockStream orders created/ });
    assert.match(signal.reason, /generation 1/);
    assert.deepEqual(signal.versions, { [versionKey.stream]: created }, 'the stream as it was created');
    const description = await client.workflow.getHandle(id('orders')).describe();
    assert.equal(description.type, 'streamWorkflow');
    assert.equal(description.taskQueue, taskQueue);
    assert.equal(description.workflowId, `stream/mock-stream/${namespace}/orders`);
    const attributes = Object.fromEntries(description.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]));
    assert.deepEqual(attributes, {
      ArcaneStreamClass: 'mock-stream',
      ArcaneNamespace: namespace,
      ArcaneStreamName: 'orders',
      // No workflow runs on this queue: the phase is the one it starts with.
      ArcanePhase: 'None',
    });
    assert.equal(await description.staticSummary(), `MockStream ${namespace}/orders`);
  });

  test('a status-only update is not forwarded; the spec change after it is', async (t) => {
    const { watcher, client, streams, id } = await setup(t, 'status');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const mark = await lastEventId(client, id('orders'));
    const suppressed = () => watcher.metrics.value(watcher.metrics.suppressed, { kind: 'MockStream' });
    const before = await suppressed();

    await streams.writeStatus(MOCK_STREAMS, 'orders', 'Running');
    await waitFor('the status update to be seen and suppressed', async () => (await suppressed()) > before);
    const changed = await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/changed');
    await waitForSignal(client, id('orders'), 'streamObserved', { after: mark, reason: /generation 1 -> 2/ });

    const after = (await signalsOf(client, id('orders'))).filter((signal) => signal.eventId > mark);
    assert.deepEqual(
      after.map((signal) => [signal.name, signal.reason, signal.versions]),
      [['streamObserved', 'MockStream orders generation 1 -> 2', { [versionKey.stream]: changed }]],
    );
  });

  test("a deleted stream's workflow is told so, at the deletion's version", async (t) => {
    const { namespace, client, streams, id } = await setup(t, 'delete');
    await streams.create(MOCK_STREAMS_V2, 'invoices', 'mock-v2-job');
    const invoices = id('invoices', MOCK_STREAMS_V2.streamClass);
    await waitForSignal(client, invoices, 'streamObserved');
    const versions = await watchStreamVersions(t, kc, MOCK_STREAMS_V2, namespace, 'invoices');
    await streams.delete(MOCK_STREAMS_V2, 'invoices');
    const deleted = await waitForSignal(client, invoices, 'deleted', { reason: /MockStreamV2 invoices deleted/ });
    // An observation older than the deletion (a cache behind) would still show the stream: the workflow's must not be.
    assert.deepEqual(deleted.versions, { [versionKey.stream]: await versions.of('DELETED') });
  });

  test('the Job named after a stream wakes its workflow when it appears, finishes and goes', async (t) => {
    const { namespace, watcher, client, streams, id } = await setup(t, 'job');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const batch = kc.makeApiClient(BatchV1Api);
    const job = (name: string) => ({
      metadata: upstreamWorkload(name),
      spec: { backoffLimit: 0, template: { metadata: { labels: { 'arcane/backfilling': 'true' } }, spec: kwokPod } },
    });
    const versions = await watchVersions(t, kc, `/apis/batch/v1/namespaces/${namespace}/jobs`, 'orders');
    // A Job of a CronJob run carries the label too, but is not named after the stream: it wakes nobody.
    await batch.createNamespacedJob({ namespace, body: job('orders-29000000') });
    const created = resourceVersionOf(await batch.createNamespacedJob({ namespace, body: job('orders') }));
    const appeared = await waitForSignal(client, id('orders'), 'jobObserved', { reason: /^Job orders created/ });
    assert.deepEqual(appeared.versions, { [versionKey.job]: created }, 'the Job as it was created');
    // kwok completes backfill pods at once: the Job's completion is forwarded.
    const completed = await waitForSignal(client, id('orders'), 'jobObserved', {
      reason: /state "active" -> "complete"/,
      timeoutMs: 60_000,
    });
    const completedAt = completed.versions?.[versionKey.job] ?? 'none';
    assert.equal((await versions.at(completedAt)).type, 'MODIFIED', 'a version the API server gave the Job');
    await batch.deleteNamespacedJob({ namespace, name: 'orders', propagationPolicy: 'Background' });
    const gone = await waitForSignal(client, id('orders'), 'jobObserved', { reason: /^Job orders deleted/ });
    assert.deepEqual(gone.versions, { [versionKey.job]: await versions.of('DELETED') }, 'the version of its deletion');

    // The CronJob run's Job goes too, its last event; once the watcher has handled both deletions, a spec change is
    // signalled after anything that Job could have caused, so its arrival makes the check below final.
    await batch.deleteNamespacedJob({ namespace, name: 'orders-29000000', propagationPolicy: 'Background' });
    const jobDeletions = () => watcher.metrics.value(watcher.metrics.events, { kind: 'Job', type: 'deleted' });
    await waitFor('both Job deletions handled', async () => (await jobDeletions()) >= 2);
    const mark = await lastEventId(client, id('orders'));
    await streams.changeSpec(MOCK_STREAMS, 'orders', 'mock://source/changed');
    await waitForSignal(client, id('orders'), 'streamObserved', { after: mark, reason: /generation 1 -> 2/ });
    const jobSignals = (await signalsOf(client, id('orders'))).filter((signal) => signal.name === 'jobObserved');
    // Its pod starting and going, and its Complete condition after SuccessCriteriaMet, changed nothing the lifecycle
    // decides on: three signals, and only about the Job named after the stream.
    assert.deepEqual(
      jobSignals.map((signal) => signal.reason.replace(/^(Job orders (created|deleted|state)).*$/, '$1')),
      ['Job orders created', 'Job orders state', 'Job orders deleted'],
      JSON.stringify(jobSignals),
    );
  });

  test('a Job this operator made wakes its workflow when it finishes, not when it appears nor when it goes complete', async (t) => {
    const { namespace, watcher, client, streams, id } = await setup(t, 'own-job');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const batch = kc.makeApiClient(BatchV1Api);
    const jobDeletions = () => watcher.metrics.value(watcher.metrics.events, { kind: 'Job', type: 'deleted' });
    const release = [
      { op: 'test', path: '/metadata/finalizers/0', value: OUTCOME_FINALIZER },
      { op: 'remove', path: '/metadata/finalizers/0' },
    ];
    // How a completed Job goes: its workflow deletes it and releases it (the Job goes with that last finalizer), or its
    // TTL deletes it in the foreground first and the workflow's own deletion switches that to the Background. Neither
    // is news to its workflow.
    const endings = {
      'deleted while held, then released': async () => {
        await batch.deleteNamespacedJob({ namespace, name: 'orders', propagationPolicy: 'Background' });
        await batch.patchNamespacedJob({ namespace, name: 'orders', body: release });
      },
      'deleted in the foreground by its TTL, then deleted and released': async () => {
        await batch.deleteNamespacedJob({ namespace, name: 'orders', propagationPolicy: 'Foreground' });
        await batch.deleteNamespacedJob({ namespace, name: 'orders', propagationPolicy: 'Background' });
        await batch.patchNamespacedJob({ namespace, name: 'orders', body: release });
      },
    };
    const signalsSince = async (event: number) =>
      (await signalsOf(client, id('orders'))).filter((signal) => signal.eventId > event).map((signal) => signal.reason);
    let generation = 1;
    for (const [ending, end] of Object.entries(endings)) {
      const mark = await lastEventId(client, id('orders'));
      const body = {
        // As the operator makes it: held by the outcome finalizer until its workflow has read how it ended.
        metadata: { ...ordersWorkload('orders'), finalizers: [OUTCOME_FINALIZER] },
        spec: { backoffLimit: 0, template: { metadata: { labels: { 'arcane/backfilling': 'true' } }, spec: kwokPod } },
      };
      await batch.createNamespacedJob({ namespace, body });
      await waitForSignal(client, id('orders'), 'jobObserved', {
        after: mark,
        reason: /state "active" -> "complete"/,
        timeoutMs: 60_000,
      });
      // Its completion came after its creation: a forwarded creation would show before it.
      const reasons = await signalsSince(mark);
      assert.ok(!reasons.some((reason) => /^Job orders created/.test(reason)), `${ending}: ${JSON.stringify(reasons)}`);

      const deletions = await jobDeletions();
      await end();
      await waitFor('the Job deletion handled', async () => (await jobDeletions()) > deletions);
      // A spec change signalled after the deletion was handled makes the check final.
      const handled = await lastEventId(client, id('orders'));
      await streams.changeSpec(MOCK_STREAMS, 'orders', `mock://source/changed-${generation}`);
      generation += 1;
      const change = new RegExp(`generation ${generation - 1} -> ${generation}`);
      await waitForSignal(client, id('orders'), 'streamObserved', { after: handled, reason: change });
      const after = await signalsSince(mark);
      assert.deepEqual(
        after.filter((reason) => reason.startsWith('Job orders')),
        [after.find((reason) => reason.startsWith('Job orders state'))],
        `${ending}: ${JSON.stringify(after)}`,
      );
    }
  });

  test('the CronJob named after a stream wakes its workflow with its version when it appears and goes', async (t) => {
    const { namespace, client, streams, id } = await setup(t, 'cronjob');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const batch = kc.makeApiClient(BatchV1Api);
    const versions = await watchVersions(t, kc, `/apis/batch/v1/namespaces/${namespace}/cronjobs`, 'orders');
    // Suspended: no run starts whose Job could add notices of its own.
    const body = {
      metadata: upstreamWorkload('orders'),
      spec: { schedule: '0 0 1 1 *', suspend: true, jobTemplate: { spec: { template: { spec: kwokPod } } } },
    };
    const created = resourceVersionOf(await batch.createNamespacedCronJob({ namespace, body }));
    const appeared = await waitForSignal(client, id('orders'), 'jobObserved', { reason: /^CronJob orders created/ });
    assert.deepEqual(appeared.versions, { [versionKey.cronJob]: created });
    await batch.deleteNamespacedCronJob({ namespace, name: 'orders' });
    const gone = await waitForSignal(client, id('orders'), 'jobObserved', { reason: /^CronJob orders deleted/ });
    assert.deepEqual(gone.versions, { [versionKey.cronJob]: await versions.of('DELETED') });
  });

  test('a template change wakes the workflows of the streams built from it, and only those', async (t) => {
    const { namespace, client, streams, id } = await setup(t, 'template');
    await streams.create(MOCK_STREAMS, 'orders');
    await streams.create(MOCK_STREAMS_V2, 'ledger', 'mock-v2-cron');
    const ledger = id('ledger', MOCK_STREAMS_V2.streamClass);
    await waitForSignal(client, id('orders'), 'streamObserved');
    await waitForSignal(client, ledger, 'streamObserved');

    const custom = kc.makeApiClient(CustomObjectsApi);
    const patched: unknown = await custom.patchNamespacedCustomObject(
      {
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        plural: STREAMING_JOB_TEMPLATES.plural,
        namespace,
        name: 'mock-streaming-job',
        body: { spec: { spec: { backoffLimit: 1 } } },
      },
      mergePatch,
    );
    const changed = await waitForSignal(client, id('orders'), 'templateObserved', {
      reason: new RegExp(`StreamingJobTemplate ${namespace}/mock-streaming-job generation 1 -> 2`),
    });
    assert.deepEqual(changed.versions, {
      [versionKey.template(namespace, 'mock-streaming-job')]: resourceVersionOf(patched),
    });
    // The CronJob stream is built from mock-backfill-job only. The template change has been handled (orders heard of
    // it), so a spec change of ledger is signalled after anything it could have sent ledger: wait for that first.
    const mark = await lastEventId(client, ledger);
    await streams.changeSpec(MOCK_STREAMS_V2, 'ledger', 'mock://source/changed');
    await waitForSignal(client, ledger, 'streamObserved', { after: mark, reason: /generation 1 -> 2/ });
    assert.deepEqual(
      (await signalsOf(client, ledger)).filter((signal) => signal.name === 'templateObserved'),
      [],
      'the CronJob stream heard nothing of a template it is not built from',
    );
  });
});

describe('watcher and BackfillRequests', () => {
  test("a request for a stream wakes that stream's workflow", async (t) => {
    const { client, streams, id } = await setup(t, 'bfr');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const created = await streams.createBackfillRequest('orders-again', 'mock-stream', 'orders');
    const signal = await waitForSignal(client, id('orders'), 'backfillRequestObserved', {
      reason: /BackfillRequest orders-again created/,
    });
    assert.deepEqual(signal.versions, { [versionKey.backfillRequest('orders-again')]: created });
  });

  test("a stream's initial request, which only its workflow makes, does not wake it; any other request does", async (t) => {
    const { namespace, client, streams, id } = await setup(t, 'bfr-initial');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    const stored = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: MOCK_STREAMS.group,
      version: MOCK_STREAMS.version,
      plural: MOCK_STREAMS.plural,
      namespace,
      name: 'orders',
    })) as { metadata: { uid: string } };
    const initial = initialBackfillRequestName({ name: 'orders', uid: stored.metadata.uid });
    await streams.createBackfillRequest(initial, 'mock-stream', 'orders');
    await streams.createBackfillRequest('orders-later', 'mock-stream', 'orders');
    await waitForSignal(client, id('orders'), 'backfillRequestObserved', { reason: /orders-later created/ });
    // Requests are watched in order: the initial one was handled before the later one was forwarded.
    const reasons = (await signalsOf(client, id('orders'))).map((signal) => signal.reason);
    assert.ok(!reasons.some((reason) => reason.includes(initial)), JSON.stringify(reasons));
  });

  test('a request for an unknown stream is Failed with StreamNotFound and stays open', async (t) => {
    const { streams } = await setup(t, 'bfr-unknown');
    await streams.createBackfillRequest('nobody', 'mock-stream', 'no-such-stream');
    const request = await waitFor('the request to be Failed', async () => {
      const current = await streams.readBackfillRequest('nobody');
      return current.status?.phase === 'Failed' && current;
    });
    assert.equal(request.spec.completed, false);
    const condition = request.status?.conditions?.find((c) => c.type === 'Error');
    assert.equal(condition?.reason, 'StreamNotFound');
    assert.match(condition?.message ?? '', /no MockStream named no-such-stream in namespace/);
  });

  test('a request naming the wrong StreamClass for its stream is Failed with ClassMismatch', async (t) => {
    const { client, streams, id } = await setup(t, 'bfr-class');
    await streams.create(MOCK_STREAMS_V2, 'customers', 'mock-v1-job');
    await waitForSignal(client, id('customers', MOCK_STREAMS_V2.streamClass), 'streamObserved');
    await streams.createBackfillRequest('wrong-class', 'mock-stream', 'customers');
    const request = await waitFor('the request to be Failed', async () => {
      const current = await streams.readBackfillRequest('wrong-class');
      return current.status?.phase === 'Failed' && current;
    });
    const condition = request.status?.conditions?.find((c) => c.type === 'Error');
    assert.equal(condition?.reason, 'ClassMismatch');
    assert.match(
      condition?.message ?? '',
      /is a MockStreamV2 of StreamClass mock-stream-v2, not of StreamClass mock-stream/,
    );
    assert.equal(request.spec.completed, false);
  });
});

describe('watcher operations', () => {
  test('metrics count streams by class and phase; the probes answer on the upstream paths', async (t) => {
    const { namespace, watcher, client, streams, id } = await setup(t, 'ops');
    await streams.create(MOCK_STREAMS, 'orders');
    await waitForSignal(client, id('orders'), 'streamObserved');
    await streams.writeStatus(MOCK_STREAMS, 'orders', 'Running');

    const series = `arcane_streams{namespace="${namespace}",kind_ref="mock-stream",kind="MockStream",phase="Running"} 1`;
    const metrics = await waitFor('the stream gauge and the signal counter', async () => {
      const body = (await httpGet(watcher.ports.metrics, '/metrics')).body;
      return (
        body.includes(series) && /arcane_watcher_signals_sent_total\{signal="streamObserved"\} [1-9]/.test(body) && body
      );
    });
    assert.match(metrics, /arcane_watcher_events_total\{kind="MockStream",type="added"\} [1-9]/);
    assert.match(
      metrics,
      /arcane_kubernetes_api_calls_total\{verb="list",resource="mockstreams.streaming.sneaksanddata.com",code="200"\} [1-9]/,
    );
    assert.match(metrics, /arcane_watcher_leader 1/);
    assert.match(
      metrics,
      /arcane_stream_classes\{stream_class="mock-stream",phase="Ready",reason="StreamClassReady"\} 1/,
    );

    for (const path of ['/health', '/healthz', '/startup', '/health/ready', '/readyz']) {
      const { status, body } = await httpGet(watcher.ports.health, path);
      assert.equal(status, 200, `${path}: ${body}`);
    }
    const ready = JSON.parse((await httpGet(watcher.ports.health, '/readyz')).body) as {
      ready: boolean;
      leader: boolean;
    };
    assert.deepEqual(ready, { ready: true, reasons: [], leader: true });
  });
});
