// The stream workflow on the real Temporal server, with the real activities against the real API server.
// These tests send the signals the watcher would.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type V1Job } from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type proto from '@temporalio/proto';
import { OUTCOME_FINALIZER } from '../../resources/job-metadata.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { historyText } from '../history-payloads.ts';
import { namespaceKey, phaseKey, streamClassKey, streamNameKey } from '../../client/search-attributes.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { temporalSignalSender } from '../../watcher/runtime/temporal-link.ts';
import { getStreamState, requestBackfill, restartStream, resumeStream, suspendStream } from '../../client/streams.ts';
import { waitFor } from '../../stack/wait.ts';
import {
  LATEST_LIFECYCLE_REVISION,
  stateQuery,
  streamObservedSignal,
  type StreamStatus,
  type StreamWorkflowInput,
} from '../../workflows/messages.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  createStream,
  createStreamClass,
  decoded,
  forwardWorkloadEvents,
  observeStream,
  recordHistory,
  startWorkerHarness,
  testLifecycle,
  waitForIdle,
  waitForState,
  type WorkerHarness,
} from './stream-harness.ts';
import { loadYaml, TEST_PLUGIN } from './kube.ts';
import { PLUGINS, TEST, type StreamOptions, type TestPlugin } from '../fixtures/plugins.ts';

const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const group = 'streaming.sneaksanddata.com';

/** A stream of the plugin in `namespace`, built as its table says (tests/fixtures/plugins.ts). */
function pluginStream(plugin: TestPlugin, name: string, namespace: string, options: StreamOptions = {}) {
  const built = plugin.stream(name, options);
  return { ...built, metadata: { name, namespace } };
}

/** Creates the plugin's stream `orders` in `namespace`; its key. */
function createPluginStream(plugin: TestPlugin, namespace: string, options: StreamOptions = {}): Promise<StreamKey> {
  return createStream(kc, plugin.kind.streamClass, pluginStream(plugin, 'orders', namespace, options));
}

/** Where a stream of the plugin lives in the API. */
function location(plugin: TestPlugin, stream: StreamKey) {
  const { group: kindGroup, version, plural } = plugin.kind;
  return { group: kindGroup, version, plural, namespace: stream.namespace, name: stream.name };
}

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

/** A finalizer of no controller: an object that carries it stays until it is removed. */
const HOLD = 'test.arcane.sneaksanddata.com/hold';

async function setJobFinalizers(stream: StreamKey, finalizers: string[]) {
  await batch.patchNamespacedJob(
    { namespace: stream.namespace, name: stream.name, body: { metadata: { finalizers } } },
    mergePatch,
  );
}

/** Takes HOLD off the Job, leaving whatever finalizers it has now (the operator's may have gone meanwhile). */
async function releaseHold(stream: StreamKey): Promise<void> {
  await waitFor('the hold on the Job released', async () => {
    const current = (await readJob(stream))?.metadata?.finalizers ?? [];
    if (!current.includes(HOLD)) return true;
    await setJobFinalizers(
      stream,
      current.filter((finalizer) => finalizer !== HOLD),
    );
    return true;
  });
}

async function patchStreamSpec(stream: StreamKey, spec: Record<string, unknown>, plugin: TestPlugin = TEST) {
  await custom.patchNamespacedCustomObject(
    { ...location(plugin, stream), body: { spec } },
    mergePatch, // keeps the rest of the spec
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

/** The type and result of each local activity a history recorded, in order. */
function localActivities(events: proto.temporal.api.history.v1.IHistoryEvent[]) {
  return events.flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0] : undefined;
    if (!data) return [];
    const { activity_type: type } = defaultPayloadConverter.fromPayload<{ activity_type: string }>(data);
    const result = marker?.details?.result?.payloads?.[0];
    return [{ type, result: result ? defaultPayloadConverter.fromPayload<unknown>(result) : undefined }];
  });
}

/** The Events with `reason` in `namespace`, once there is one (they are recorded after the status is written). */
async function recordedEvents(namespace: string, reason: string) {
  return waitFor(`a ${reason} event`, async () => {
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` });
    return events.items.length > 0 && events.items;
  });
}

/** A template of the test plugin under another name, changed by `change`, in `namespace`. */
async function createTemplate(namespace: string, from: string, name: string, change = (_spec: JobSpec) => {}) {
  const template = structuredClone(
    loadYaml('tests/fixtures/plugin/templates.yaml').find((o) => o.metadata?.name === from),
  );
  assert.ok(template);
  change((template as unknown as { spec: { spec: JobSpec } }).spec.spec);
  await createStream(kc, 'unused', { ...template, metadata: { name, namespace } });
}

type JobSpec = { template: { spec: { restartPolicy: string } } };

/** An update the workflow refused, with the message the caller reads. */
function refusedWith(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
    assert.match(String(error.cause?.message), message);
    return true;
  };
}

/** The summary shown in the UI for every activity the workflow scheduled, in order. */
async function activitySummaries(handle: WorkflowHandle): Promise<{ type: string; summary?: string }[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    const summary = event.userMetadata?.summary;
    const [text] = decoded<string>(summary ? [summary] : []);
    return [{ type: scheduled.activityType?.name ?? '', summary: text }];
  });
}

/** Records the history as a replay fixture for the project's own test plugin (the fixtures speak its layout). */
async function recordTestPluginHistory(plugin: TestPlugin, handle: WorkflowHandle, fixture: string) {
  if (plugin === TEST) await recordHistory(handle, fixture);
}

/** The stream object and its Job as they were while `running`: nothing deleted, nothing written. */
async function assertUntouched(stream: StreamKey, running: StreamStatus, plugin: TestPlugin = TEST): Promise<void> {
  const job = await readJob(stream);
  assert.equal(job?.metadata?.uid, running.job?.uid, 'the Job is kept');
  assert.equal(job?.metadata?.deletionTimestamp, undefined, 'and not being deleted');
  // No lifecycle manages the Job any more: the operator's finalizer would keep it from ever being deleted.
  assert.ok(!(job?.metadata?.finalizers ?? []).includes(OUTCOME_FINALIZER), 'and not held by the operator');
  const stored = (await custom.getNamespacedCustomObject(location(plugin, stream))) as {
    status?: { phase?: string; configurationHash?: string };
  };
  assert.equal(stored.status?.phase, 'Running');
  assert.equal(stored.status?.configurationHash, running.configurationHash);
}

describe('stream workflow', () => {
  let harness: WorkerHarness;
  before(async () => {
    harness = await startWorkerHarness(kc);
  });
  after(async () => {
    await harness.stop();
  });

  /** The lifecycle scenarios every plugin must pass: namespaces are suffixed with its name. */
  function lifecycleOn(plugin: TestPlugin) {
    it(`backfills a new stream first, then starts its streaming Job (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-backfill-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const handle = await observeStream(harness, stream);
      await forwardWorkloadEvents(t, kc, handle, stream);

      const running = await waitForState(
        handle,
        'Running',
        (s) => s.phase === 'Running' && s.job?.backfilling === false,
      );
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
      // What the Temporal UI and visibility queries show: the phase as a search attribute, the condition as details.
      await waitForIdle(handle);
      assert.equal((await handle.describe()).typedSearchAttributes.get(phaseKey), 'Running');
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.equal(metadata.currentDetails, '**Running** StreamRunning: the streaming Job is running');
      await recordTestPluginHistory(plugin, handle, 'backfill-then-running');
    });

    it(`a run started the watcher's way writes no patch marker and no search attribute it started with (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-started-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const send = temporalSignalSender({
        client: harness.client,
        taskQueue: harness.taskQueue,
        timeoutMs: 10_000,
        workflowInput: { lifecycle: testLifecycle },
      });
      await send({ stream, signal: streamObservedSignal, reason: 'test', start: { kind: plugin.kind.kind } });
      const handle = harness.client.workflow.getHandle(streamWorkflowId(stream));
      await forwardWorkloadEvents(t, kc, handle, stream);
      const running = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && !s.job?.backfilling);
      await waitForIdle(handle);
      const events = (await handle.fetchHistory()).events ?? [];
      // The run's input names its revision: no patch marker, so no TemporalChangeVersion either.
      const markers = events.flatMap((event) => event.markerRecordedEventAttributes?.markerName ?? []);
      assert.ok(!markers.includes('core_patch'), JSON.stringify(markers));
      // It started with its identity and no phase, so the only writes are the phases it went through.
      const written = events.flatMap((event) => {
        const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
        return fields ? [Object.keys(fields).sort().join(',')] : [];
      });
      const phases = running.transitions.map((transition) => transition.to);
      assert.deepEqual(written, ['ArcanePhase', 'ArcanePhase'], JSON.stringify({ written, phases }));
      const shown = (await handle.describe()).typedSearchAttributes;
      assert.deepEqual(
        [streamClassKey, namespaceKey, streamNameKey, phaseKey].map((key) => shown.get(key)),
        [stream.streamClass, stream.namespace, stream.name, 'Running'],
      );
      await recordTestPluginHistory(plugin, handle, 'started-by-watcher');
    });

    it(`suspends and resumes a running stream through the public updates (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-suspend-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const handle = await observeStream(harness, stream);
      await forwardWorkloadEvents(t, kc, handle, stream);
      await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

      const suspended = await suspendStream(harness.client, stream);
      assert.match(suspended.message, /suspend/);
      await observeStream(harness, stream); // the watcher forwards the spec change
      await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended' && s.job === undefined);
      assert.equal(await readJob(stream), undefined);

      await assert.rejects(
        restartStream(harness.client, stream),
        refusedWith(/^cannot restart: the stream is suspended; resume it to start its Job$/),
      );

      await resumeStream(harness.client, stream);
      await observeStream(harness, stream);
      await waitForState(handle, 'Running again', (s) => s.phase === 'Running' && s.job?.backfilling === false);
      assert.equal((await listBackfillRequests(namespace)).length, 1, 'resume does not backfill again');
      await recordTestPluginHistory(plugin, handle, 'suspend-resume');
    });

    it(`replaces the streaming Job when the spec changes (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-spec-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const handle = await observeStream(harness, stream);
      await forwardWorkloadEvents(t, kc, handle, stream);
      const before = await waitForState(
        handle,
        'Running',
        (s) => s.phase === 'Running' && s.job?.backfilling === false,
      );

      await patchStreamSpec(stream, plugin.change('customers'), plugin);
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

    it(`hands a round that keeps failing back to the workflow, which retries it until the old Job is gone (${plugin.name} plugin)`, async (t) => {
      // Every failing round is handed back at once: replacing the Job fails while the old one is going away.
      await harness.runActivitiesWith({ roundRetryMs: 0 });
      let release = () => Promise.resolve();
      t.after(async () => {
        await release(); // a held Job would keep the retried round, and so the worker's shutdown, waiting
        await harness.runWorker('all');
      });
      const namespace = await testNamespace(t, kc, `wf-pending-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const latest = { lifecycleRevision: LATEST_LIFECYCLE_REVISION };
      const handle = await observeStream(harness, stream, latest);
      await forwardWorkloadEvents(t, kc, handle, stream);
      const before = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && !s.job?.backfilling);
      // Someone else's finalizer keeps the old Job going away until the test lets it go.
      const finalizers = (await readJob(stream))?.metadata?.finalizers ?? [];
      await setJobFinalizers(stream, [...finalizers, HOLD]);
      release = () => releaseHold(stream);

      await patchStreamSpec(stream, plugin.change('customers'), plugin);
      await observeStream(harness, stream, latest);
      // The wake hands the replacement back; its result is in the history once the workflow task that runs the
      // retried round reports progress.
      await waitFor('the replacement handed back to the workflow', async () => {
        const wakes = localActivities((await handle.fetchHistory()).events ?? []);
        return wakes.some((wake) => wake.type === 'settle' && (wake.result as { pending?: unknown }).pending);
      });
      assert.ok((await readJob(stream))?.metadata?.deletionTimestamp, 'the old Job is going away');
      await release();
      const after = await waitForState(
        handle,
        'Running with the new spec',
        (s) =>
          s.phase === 'Running' && s.configurationHash !== before.configurationHash && s.job?.uid !== before.job?.uid,
      );
      assert.equal((await readJob(stream))?.metadata?.annotations?.['configuration-hash'], after.configurationHash);
      // The replacement is told as a configuration change, from the state the handed-back round was decided with.
      const continued = await recordedEvents(namespace, 'StreamingContinued');
      assert.ok(
        continued.some((event) => /configuration changed/.test(event.message ?? '')),
        JSON.stringify(continued.map((event) => event.message)),
      );
      // Wakes ran as `settle`, the handed-back round as an `act` of its own, retried until the old Job was gone.
      const types = localActivities((await handle.fetchHistory()).events ?? []).map((call) => call.type);
      assert.ok(types.includes('settle') && types.includes('act'), types.join(', '));
      assert.ok(!types.includes('observeStream'), types.join(', '));
    });

    it(`answers the backfill update with the open request, and runs it (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-bfr-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace, { suspended: true });
      const handle = await observeStream(harness, stream);
      await forwardWorkloadEvents(t, kc, handle, stream);
      await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended');

      const first = await requestBackfill(harness.client, stream, { payload: { from: '2026-01-01' } });
      assert.equal(first.created, true);
      const second = await requestBackfill(harness.client, stream);
      assert.deepEqual(second, { name: first.name, created: false });
      assert.equal((await listBackfillRequests(namespace)).length, 1);
      const updates = (await activitySummaries(handle)).filter((activity) => activity.type === 'requestBackfill');
      assert.deepEqual(
        updates.map((activity) => activity.summary?.replace(/-backfill-[0-9a-f]{8} /, '-backfill-<id> ')),
        Array(2).fill(`open BackfillRequest ${namespace}/orders-backfill-<id> unless one is open`),
      );
      assert.equal(updates[0]?.summary, `open BackfillRequest ${namespace}/${first.name} unless one is open`);

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
      const unnamed = (await activitySummaries(handle)).filter((activity) => !activity.summary);
      assert.deepEqual(unnamed, [], 'every activity carries a summary for the UI');
      await recordTestPluginHistory(plugin, handle, 'backfill-update');
    });

    it(`deletes the Job and completes when the stream is deleted (${plugin.name} plugin)`, async (t) => {
      const namespace = await testNamespace(t, kc, `wf-delete-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      const stream = await createPluginStream(plugin, namespace);
      const handle = await observeStream(harness, stream);
      await forwardWorkloadEvents(t, kc, handle, stream);
      await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);

      await custom.deleteNamespacedCustomObject(location(plugin, stream));
      await handle.signal('deleted', { reason: 'test deleted the stream' });
      const final = (await handle.result()) as StreamStatus;
      assert.equal(final.ended, 'deleted');
      await waitFor('the Job to be gone', async () => (await readJob(stream)) === undefined);
      await recordTestPluginHistory(plugin, handle, 'deleted');

      const completed = `the stream was deleted; its workflow stream/${plugin.kind.streamClass}/${namespace}/orders has completed`;
      for (const [update, send] of [
        ['suspend', () => suspendStream(harness.client, stream)],
        ['resume', () => resumeStream(harness.client, stream)],
        ['backfill', () => requestBackfill(harness.client, stream)],
        ['restart', () => restartStream(harness.client, stream)],
      ] as const) {
        await assert.rejects(send(), (error: unknown) => {
          assert.ok(error instanceof WorkflowNotFoundError, String(error));
          assert.equal(error.message, `cannot ${update}: ${completed}`);
          return true;
        });
      }
      const requests = (await listBackfillRequests(namespace)).map((request) => request.metadata.name);
      assert.deepEqual(requests.length, 1, `the refused backfill created nothing: ${requests.join(', ')}`);
      assert.match(requests[0] ?? '', /^orders-initial-backfill-/);
    });
  }

  for (const plugin of PLUGINS) lifecycleOn(plugin);

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

  it('rejects a restart of a stream that has no Job yet, and restarts a running one', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-restart');
    await installTestPlugin(kc, namespace);
    const late = { apiGroup: group, kind: 'StreamingJobTemplate', name: 'late-backfill' };
    const stream = await createStream(
      kc,
      'mock-stream',
      mockStream('orders', namespace, { backfillJobTemplateRef: late }),
    );
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Pending on the backfill template', (s) => s.reason === 'TemplateNotFound');

    await assert.rejects(
      restartStream(harness.client, stream),
      refusedWith(
        /^cannot restart: the stream is pending \(the backfill template .*late-backfill was not found.*\); there is no Job to restart yet$/,
      ),
    );
    assert.equal(await readJob(stream), undefined);

    await createTemplate(namespace, 'mock-backfill-job', 'late-backfill');
    await handle.signal('templateObserved', { reason: 'template ADDED' });
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
    await recordHistory(handle, 'restart-update');
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
    await assert.rejects(
      restartStream(harness.client, stream),
      refusedWith(/^cannot restart: the stream runs on a CronJob backend; there is no Job to restart$/),
    );
  });

  it('continues as new with its state and a signal that arrived during its last round', async (t) => {
    const own = await startWorkerHarness(kc);
    t.after(() => own.stop());
    const namespace = await testNamespace(t, kc, 'wf-can');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { suspended: true }));
    const maxHistoryEvents = 60;
    const handle = await observeStream(own, stream, { maxHistoryEvents });
    await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended');
    await waitForIdle(handle);
    const firstRun = (await handle.describe()).runId;
    const before = await handle.query(stateQuery);

    // Without a worker, signals only lengthen the history: the round they start ends past the threshold.
    await own.runWorker('nothing');
    for (let i = 0; (await handle.describe()).historyLength < maxHistoryEvents; i++) {
      await handle.signal('resync', { reason: `resync ${i}` });
    }
    // The round starts and waits for its observation, held back by the worker.
    const held = await own.holdObservations();
    await waitFor('the round to wait for its observation', () => held.observing());
    const length = (await handle.describe()).historyLength;
    await handle.signal('streamObserved', { reason: 'arrived during the last round' });
    await waitFor('the signal to reach the server', async () => (await handle.describe()).historyLength > length);
    held.release();
    await waitFor('the next run', async () => (await handle.describe()).runId !== firstRun);
    const previous = own.client.workflow.getHandle(handle.workflowId, firstRun);
    const { events } = await previous.fetchHistory();
    const continued = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    assert.ok(continued, 'the first run ended by continuing as new');
    const [input] = decoded<StreamWorkflowInput>(continued.input?.payloads);
    assert.deepEqual(input?.carried?.wakeReasons, ['streamObserved: arrived during the last round']);
    const carried = input?.carried?.state;
    assert.ok(carried);
    const kept = (s: Pick<StreamStatus, 'phase' | 'configurationHash' | 'restartCount' | 'transitions'>) => ({
      phase: s.phase,
      configurationHash: s.configurationHash,
      restartCount: s.restartCount,
      transitions: s.transitions,
    });
    // The first run's state was carried by a replay of it (its worker was replaced): under revision 2 a transition's
    // time is the workflow clock after a local activity, which a replay may read a little differently from the live
    // run. The carried transitions are the same phase changes; the next run keeps them exactly as carried.
    const changes = (s: Parameters<typeof kept>[0]) => ({
      ...kept(s),
      transitions: s.transitions.map(({ from, to, reason }) => ({ from, to, reason })),
    });
    assert.deepEqual(changes(carried), changes(before));
    const next = await waitForState(handle, 'the next run to answer', () => true);
    assert.deepEqual(kept(next), kept(carried));
    await recordHistory(previous, 'continued-as-new');

    // The next run goes on from the carried state: resumed, it streams without the skipped initial backfill.
    await resumeStream(own.client, stream);
    await observeStream(own, stream);
    await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    assert.deepEqual(await listBackfillRequests(namespace), []);
    await recordHistory(handle, 'continued-from-carried-state');
  });

  /** A running stream of the plugin under a StreamClass of the test's own, and how to change that class. */
  async function runningUnderOwnClass(t: TestContext, prefix: string, plugin: TestPlugin) {
    const namespace = await testNamespace(t, kc, `wf-${prefix}-${plugin.name}`);
    await installTestPlugin(kc, namespace, plugin.files);
    const { kind } = plugin;
    const streamClass = await createStreamClass(t, kc, prefix, {
      apiGroupRef: kind.group,
      apiVersion: kind.version,
      kindRef: kind.kind,
      pluralName: kind.plural,
      ...(plugin.secret ? { secretRefs: [plugin.secret.field] } : {}),
    });
    const stream = await createStream(kc, streamClass, pluginStream(plugin, 'orders', namespace));
    // The latest revision, as the watcher starts runs: since revision 5 a detached stream's Job is released.
    const handle = await observeStream(harness, stream, { lifecycleRevision: LATEST_LIFECYCLE_REVISION });
    await forwardWorkloadEvents(t, kc, handle, stream);
    const running = await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    const changeClass = (spec: Record<string, string>) =>
      custom.patchClusterCustomObject(
        { group, version: 'v1', plural: 'streamclasses', name: streamClass, body: { spec } },
        mergePatch,
      );
    return { streamClass, stream, handle, running, changeClass };
  }

  for (const plugin of PLUGINS) {
    const { kind } = plugin;
    const other = plugin.kinds.find((candidate) => candidate.kind !== kind.kind);
    assert.ok(other, `the ${plugin.name} plugin serves a second kind`);

    it(`leaves the Job of a stream whose StreamClass now serves another kind, and ends detached (${plugin.name} plugin)`, async (t) => {
      const { streamClass, stream, handle, running, changeClass } = await runningUnderOwnClass(t, 'retarget', plugin);
      await changeClass({ kindRef: other.kind, pluralName: other.plural });
      await handle.signal('detached', { reason: `StreamClass ${streamClass} now serves kind ${other.kind}` });
      const final = (await handle.result()) as StreamStatus;
      assert.equal(final.ended, 'detached');
      assert.equal(final.phase, 'Running');
      assert.match(
        final.message,
        new RegExp(`now serves ${other.kind} \\(${other.plural}\\..*\\), no longer ${kind.kind} \\(${kind.plural}\\.`),
      );
      await assertUntouched(stream, running, plugin);
      await recordTestPluginHistory(plugin, handle, 'revision-5-detached');
    });

    it(`leaves the Job of a stream whose kind the API server no longer serves, and ends detached (${plugin.name} plugin)`, async (t) => {
      const { stream, handle, running, changeClass } = await runningUnderOwnClass(t, 'unserved', plugin);
      // Same kind, a version its CRD does not serve: every read of the stream answers 404.
      await changeClass({ apiVersion: 'v9' });
      await handle.signal('resync', { reason: 'test changed the StreamClass' });
      const final = (await handle.result()) as StreamStatus;
      assert.equal(final.ended, 'detached');
      assert.match(
        final.message,
        new RegExp(`does not serve ${kind.plural}\\.${kind.group.replaceAll('.', '\\.')}/v9`),
      );
      await assertUntouched(stream, running, plugin);
    });
  }

  it('records an invalid spec as Failed naming the field, and recovers when it is fixed', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-invalid');
    await installTestPlugin(kc, namespace);
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { jobTemplateRef: null }));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);

    const failed = await waitForState(handle, 'Failed with InvalidSpec', (s) => s.phase === 'Failed');
    assert.equal(failed.reason, 'InvalidSpec');
    assert.match(failed.message, /spec\.jobTemplateRef/);
    const [event] = await recordedEvents(namespace, 'InvalidSpec');
    assert.equal(event?.type, 'Warning');
    assert.match(event?.message ?? '', /spec\.jobTemplateRef/);
    assert.equal(await readJob(stream), undefined);
    await assert.rejects(
      restartStream(harness.client, stream),
      refusedWith(
        /^cannot restart: the stream spec is invalid \(.*spec\.jobTemplateRef.*\); fix the spec instead of restarting$/,
      ),
    );

    await patchStreamSpec(stream, {
      jobTemplateRef: { apiGroup: group, kind: 'StreamingJobTemplate', name: 'mock-streaming-job' },
    });
    await observeStream(harness, stream);
    await waitForState(handle, 'Running once fixed', (s) => s.phase === 'Running' && s.job?.backfilling === false);
  });

  it('records FailedCreateJob when the API server refuses the Job, and recovers when the template is fixed', async (t) => {
    const namespace = await testNamespace(t, kc, 'wf-refused');
    await installTestPlugin(kc, namespace);
    const refused = (spec: JobSpec) => {
      spec.template.spec.restartPolicy = 'Always'; // a Job's pods may not restart always: the API server says 422
    };
    await createTemplate(namespace, 'mock-backfill-job', 'restarting-backfill', refused);
    const backfillJobTemplateRef = { apiGroup: group, kind: 'StreamingJobTemplate', name: 'restarting-backfill' };
    const stream = await createStream(kc, 'mock-stream', mockStream('orders', namespace, { backfillJobTemplateRef }));
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);

    const failed = await waitForState(handle, 'Failed', (s) => s.phase === 'Failed');
    assert.equal(failed.reason, 'InvalidTemplate');
    assert.match(
      failed.message,
      /^the backfill Job for request orders-initial-backfill-\S+ could not be created: .*restartPolicy/,
    );
    assert.equal(failed.lastError?.reason, 'InvalidTemplate');
    const [event] = await recordedEvents(namespace, 'FailedCreateJob');
    assert.equal(event?.type, 'Warning');
    assert.equal(event?.message, failed.message);
    assert.equal(await readJob(stream), undefined);

    await custom.patchNamespacedCustomObject(
      {
        group,
        version: 'v1',
        namespace,
        plural: 'streamingjobtemplates',
        name: 'restarting-backfill',
        body: { spec: { spec: { template: { spec: { restartPolicy: 'Never' } } } } },
      },
      mergePatch,
    );
    await handle.signal('templateObserved', { reason: 'template MODIFIED' });
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
    await createTemplate(namespace, 'mock-streaming-job', 'late-template');
    await handle.signal('templateObserved', { reason: 'template ADDED' });
    await waitForState(handle, 'Running with the late template', (s) => s.phase === 'Running' && !s.job?.backfilling);
  });
});
