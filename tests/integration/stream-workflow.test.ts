// The stream workflow on the real Temporal server, with the real activities against the real API server.
// These tests send the signals the watcher would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
} from '@kubernetes/client-node';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { historyText } from '../history-payloads.ts';
import { getStreamState, requestBackfill, restartStream, resumeStream, suspendStream } from '../../client/streams.ts';
import { waitFor } from '../../stack/wait.ts';
import type { StreamKey } from '../../workflows/messages.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  createStream,
  forwardWorkloadEvents,
  observeStream,
  recordHistory,
  startWorkerHarness,
  waitForState,
  type WorkerHarness,
} from './stream-harness.ts';
import { loadYaml, TEST_PLUGIN } from './kube.ts';

const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const group = 'streaming.sneaksanddata.com';

function mockStream(name: string, namespace: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: `${group}/v1beta1`,
    kind: 'MockStream',
    metadata: { name, namespace },
    spec: {
      suspended: false,
      jobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-streaming-job' },
      backfillJobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-backfill-job' },
      source: 'mock://source/orders',
      ...spec,
    },
  };
}

function env(job: V1Job, name: string): string | undefined {
  return job.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
}

async function readJob(stream: StreamKey): Promise<V1Job | undefined> {
  const jobs = await batch.listNamespacedJob({
    namespace: stream.namespace,
    fieldSelector: `metadata.name=${stream.name}`,
  });
  return jobs.items[0];
}

async function patchStreamSpec(stream: StreamKey, spec: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObject(
    {
      group,
      version: 'v1beta1',
      namespace: stream.namespace,
      plural: 'mockstreams',
      name: stream.name,
      body: { spec },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch), // keeps the rest of the spec
  );
}

async function listBackfillRequests(namespace: string) {
  const list = (await custom.listNamespacedCustomObject({
    group,
    version: 'v1',
    namespace,
    plural: 'backfillrequests',
  })) as {
    items: { metadata: { name: string }; spec: { completed?: boolean; streamId: string } }[];
  };
  return list.items;
}

async function streamEvents(namespace: string, reason: string) {
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` });
  return events.items;
}

describe('stream workflow', () => {
  let harness: WorkerHarness;
  before(async () => {
    harness = await startWorkerHarness(kc);
  });
  after(async () => {
    await harness.stop();
  });

  it('backfills a new stream first, then starts its streaming Job', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-backfill');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);

    const running = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    assert.equal(running.reason, 'StreamRunning');
    const requests = await listBackfillRequests(namespace);
    assert.equal(requests.length, 1);
    assert.match(requests[0]!.metadata.name, /^orders-initial-backfill-/);
    assert.equal(requests[0]!.spec.completed, true);
    const job = await readJob(stream);
    assert.equal(env(job!, 'STREAMCONTEXT__BACKFILL'), 'false');
    assert.equal(job!.metadata?.labels?.['arcane/backfilling'], 'false');
    assert.ok(
      running.transitions.some((tr) => tr.to === 'Backfilling'),
      'the stream went through Backfilling',
    );
    await recordHistory(handle, 'backfill-then-running');
  });

  it('suspends and resumes a running stream through the public updates', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-suspend');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

    const suspended = await suspendStream(harness.client, stream);
    assert.match(suspended.message, /suspend/);
    await observeStream(harness, stream); // the watcher forwards the spec change
    await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended' && s.job === undefined);
    assert.equal(await readJob(stream), undefined);

    await assert.rejects(restartStream(harness.client, stream), (error: unknown) => {
      assert.ok(error instanceof WorkflowUpdateFailedError);
      assert.match(String(error.cause?.message), /suspended/);
      return true;
    });

    await resumeStream(harness.client, stream);
    await observeStream(harness, stream);
    await waitForState(handle, 'Running again', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    assert.equal((await listBackfillRequests(namespace)).length, 1, 'resume does not backfill again');
    await recordHistory(handle, 'suspend-resume');
  });

  it('replaces the streaming Job when the spec changes', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-spec');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    const before = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

    await patchStreamSpec(stream, { source: 'mock://source/customers' });
    await observeStream(harness, stream);
    const after = await waitForState(
      handle,
      'Running with the new spec',
      (s) =>
        s.phase === 'Running' && s.configurationHash !== before.configurationHash && s.job?.uid !== before.job?.uid,
    );
    const job = await readJob(stream);
    assert.equal(job?.metadata?.annotations?.['configuration-hash'], after.configurationHash);
    assert.match(env(job, 'STREAMCONTEXT__SPEC') ?? '', /customers/);
  });

  it('restarts a failing Job with backoff, then stays Failed after the limit', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-fail');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(
      kc,
      'mock-stream',
      mockStream('orders', namespace, {
        suspended: true, // no initial backfill: the failing template is the streaming one
        jobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-failing-job' },
      }),
    );
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended');
    await resumeStream(harness.client, stream);
    await observeStream(harness, stream);

    const failed = await waitForState(
      handle,
      'Failed after the restart limit',
      (s) => s.phase === 'Failed' && s.restartCount === 2 && s.nextRestartAt === undefined,
      60_000,
    );
    assert.equal(failed.reason, 'StreamFailed');
    assert.ok(failed.transitions.filter((tr) => tr.to === 'Failed').length >= 3, 'Failed once per failure');
    assert.ok(
      failed.transitions.some((tr) => tr.from === 'Failed' && tr.to === 'Running'),
      'restarted in between',
    );

    // a person fixes the template reference: the spec change is the way out of Failed
    await patchStreamSpec(stream, {
      jobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-streaming-job' },
    });
    await observeStream(harness, stream);
    await waitForState(handle, 'Running after the fix', (s) => s.phase === 'Running' && s.restartCount === 0);
    await recordHistory(handle, 'failures-then-fix');
  });

  it('answers the backfill update with the open request, and runs it', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-bfr');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { suspended: true }));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended');

    const first = await requestBackfill(harness.client, stream, { payload: { from: '2026-01-01' } });
    assert.equal(first.created, true);
    const second = await requestBackfill(harness.client, stream);
    assert.deepEqual(second, { name: first.name, created: false });
    assert.equal((await listBackfillRequests(namespace)).length, 1);

    await resumeStream(harness.client, stream);
    await observeStream(harness, stream);
    await waitForState(
      handle,
      'Running after the backfill',
      (s) => s.phase === 'Running' && s.job?.backfilling === false,
    );
    const [request] = await listBackfillRequests(namespace);
    assert.equal(request?.spec.completed, true);
    const state = await getStreamState(harness.client, stream);
    assert.deepEqual(state.openBackfillRequests, []);
  });

  it('rejects a restart of a stream that has no Job yet, and restarts a running one', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-restart');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    const running = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

    const accepted = await restartStream(harness.client, stream);
    assert.match(accepted.message, /restart/);
    await waitForState(
      handle,
      'a new Job',
      (s) => s.phase === 'Running' && s.job !== undefined && s.job.uid !== running.job?.uid,
    );
    await waitFor('the new Job in the cluster', async () => {
      const job = await readJob(stream);
      return job !== undefined && job.metadata?.uid !== running.job?.uid;
    });
  });

  it('deletes the Job and completes when the stream is deleted', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-delete');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

    await custom.deleteNamespacedCustomObject({
      group,
      version: 'v1beta1',
      namespace,
      plural: 'mockstreams',
      name: 'orders',
    });
    await handle.signal('deleted', { reason: 'test deleted the stream' });
    const final = (await handle.result()) as { ended?: string };
    assert.equal(final.ended, 'deleted');
    await waitFor('the Job to be gone', async () => (await readJob(stream)) === undefined);
  });

  it('keeps secret values out of every payload of a stream with a secretRef', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-secret');
    await installTestPlugin(kc, namespace);
    const example = loadYaml(TEST_PLUGIN.streamsFile).find((o) => o.metadata?.name === 'mock-v2-job')!;
    const stream = await createStream(kc, 'mock-stream-v2', { ...example, metadata: { name: 'invoices', namespace } });
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    const job = await readJob(stream);
    assert.equal(job?.spec?.template.spec?.containers[0]?.envFrom?.at(-1)?.secretRef?.name, 'mock-connection');

    const history = historyText(await recordHistory(handle, 'secret-ref'));
    const [secret] = loadYaml('tests/fixtures/plugin/secret.yaml') as { stringData: Record<string, string> }[];
    const value = secret!.stringData.ARCANE_CONNECTIONSTRING!;
    assert.match(history, /"name":"invoices"/, 'the decoded history is about the stream');
    assert.ok(!history.includes(value), 'the secret value never enters a payload');
    assert.ok(!history.includes(Buffer.from(value).toString('base64')), 'not even base64-encoded');
  });

  it('schedules a CronJob stream without an initial backfill', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-cron');
    await installTestPlugin(kc, namespace);
    const example = loadYaml(TEST_PLUGIN.streamsFile).find((o) => o.metadata?.name === 'mock-v2-cron')!;
    const stream = await createStream(kc, 'mock-stream-v2', { ...example, metadata: { name: 'ledger', namespace } });
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    const scheduled = await waitForState(
      handle,
      'Scheduled',
      (s) => s.phase === 'Scheduled' && s.cronJob !== undefined,
    );
    assert.equal(scheduled.reason, 'StreamScheduled');
    assert.deepEqual(await listBackfillRequests(namespace), []);
  });

  it('continues as new past the event threshold, keeping its state and every signal', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-can');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace));
    const handle = await observeStream(harness, stream, { maxHistoryEvents: 30 });
    await forwardWorkloadEvents(t, kc, handle, stream);
    const running = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    const firstRun = (await handle.describe()).runId;

    // a burst of watcher signals around the continue-as-new, the last one carrying a real change
    for (let i = 0; i < 10; i++) await handle.signal('resync', { reason: `resync ${i}` });
    await patchStreamSpec(stream, { source: 'mock://source/after-continue-as-new' });
    await handle.signal('streamObserved', { reason: 'spec changed' });

    const after = await waitForState(
      handle,
      'the change handled in a later run',
      (s) =>
        s.phase === 'Running' && s.configurationHash !== running.configurationHash && s.job?.uid !== running.job?.uid,
    );
    assert.notEqual((await handle.describe()).runId, firstRun, 'the workflow continued as new');
    assert.ok(
      after.transitions.some((tr) => tr.to === 'Backfilling'),
      'transitions from the first run are kept',
    );
    const requests = await listBackfillRequests(namespace);
    assert.equal(requests.length, 1, 'the initial backfill is not repeated after continue-as-new');
  });

  it('records an invalid spec as Failed naming the field, and recovers when it is fixed', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-invalid');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { jobTemplateRef: null }));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);

    const failed = await waitForState(handle, 'Failed with InvalidSpec', (s) => s.phase === 'Failed');
    assert.equal(failed.reason, 'InvalidSpec');
    assert.match(failed.message, /spec\.jobTemplateRef/);
    const [event] = await streamEvents(namespace, 'InvalidSpec');
    assert.equal(event?.type, 'Warning');
    assert.match(event?.message ?? '', /spec\.jobTemplateRef/);
    assert.equal(await readJob(stream), undefined);

    await patchStreamSpec(stream, {
      jobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-streaming-job' },
    });
    await observeStream(harness, stream);
    await waitForState(handle, 'Running once fixed', (s) => s.phase === 'Running' && s.job?.backfilling === false);
  });

  it('waits in Pending for a missing template and picks it up when it appears', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-template');
    await installTestPlugin(kc, namespace);
    const missing = { apiGroup: group, kind: 'StreamingJobTemplate', name: 'late-template' };
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { jobTemplateRef: missing }));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);

    const pending = await waitForState(handle, 'Pending on the template', (s) => s.reason === 'TemplateNotFound');
    assert.match(pending.message, /late-template/);
    const [template] = loadYaml('tests/fixtures/plugin/templates.yaml');
    await createStream(kc, 'unused', { ...template!, metadata: { name: 'late-template', namespace } });
    await handle.signal('templateObserved', { reason: 'template ADDED' });
    await waitForState(handle, 'Running with the late template', (s) => s.phase === 'Running' && !s.job?.backfilling);
  });
});
