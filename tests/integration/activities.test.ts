// The activities against a real API server, controller-manager and kwok node: each side effect run twice leaves the
// cluster as one run does, and observeStream reports what the lifecycle needs and nothing secret.
import assert from 'node:assert/strict';
import { before, describe, test, type TestContext } from 'node:test';
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { activityFailure, KubernetesApiError } from '../../activities/errors.ts';
import { createActivities, type StreamActivities } from '../../activities/index.ts';
import { createKubernetesApi, type KubernetesApi } from '../../activities/kubernetes.ts';
import { deleteJob } from '../../activities/workloads.ts';
import { kubernetesApiCalls } from '../../kubernetes/api-calls.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../../resources/api-group.ts';
import { initialBackfillRequestName } from '../../resources/backfill-request.ts';
import { OUTCOME_FINALIZER } from '../../resources/job-metadata.ts';
import { configurationHash } from '../../resources/configuration-hash.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import {
  applyObjects,
  applyYaml,
  holdForegroundDeletion,
  installTestPlugin,
  loadYaml,
  TEST_PLUGIN,
  testNamespace,
} from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import { createStreamClass } from './stream-harness.ts';

const PLUGIN_GROUP = 'streaming.sneaksanddata.com';
const PLUGIN_VERSION = 'v1beta1';
const PLURALS: Record<string, string> = { MockStream: 'mockstreams', MockStreamV2: 'mockstreamv2s' };
const CLASSES: Record<string, string> = { MockStream: 'mock-stream', MockStreamV2: 'mock-stream-v2' };

let kc: KubeConfig;
let activities: StreamActivities;
let registry: Registry;

before(async () => {
  kc = kubeConfig();
  // Cluster-wide parts once per file; `default` just has to exist for the namespaced parts.
  await installTestPlugin(kc, 'default');
  // A just-established CRD answers 429 "storage is (re)initializing" for a moment; Temporal would retry, tests wait.
  const custom = kc.makeApiClient(CustomObjectsApi);
  const served = [
    { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: BACKFILL_REQUESTS.plural },
    ...Object.values(PLURALS).map((plural) => ({ group: PLUGIN_GROUP, version: PLUGIN_VERSION, plural })),
  ];
  for (const resource of served) {
    await waitFor(`${resource.plural} to be served`, async () => {
      await custom.listNamespacedCustomObject({ ...resource, namespace: 'default' });
      return true;
    });
  }
  registry = new Registry();
  activities = createActivities({ kubeConfig: kc, logger: pino({ level: 'silent' }), registry });
});

type StoredStream = KubernetesObject & { metadata: { uid: string; resourceVersion: string }; spec: JsonObject };

/** A fresh namespace with the plugin's templates and Secret. */
async function pluginNamespace(t: TestContext, prefix: string): Promise<string> {
  const namespace = await testNamespace(t, kc, prefix);
  await applyYaml(kc, TEST_PLUGIN.namespacedFiles, namespace);
  return namespace;
}

/** One of the example streams (tests/fixtures/plugin/streams.yaml), with spec fields changed, created in `namespace`. */
async function createStream(
  namespace: string,
  example: string,
  change: (spec: JsonObject) => void = () => {},
): Promise<{ key: StreamKey; stored: StoredStream }> {
  const object = structuredClone(
    loadYaml(TEST_PLUGIN.streamsFile).find((item) => item.metadata?.name === example),
  ) as StoredStream;
  change(object.spec);
  const [stored] = (await applyObjects(kc, [object], namespace)) as StoredStream[];
  assert.ok(stored);
  return { key: { streamClass: CLASSES[object.kind ?? ''] ?? '', namespace, name: example }, stored };
}

function streamApi(key: StreamKey) {
  const kind = key.streamClass === 'mock-stream' ? 'MockStream' : 'MockStreamV2';
  const api = kc.makeApiClient(CustomObjectsApi);
  const location = {
    group: PLUGIN_GROUP,
    version: PLUGIN_VERSION,
    plural: PLURALS[kind] ?? '',
    namespace: key.namespace,
    name: key.name,
  };
  return {
    get: async () => (await api.getNamespacedCustomObject(location)) as StoredStream & { status?: JsonObject },
    patch: (body: object) => api.patchNamespacedCustomObject({ ...location, body }, mergePatch),
    delete: () => api.deleteNamespacedCustomObject(location),
  };
}

async function jobsIn(namespace: string): Promise<V1Job[]> {
  return (await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace })).items;
}

async function requestsIn(namespace: string) {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: ARCANE_GROUP,
    version: ARCANE_VERSION,
    namespace,
    plural: BACKFILL_REQUESTS.plural,
  })) as { items: { metadata: { name: string; resourceVersion: string }; spec: JsonObject }[] };
  return list.items;
}

async function createRequest(namespace: string, name: string, spec: JsonObject) {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: ARCANE_GROUP,
    version: ARCANE_VERSION,
    namespace,
    plural: BACKFILL_REQUESTS.plural,
    body: { apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`, kind: 'BackfillRequest', metadata: { name }, spec },
  });
}

/** Runs the activity as Temporal would: retryable failures are retried, anything else ends the attempt. */
async function retried<T>(work: () => Promise<T>): Promise<T> {
  const outcome = await waitFor('the activity to succeed', async () => {
    try {
      return { value: await work() };
    } catch (error) {
      if (error instanceof ApplicationFailure && !error.nonRetryable) return undefined;
      return { error };
    }
  });
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

/** The stream's initial backfill Job, run to completion; its uid. */
async function completedBackfillJob(key: StreamKey) {
  const { initialBackfillName: request } = await activities.observeStream(key);
  await activities.createBackfillRequest(key, { type: 'createBackfillRequest', name: request, initial: true });
  const { uid } = applied(await activities.applyBackfillJob(key, { type: 'applyBackfillJob', request }));
  await waitFor(
    'the backfill Job to complete',
    async () => (await activities.observeStream(key)).job?.state === 'complete',
  );
  return uid;
}

/** A stream's completed backfill Job whose deletion in the foreground would wait for what it owns. */
async function heldCompletedJob(t: TestContext, prefix: string) {
  const namespace = await pluginNamespace(t, prefix);
  const { key } = await createStream(namespace, 'mock-v0');
  const uid = await completedBackfillJob(key);
  await holdForegroundDeletion(t, kc, { namespace, name: 'mock-v0', uid });
  return { namespace, key, uid, batch: kc.makeApiClient(BatchV1Api) };
}

function applied(result: unknown): { uid: string; created: boolean } {
  assert.ok(typeof result === 'object' && result !== null && 'uid' in result, `applied, not ${JSON.stringify(result)}`);
  return result as { uid: string; created: boolean };
}

describe('observeStream', () => {
  test('a new stream is observed with its hash, templates and initial backfill name', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-new');
    const { key, stored } = await createStream(namespace, 'mock-v0');
    const { versions, ...observation } = await activities.observeStream(key);
    // The version of each object it read: the stream as created (nothing has written it since), class and templates.
    assert.equal(versions?.stream, stored.metadata.resourceVersion);
    assert.deepEqual(Object.keys(versions ?? {}).sort(), [
      'stream',
      'streamClass',
      `template/${namespace}/mock-backfill-job`,
      `template/${namespace}/mock-streaming-job`,
    ]);
    assert.deepEqual(observation, {
      kind: { group: PLUGIN_GROUP, kind: 'MockStream', plural: 'mockstreams' },
      stream: {
        uid: stored.metadata.uid,
        generation: 1,
        deleting: false,
        pinTemplate: false,
        status: { phase: '' },
        spec: { valid: true, suspended: false, backend: 'job', configurationHash: configurationHash(stored.spec) },
      },
      templates: {
        streaming: { ref: `${namespace}/mock-streaming-job`, found: true, generation: 1 },
        backfill: { ref: `${namespace}/mock-backfill-job`, found: true, generation: 1 },
      },
      backfillRequests: [],
      initialBackfillName: initialBackfillRequestName({ name: 'mock-v0', uid: stored.metadata.uid }),
    });
  });

  test('a v2 stream with a secretRef is valid, and its observation carries no spec content or secret', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-v2');
    const { key, stored } = await createStream(namespace, 'mock-v2-job');
    const observation = await activities.observeStream(key);
    assert.deepEqual(observation.stream?.spec, {
      valid: true,
      suspended: false,
      backend: 'job',
      configurationHash: configurationHash(stored.spec),
    });
    const text = JSON.stringify(observation);
    for (const secretish of ['mock-connection', 'not-a-secret', 'mock://source/invoices']) {
      assert.ok(!text.includes(secretish), `the observation mentions ${secretish}`);
    }
  });

  test('a missing template is observed as not found', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-no-template');
    const { key } = await createStream(namespace, 'mock-v0', (spec) => {
      spec.jobTemplateRef = { name: 'no-such-template' };
    });
    const observation = await activities.observeStream(key);
    assert.deepEqual(observation.templates.streaming, { ref: `${namespace}/no-such-template`, found: false });
    assert.equal(observation.stream?.spec.valid, true);
  });

  test('an invalid spec is observed invalid, naming the field', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-invalid');
    const { key } = await createStream(namespace, 'mock-v2-job', (spec) => {
      (spec.execution as JsonObject).layoutVersion = 'v9';
    });
    const spec = (await activities.observeStream(key)).stream?.spec;
    assert.ok(spec && !spec.valid);
    assert.equal(spec.reason, 'InvalidSpec');
    assert.equal(spec.field, 'spec.execution.layoutVersion');
    assert.match(spec.message, /^spec\.execution\.layoutVersion must be one of "", "v1", "v2", not this string/);
  });

  test('a completed backfill Job is observed complete, with its request', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-backfill');
    const { key } = await createStream(namespace, 'mock-v0');
    const { initialBackfillName } = await activities.observeStream(key);
    await activities.createBackfillRequest(key, {
      type: 'createBackfillRequest',
      name: initialBackfillName,
      initial: true,
    });
    const { uid } = applied(
      await activities.applyBackfillJob(key, { type: 'applyBackfillJob', request: initialBackfillName }),
    );
    const observation = await waitFor('the backfill Job to complete', async () => {
      const seen = await activities.observeStream(key);
      return seen.job?.state === 'complete' && seen;
    });
    const job = observation.job;
    assert.ok(job);
    assert.equal(job.uid, uid);
    assert.equal(job.backfilling, true);
    assert.equal(job.backfillId, initialBackfillName);
    assert.equal(job.configurationHash, observation.stream?.spec.valid && observation.stream.spec.configurationHash);
    assert.equal(job.templateGeneration, 1);
    assert.equal(job.labelled, true);
    assert.equal(job.terminating, false);
    assert.ok(job.startTime !== undefined && job.finishTime !== undefined && job.finishTime >= job.startTime);
    assert.deepEqual(
      observation.backfillRequests.map((request) => [request.name, request.completed]),
      [[initialBackfillName, false]],
    );
  });

  test('a failed Job is observed failed with the reason', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-failed');
    const { key } = await createStream(namespace, 'mock-v0', (spec) => {
      spec.jobTemplateRef = { name: 'mock-failing-job' };
    });
    await activities.applyStreamingJob(key, { type: 'applyStreamingJob' });
    const job = await waitFor('the Job to fail', async () => {
      const seen = (await activities.observeStream(key)).job;
      return seen?.state === 'failed' && seen;
    });
    assert.equal(job.backfilling, false);
    assert.equal(job.backfillId, undefined);
    assert.match(job.failureMessage ?? '', /BackoffLimitExceeded/);
    assert.ok(job.finishTime !== undefined);
  });

  test('requests of another class or stream, and completed ones but the initial, are left out', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-requests');
    const { key } = await createStream(namespace, 'mock-v0');
    await createRequest(namespace, 'ours', { streamClass: 'mock-stream', streamId: 'mock-v0' });
    await createRequest(namespace, 'other-class', { streamClass: 'mock-stream-v2', streamId: 'mock-v0' });
    await createRequest(namespace, 'other-stream', { streamClass: 'mock-stream', streamId: 'mock-v2-job' });
    await createRequest(namespace, 'ours-done', { streamClass: 'mock-stream', streamId: 'mock-v0', completed: true });
    const { initialBackfillName } = await activities.observeStream(key);
    const initial = { streamClass: 'mock-stream', streamId: 'mock-v0', completed: true };
    await createRequest(namespace, initialBackfillName, initial);
    const observation = await activities.observeStream(key);
    assert.deepEqual(observation.backfillRequests.map((request) => [request.name, request.completed]).sort(), [
      [initialBackfillName, true],
      ['ours', false],
    ]);
    assert.ok(observation.backfillRequests.every((request) => request.createdAt > Date.now() - 600_000));
  });

  test('a deleted stream is observed absent', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-deleted');
    const { key } = await createStream(namespace, 'mock-v0');
    await streamApi(key).delete();
    const observation = await activities.observeStream(key);
    assert.equal(observation.stream, undefined);
    assert.equal(observation.detached, undefined);
    assert.deepEqual(observation.kind, { group: PLUGIN_GROUP, kind: 'MockStream', plural: 'mockstreams' });
  });

  test('a stream whose StreamClass is missing is detached', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-detached');
    const { key } = await createStream(namespace, 'mock-v0');
    const { uid } = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    const observation = await activities.observeStream({ streamClass: 'no-such-class', namespace, name: 'mock-v0' });
    assert.equal(observation.detached, 'StreamClass no-such-class no longer exists');
    assert.equal(observation.stream, undefined);
    // The Job is read all the same: the lifecycle releases it from the operator's finalizer before it lets go.
    assert.equal(observation.job?.uid, uid);
    assert.equal(observation.job?.held, true);
  });

  test('a stream whose kind the API server does not serve is detached, not absent', async (t) => {
    const namespace = await pluginNamespace(t, 'observe-unserved');
    const { key } = await createStream(namespace, 'mock-v0');
    const { uid } = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    const streamClass = await createStreamClass(t, kc, 'unserved', { apiVersion: 'v9' });
    const observation = await activities.observeStream({ ...key, streamClass });
    assert.equal(observation.stream, undefined);
    const why =
      `the API server does not serve mockstreams.${PLUGIN_GROUP}/v9 (kind MockStream, named by StreamClass ` +
      `${streamClass}): its CRD or that version is gone`;
    assert.equal(observation.detached, why);
    assert.equal(observation.job?.uid, uid);
    // An action on it does nothing and says why (the Job stays); an update fails with the same words.
    const replace = { type: 'applyStreamingJob', replaces: uid } as const;
    const skipped = await activities.applyStreamingJob({ ...key, streamClass }, replace);
    assert.deepEqual(skipped, { skipped: { reason: 'KindNotServed', message: why } });
    assert.deepEqual(
      (await jobsIn(namespace)).map((job) => job.metadata?.uid),
      [uid],
    );
    await assert.rejects(activities.setSuspended({ ...key, streamClass }, true), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.deepEqual([error.type, error.nonRetryable], ['KindNotServed', true]);
      assert.match(error.message, /does not serve mockstreams\.streaming\.sneaksanddata\.com\/v9/);
      return true;
    });
  });
});

describe('Jobs and CronJobs', () => {
  test('applyStreamingJob twice creates one Job, built per the Job contract', async (t) => {
    const namespace = await pluginNamespace(t, 'apply-job');
    const { key, stored } = await createStream(namespace, 'mock-v2-job');
    const first = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    const second = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    assert.deepEqual([first.created, second.created, second.uid], [true, false, first.uid]);
    const jobs = await jobsIn(namespace);
    assert.equal(jobs.length, 1);
    const [job] = jobs;
    assert.equal(job?.metadata?.uid, first.uid);
    assert.equal(job?.metadata?.labels?.['arcane/stream-id'], 'mock-v2-job');
    assert.equal(job?.metadata?.labels?.['arcane/backfilling'], 'false');
    assert.equal(job?.metadata?.annotations?.['configuration-hash'], configurationHash(stored.spec));
    assert.equal(job?.metadata?.ownerReferences?.[0]?.uid, stored.metadata.uid);
    assert.equal(job?.spec?.template.spec?.containers[0]?.envFrom?.at(-1)?.secretRef?.name, 'mock-connection');
  });

  test('a Job is replaced only when it is the one named, and a stale delete leaves the newer Job', async (t) => {
    const namespace = await pluginNamespace(t, 'replace-job');
    const { key } = await createStream(namespace, 'mock-v0');
    const old = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    await streamApi(key).patch({ spec: { settings: { batchSize: 100 } } });
    const changed = await streamApi(key).get();
    const replace = { type: 'applyStreamingJob', replaces: old.uid } as const;
    const replaced = applied(await retried(() => activities.applyStreamingJob(key, replace)));
    assert.notEqual(replaced.uid, old.uid);
    const again = applied(await retried(() => activities.applyStreamingJob(key, replace)));
    assert.deepEqual(again, { uid: replaced.uid, created: false });
    const jobs = await jobsIn(namespace);
    assert.deepEqual(
      jobs.map((job) => [job.metadata?.uid, job.metadata?.annotations?.['configuration-hash']]),
      [[replaced.uid, configurationHash(changed.spec)]],
    );

    assert.deepEqual(await activities.deleteJob(key, { type: 'deleteJob', uid: old.uid }), { deleted: false });
    assert.equal((await activities.observeStream(key)).job?.uid, replaced.uid);
    await activities.deleteJob(key, { type: 'deleteJob', uid: replaced.uid });
    await activities.deleteJob(key, { type: 'deleteJob', uid: replaced.uid });
    await waitFor('the Job to be gone', async () => (await jobsIn(namespace)).length === 0);
  });

  test('an invalid template fails applyStreamingJob without retries, as InvalidTemplate', async (t) => {
    const namespace = await pluginNamespace(t, 'invalid-template');
    const [template] = loadYaml(TEST_PLUGIN.namespacedFiles[0]) as (KubernetesObject & { spec: JsonObject })[];
    assert.ok(template);
    const broken = structuredClone(template);
    broken.metadata = { name: 'sets-stream-id' };
    const spec = broken.spec.spec as { template: { spec: { containers: { env: JsonObject[] }[] } } };
    spec.template.spec.containers[0]?.env.push({ name: 'STREAMCONTEXT__STREAM_ID', value: 'mine' });
    await applyObjects(kc, [broken], namespace);
    const { key } = await createStream(namespace, 'mock-v0', (streamSpec) => {
      streamSpec.jobTemplateRef = { name: 'sets-stream-id' };
    });
    await assert.rejects(activities.applyStreamingJob(key, { type: 'applyStreamingJob' }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'InvalidTemplate');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /sets STREAMCONTEXT__STREAM_ID/);
      return true;
    });
    assert.equal((await jobsIn(namespace)).length, 0);
    // The spec itself is fine: the problem is reported on the template, and fails only what must be built from it.
    const observed = await activities.observeStream(key);
    assert.equal(observed.stream?.spec.valid, true);
    assert.match(observed.templates.streaming?.problem ?? '', /^spec\.spec\.template\.spec\.containers\[0\]\.env\[1\]/);
  });

  test('applyBackfillJob twice runs one backfill Job for the request', async (t) => {
    const namespace = await pluginNamespace(t, 'apply-backfill');
    const { key } = await createStream(namespace, 'mock-v2-job');
    await createRequest(namespace, 'rerun', {
      streamClass: 'mock-stream-v2',
      streamId: 'mock-v2-job',
      payload: { a: 1 },
    });
    const action = { type: 'applyBackfillJob', request: 'rerun' } as const;
    const first = applied(await activities.applyBackfillJob(key, action));
    const second = applied(await activities.applyBackfillJob(key, action));
    assert.equal(second.uid, first.uid);
    const jobs = await jobsIn(namespace);
    assert.equal(jobs.length, 1);
    const env = jobs[0]?.spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((variable) => variable.name === 'STREAMCONTEXT__BACKFILL_ID')?.value, 'rerun');
    assert.deepEqual(await activities.applyBackfillJob(key, { type: 'applyBackfillJob', request: 'gone' }), {
      uid: first.uid,
      created: false,
    });
  });

  test('a decision acted on late starts nothing: no backfill for a completed request, no Job for a suspended stream', async (t) => {
    const namespace = await pluginNamespace(t, 'late-decisions');
    const { key } = await createStream(namespace, 'mock-v2-job');
    await createRequest(namespace, 'done', { streamClass: 'mock-stream-v2', streamId: 'mock-v2-job', completed: true });
    const backfill = await activities.applyBackfillJob(key, { type: 'applyBackfillJob', request: 'done' });
    assert.deepEqual(backfill, {
      skipped: { reason: 'BackfillRequestClosed', message: `BackfillRequest ${namespace}/done is closed` },
    });
    await activities.setSuspended(key, true);
    const streaming = await activities.applyStreamingJob(key, { type: 'applyStreamingJob' });
    assert.equal((streaming as { skipped?: { reason: string } }).skipped?.reason, 'StreamSuspended');
    assert.equal((await jobsIn(namespace)).length, 0);
  });

  test('applyCronJob twice creates one CronJob; deleteCronJob twice removes it', async (t) => {
    const namespace = await pluginNamespace(t, 'apply-cron');
    const { key } = await createStream(namespace, 'mock-v2-cron');
    const first = applied(await activities.applyCronJob(key, { type: 'applyCronJob' }));
    const second = applied(await activities.applyCronJob(key, { type: 'applyCronJob' }));
    assert.equal(second.uid, first.uid);
    const batch = kc.makeApiClient(BatchV1Api);
    const cronJobs = (await batch.listNamespacedCronJob({ namespace })).items;
    assert.deepEqual(
      cronJobs.map((cronJob) => [cronJob.metadata?.uid, cronJob.spec?.concurrencyPolicy, cronJob.spec?.schedule]),
      [[first.uid, 'Forbid', '*/5 * * * *']],
    );
    assert.deepEqual((await activities.observeStream(key)).cronJob, {
      uid: first.uid,
      configurationHash: cronJobs[0]?.metadata?.annotations?.['configuration-hash'],
      templateGeneration: 1,
      terminating: false,
      labelled: true,
    });
    await activities.deleteCronJob(key, { type: 'deleteCronJob', uid: first.uid });
    await activities.deleteCronJob(key, { type: 'deleteCronJob', uid: first.uid });
    await waitFor(
      'the CronJob to be gone',
      async () => (await batch.listNamespacedCronJob({ namespace })).items.length === 0,
    );
  });

  test('adopting a Job created elsewhere adds only our labels, once', async (t) => {
    const namespace = await pluginNamespace(t, 'adopt-job');
    const { key } = await createStream(namespace, 'mock-v0');
    const batch = kc.makeApiClient(BatchV1Api);
    const upstream = await batch.createNamespacedJob({
      namespace,
      body: {
        metadata: { name: 'mock-v0', labels: { team: 'data' }, annotations: { 'configuration-hash': 'abc' } },
        spec: {
          template: {
            metadata: { labels: { 'arcane/backfilling': 'false' } },
            spec: {
              restartPolicy: 'Never',
              tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
              containers: [
                { name: 'stream', image: 'busybox', env: [{ name: 'STREAMCONTEXT__BACKFILL', value: 'false' }] },
              ],
            },
          },
        },
      },
    });
    const uid = upstream.metadata?.uid ?? '';
    assert.equal((await activities.observeStream(key)).job?.labelled, false);
    await activities.adoptJob(key, { type: 'adoptJob', uid });
    const adopted = await batch.readNamespacedJob({ name: 'mock-v0', namespace });
    await activities.adoptJob(key, { type: 'adoptJob', uid });
    const again = await batch.readNamespacedJob({ name: 'mock-v0', namespace });
    assert.equal(again.metadata?.resourceVersion, adopted.metadata?.resourceVersion);
    assert.deepEqual(again.metadata?.labels, {
      ...upstream.metadata?.labels,
      'arcane/stream-id': 'mock-v0',
      'arcane/stream-kind': 'MockStream',
      'arcane/backfilling': 'false',
    });
    assert.deepEqual(again.metadata?.annotations, upstream.metadata?.annotations);
    assert.deepEqual(again.spec, upstream.spec);
    // Adopted Jobs are held by the outcome finalizer too, so their outcome survives a TTL.
    assert.deepEqual(again.metadata?.finalizers, [OUTCOME_FINALIZER]);
    const observed = (await activities.observeStream(key)).job;
    assert.deepEqual([observed?.uid, observed?.labelled, observed?.configurationHash], [uid, true, 'abc']);
    assert.equal(observed?.held, true);
    assert.equal(observed?.templateGeneration, undefined);
  });

  test('a Job the operator creates stays readable after it is deleted, until it is released', async (t) => {
    const namespace = await pluginNamespace(t, 'outcome-finalizer');
    const { key } = await createStream(namespace, 'mock-v0');
    const batch = kc.makeApiClient(BatchV1Api);
    const { uid } = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    const job = await batch.readNamespacedJob({ name: 'mock-v0', namespace });
    assert.deepEqual(job.metadata?.finalizers, [OUTCOME_FINALIZER]);
    // What a TTL does: delete the Job. The finalizer keeps it, terminating, with its status.
    await batch.deleteNamespacedJob({ name: 'mock-v0', namespace, propagationPolicy: 'Background' });
    const deleted = (await activities.observeStream(key)).job;
    assert.deepEqual([deleted?.uid, deleted?.terminating, deleted?.held], [uid, true, true]);
    // A release naming another uid leaves it alone; the right one lets it go.
    assert.deepEqual(await activities.releaseJob(key, { type: 'releaseJob', uid: 'another-uid' }), { released: false });
    assert.equal((await activities.observeStream(key)).job?.held, true);
    assert.deepEqual(await activities.releaseJob(key, { type: 'releaseJob', uid }), { released: true });
    await waitFor('the released Job to be gone', async () => (await jobsIn(namespace)).length === 0);
    assert.deepEqual(await activities.releaseJob(key, { type: 'releaseJob', uid }), { released: false });
  });

  test('a completed Job that deleteJob removes is gone when it returns; its pods are left to the collector', async (t) => {
    const namespace = await pluginNamespace(t, 'delete-completed');
    const { key } = await createStream(namespace, 'mock-v0');
    const uid = await completedBackfillJob(key);
    assert.deepEqual(await activities.deleteJob(key, { type: 'deleteJob', uid, completed: true }), { deleted: true });
    // No wait: the Job went with the release of its finalizer, not after its pod, so the Job after it can start now.
    assert.deepEqual(await jobsIn(namespace), []);
    assert.equal((await activities.observeStream(key)).job, undefined);
  });

  test('releaseJob lets a completed Job its TTL deleted go at once, not after what it owns', async (t) => {
    const { namespace, key, uid, batch } = await heldCompletedJob(t, 'release-after-ttl');
    await batch.deleteNamespacedJob({ name: 'mock-v0', namespace, propagationPolicy: 'Foreground' });
    const deleted = (await activities.observeStream(key)).job;
    assert.deepEqual([deleted?.terminating, deleted?.held, deleted?.state], [true, true, 'complete']);
    assert.deepEqual(await activities.releaseJob(key, { type: 'releaseJob', uid, completed: true }), {
      released: true,
    });
    assert.deepEqual(await jobsIn(namespace), []);
  });

  test('a completed Job its TTL deletes in the foreground between our deletion and the release still goes at once', async (t) => {
    const { namespace, key, uid, batch } = await heldCompletedJob(t, 'delete-ttl-race');
    // What the TTL controller may do at any moment: delete the finished Job in the foreground. Here it lands right
    // after the activity's own deletion, before the release of our finalizer.
    const kube = createKubernetesApi(kc, kubernetesApiCalls(new Registry()));
    let ttlDeleted = false;
    const racing: KubernetesApi = {
      ...kube,
      async call(call, send) {
        const result = await kube.call(call, send);
        if (call.verb === 'delete' && !ttlDeleted) {
          ttlDeleted = true;
          await batch.deleteNamespacedJob({ name: 'mock-v0', namespace, propagationPolicy: 'Foreground' });
        }
        return result;
      },
    };
    const context = { kube: racing, log: pino({ level: 'silent' }), occurrence: '' };
    assert.deepEqual(await deleteJob(context, key, { type: 'deleteJob', uid, completed: true }), { deleted: true });
    assert.ok(ttlDeleted, 'the foreground deletion came in between');
    // Not left waiting for what it owns: the Job after it can start now.
    assert.deepEqual(await jobsIn(namespace), []);
  });

  test('releaseJob of a Job not completed leaves it, deleted in the foreground, to go after what it owns', async (t) => {
    const namespace = await pluginNamespace(t, 'release-active-after-ttl');
    const { key } = await createStream(namespace, 'mock-v0');
    const { uid } = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    await holdForegroundDeletion(t, kc, { namespace, name: 'mock-v0', uid });
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.deleteNamespacedJob({ name: 'mock-v0', namespace, propagationPolicy: 'Foreground' });
    assert.deepEqual(await activities.releaseJob(key, { type: 'releaseJob', uid }), { released: true });
    const [left] = await jobsIn(namespace);
    assert.deepEqual([left?.metadata?.uid, left?.metadata?.finalizers], [uid, ['foregroundDeletion']]);
  });

  test('deleteJob releases the Job it deletes, so nothing is left terminating', async (t) => {
    const namespace = await pluginNamespace(t, 'delete-releases');
    const { key } = await createStream(namespace, 'mock-v0');
    const { uid } = applied(await activities.applyStreamingJob(key, { type: 'applyStreamingJob' }));
    await activities.deleteJob(key, { type: 'deleteJob', uid });
    await waitFor('the deleted Job to be gone', async () => (await jobsIn(namespace)).length === 0);
  });
});

describe('BackfillRequests', () => {
  test('refuseBackfillRequest marks the request Failed with the reason, not completed, and observation passes it over', async (t) => {
    const namespace = await pluginNamespace(t, 'refuse-request');
    const { key } = await createStream(namespace, 'mock-v0');
    await createRequest(namespace, 'cannot-run', { streamClass: 'mock-stream', streamId: 'mock-v0' });
    const message = 'the stream cannot backfill';
    const refusal = {
      type: 'refuseBackfillRequest',
      name: 'cannot-run',
      reason: 'BackfillNotSupported',
      message,
    } as const;
    await activities.refuseBackfillRequest(key, refusal);
    const [request] = (await requestsIn(namespace)) as {
      spec: { completed?: boolean };
      status?: { phase?: string; conditions?: { reason?: string; message?: string }[] };
    }[];
    assert.equal(request?.spec.completed ?? false, false);
    assert.equal(request?.status?.phase, 'Failed');
    assert.deepEqual(
      request.status.conditions?.map((c) => [c.reason, c.message]),
      [['BackfillNotSupported', message]],
    );
    const observed = await activities.observeStream(key);
    assert.equal(
      observed.backfillRequests.some((r) => r.name === 'cannot-run'),
      false,
    );
  });

  test('createBackfillRequest twice leaves exactly one request', async (t) => {
    const namespace = await pluginNamespace(t, 'create-request');
    const { key } = await createStream(namespace, 'mock-v0');
    const action = { type: 'createBackfillRequest', name: 'mock-v0-initial-backfill-1', initial: true } as const;
    assert.deepEqual(await activities.createBackfillRequest(key, action), { created: true });
    assert.deepEqual(await activities.createBackfillRequest(key, action), { created: false });
    const requests = await requestsIn(namespace);
    assert.deepEqual(
      requests.map((request) => [request.metadata.name, request.spec]),
      [['mock-v0-initial-backfill-1', { streamClass: 'mock-stream', streamId: 'mock-v0', completed: false }]],
    );
  });

  test('completeBackfillRequest twice completes it once', async (t) => {
    const namespace = await pluginNamespace(t, 'complete-request');
    const { key } = await createStream(namespace, 'mock-v0');
    await createRequest(namespace, 'rerun', { streamClass: 'mock-stream', streamId: 'mock-v0' });
    await activities.completeBackfillRequest(key, { type: 'completeBackfillRequest', name: 'rerun' });
    const [completed] = await requestsIn(namespace);
    await activities.completeBackfillRequest(key, { type: 'completeBackfillRequest', name: 'rerun' });
    const [again] = await requestsIn(namespace);
    assert.equal(again?.spec.completed, true);
    assert.equal(again?.metadata.resourceVersion, completed?.metadata.resourceVersion);
  });

  test('requestBackfill twice returns the same request and leaves exactly one', async (t) => {
    const namespace = await pluginNamespace(t, 'request-backfill');
    const { key } = await createStream(namespace, 'mock-v2-job');
    const input = { name: 'mock-v2-job-backfill-1', payload: { from: '2024-01-01' } };
    assert.deepEqual(await activities.requestBackfill(key, input), { name: input.name, created: true });
    assert.deepEqual(await activities.requestBackfill(key, input), { name: input.name, created: true });
    assert.deepEqual(await activities.requestBackfill(key, { name: 'another' }), { name: input.name, created: false });
    const requests = await requestsIn(namespace);
    assert.deepEqual(
      requests.map((request) => [request.metadata.name, request.spec.payload]),
      [[input.name, { from: '2024-01-01' }]],
    );
  });
});

describe('the stream object', () => {
  const running = {
    type: 'writeStatus',
    phase: 'Running',
    configurationHash: 'abc',
    conditionType: 'Ready',
    reason: 'StreamRunning',
    message: 'the streaming Job is running',
    observedGeneration: 1,
  } as const;

  test('writeStatus writes phase, hash and one condition, and an unchanged status not at all', async (t) => {
    const namespace = await pluginNamespace(t, 'write-status');
    const { key } = await createStream(namespace, 'mock-v0');
    assert.deepEqual(await activities.writeStatus(key, running), { written: true });
    const first = await streamApi(key).get();
    assert.deepEqual(await activities.writeStatus(key, running), { written: false });
    const second = await streamApi(key).get();
    assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
    const conditions = first.status?.conditions as JsonObject[];
    assert.deepEqual(
      { ...first.status, conditions: conditions.map(({ lastTransitionTime: _time, ...rest }) => rest) },
      {
        phase: 'Running',
        configurationHash: 'abc',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'StreamRunning',
            message: 'the streaming Job is running',
            observedGeneration: 1,
          },
        ],
      },
    );
    assert.deepEqual((await activities.observeStream(key)).stream?.status, {
      phase: 'Running',
      configurationHash: 'abc',
      condition: {
        type: 'Ready',
        reason: 'StreamRunning',
        message: 'the streaming Job is running',
        observedGeneration: 1,
      },
    });
    await activities.writeStatus(key, { ...running, phase: 'Failed', conditionType: 'Error', reason: 'StreamFailed' });
    const failed = (await streamApi(key).get()).status?.conditions as JsonObject[];
    assert.deepEqual(
      failed.map((condition) => condition.type),
      ['Error'],
    );
  });

  test('setSuspended on a v0 stream changes spec.suspended and nothing else', async (t) => {
    const namespace = await pluginNamespace(t, 'suspend-v0');
    const { key, stored } = await createStream(namespace, 'mock-v0');
    assert.deepEqual(await activities.setSuspended(key, true), { changed: true });
    const suspended = await streamApi(key).get();
    assert.deepEqual(await activities.setSuspended(key, true), { changed: false });
    const again = await streamApi(key).get();
    assert.equal(again.metadata.resourceVersion, suspended.metadata.resourceVersion);
    assert.equal(JSON.stringify(again.spec), JSON.stringify({ ...stored.spec, suspended: true }));
    assert.deepEqual(again.metadata.labels, stored.metadata.labels);
    assert.deepEqual(again.metadata.annotations, stored.metadata.annotations);
  });

  test('setSuspended on a v2 stream changes spec.execution.suspended and adds no key', async (t) => {
    const namespace = await pluginNamespace(t, 'suspend-v2');
    const { key, stored } = await createStream(namespace, 'mock-v2-job');
    await activities.setSuspended(key, true);
    await activities.setSuspended(key, true);
    const spec = (await streamApi(key).get()).spec;
    const execution = stored.spec.execution as JsonObject;
    assert.deepEqual(Object.keys(spec.execution as JsonObject), Object.keys(execution));
    assert.equal(
      JSON.stringify(spec),
      JSON.stringify({ ...stored.spec, execution: { ...execution, suspended: true } }),
    );
    await activities.setSuspended(key, false);
    assert.equal(JSON.stringify((await streamApi(key).get()).spec), JSON.stringify(stored.spec));
  });

  test('recordEvent twice records one Event on the stream', async (t) => {
    const namespace = await pluginNamespace(t, 'record-event');
    const { key, stored } = await createStream(namespace, 'mock-v0');
    const action = {
      type: 'recordEvent',
      eventType: 'Normal',
      reason: 'StreamCreated',
      message: 'new stream; requested the initial backfill',
    } as const;
    await activities.recordEvent(key, action);
    await activities.recordEvent(key, action);
    const events = (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items.filter(
      (event) => event.involvedObject.name === 'mock-v0',
    );
    assert.equal(events.length, 1);
    const [event] = events;
    assert.deepEqual(
      [event?.type, event?.reason, event?.message, event?.count, event?.source?.component, event?.reportingComponent],
      ['Normal', 'StreamCreated', action.message, 1, 'arcane-operator', 'arcane-operator'],
    );
    assert.deepEqual(
      [event?.involvedObject.kind, event?.involvedObject.uid, event?.involvedObject.apiVersion],
      ['MockStream', stored.metadata.uid, `${PLUGIN_GROUP}/${PLUGIN_VERSION}`],
    );
  });

  test('a recurring event counts each activity once, however often it is retried', async (t) => {
    const namespace = await pluginNamespace(t, 'recurring-event');
    const { key } = await createStream(namespace, 'mock-v0');
    const action = {
      type: 'recordEvent',
      eventType: 'Warning',
      reason: 'StreamingJobFailed',
      message: 'exit 1',
    } as const;
    // An attempt of activity `activityId`: retries share the id, a later recording of the same note has another.
    const attempt = async (activityId: string) => {
      const env = new MockActivityEnvironment({ activityId });
      const result: unknown = await env.run(activities.recordEvent, key, action);
      return (result as { count: number }).count;
    };
    assert.deepEqual([await attempt('7'), await attempt('7'), await attempt('9'), await attempt('9')], [1, 1, 2, 2]);
  });
});

describe('failures', () => {
  test('missing RBAC is logged with the verb and resource, and retried', async (t) => {
    const namespace = await pluginNamespace(t, 'forbidden');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'powerless' } } });
    const token = await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'powerless',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = kc.getCurrentCluster();
    assert.ok(cluster && token.status?.token);
    const powerless = new KubeConfig();
    powerless.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'powerless', token: token.status.token }],
      contexts: [{ name: 'powerless', cluster: cluster.name, user: 'powerless' }],
      currentContext: 'powerless',
    });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const forbidden = createActivities({ kubeConfig: powerless, logger, registry: new Registry() });
    await assert.rejects(
      forbidden.observeStream({ streamClass: 'mock-stream', namespace, name: 'mock-v0' }),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.deepEqual([error.type, error.nonRetryable], ['Forbidden', false]);
        return true;
      },
    );
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.ok(
      messages.includes(
        'forbidden: cannot get streamclasses.streaming.sneaksanddata.com cluster-wide: ' +
          'grant the operator\'s ServiceAccount "get" on "streamclasses"',
      ),
      messages.join('\n'),
    );
  });

  test('an API server that does not answer is retried', async () => {
    const cluster = kc.getCurrentCluster();
    assert.ok(cluster);
    const unreachable = new KubeConfig();
    unreachable.loadFromOptions({
      clusters: [{ ...cluster, server: 'https://127.0.0.1:1' }],
      users: [{ name: 'nobody', token: 'none' }],
      contexts: [{ name: 'nowhere', cluster: cluster.name, user: 'nobody' }],
      currentContext: 'nowhere',
    });
    const offline = createActivities({ kubeConfig: unreachable, logger: pino({ level: 'silent' }), registry });
    await assert.rejects(
      offline.setSuspended({ streamClass: 'mock-stream', namespace: 'x', name: 'y' }, true),
      (error) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.deepEqual([error.type, error.nonRetryable], ['Unreachable', false]);
        assert.match(error.message, /^get streamclasses\.streaming\.sneaksanddata\.com mock-stream: no response: /);
        return true;
      },
    );
  });

  test('a throttled call is retried after the Retry-After the API server asked for', () => {
    const status = { kind: 'Status', reason: 'TooManyRequests', message: 'too many requests, please try again later' };
    const throttled = new ApiException(429, 'Too Many Requests', JSON.stringify(status), { 'retry-after': '7' });
    const call = { verb: 'create', resource: 'jobs.batch', namespace: 'ns', name: 'orders' } as const;
    const failure = activityFailure(new KubernetesApiError(call, throttled), pino({ level: 'silent' }));
    assert.ok(failure instanceof ApplicationFailure);
    assert.deepEqual(
      [failure.type, failure.nonRetryable, failure.nextRetryDelay, failure.message],
      [
        'TooManyRequests',
        false,
        '7s',
        'create jobs.batch orders in namespace ns: 429 too many requests, please try again later',
      ],
    );
  });

  test('Kubernetes API calls are counted by verb, resource and code', async (t) => {
    const namespace = await pluginNamespace(t, 'metrics');
    await activities.observeStream({ streamClass: 'mock-stream', namespace, name: 'not-there' });
    const metric = await registry.getSingleMetric('arcane_kubernetes_api_calls_total')?.get();
    const count = (labels: Record<string, string>) =>
      metric?.values.find((value) => Object.entries(labels).every(([k, v]) => value.labels[k] === v))?.value ?? 0;
    assert.ok(count({ verb: 'get', resource: 'streamclasses.streaming.sneaksanddata.com', code: '2xx' }) >= 1);
    assert.ok(count({ verb: 'get', resource: 'mockstreams.streaming.sneaksanddata.com', code: '404' }) >= 1);
  });
});
