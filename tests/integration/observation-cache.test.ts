// The worker's observation cache against a real API server: an observation read from it is the one the API server
// gives, costs no API call, shows the activity's own writes and deletions, and is never older than what is required.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, BatchV1Api, CustomObjectsApi, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ClusterCache, type ClusterCacheOptions } from '../../activities/cluster-cache.ts';
import { createActivities, type StreamActivities } from '../../activities/index.ts';
import { cacheRestarts } from '../../activities/metrics.ts';
import { kubernetesApiCalls } from '../../kubernetes/api-calls.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../../resources/api-group.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import type { Action, Observation } from '../../workflows/lifecycle.ts';
import { atLeast, compareVersions } from '../../workflows/lifecycle/versions.ts';
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
import { MOCK_STREAMS, Streams, watchStreamVersions } from './watcher-harness.ts';

const silent = pino({ level: 'silent' });

let kc: KubeConfig;
let namespace: string;
let cache: ClusterCache;
let registry: Registry;
/** Observes through the cache. */
let cached: StreamActivities;
/** Observes through the API server only. */
let direct: StreamActivities;

before(async (t) => {
  kc = kubeConfig();
  await installTestPlugin(kc, 'default');
  namespace = await testNamespace(t as never, kc, 'observation-cache');
  await applyYaml(kc, TEST_PLUGIN.namespacedFiles, namespace);
  registry = new Registry();
  cache = new ClusterCache(cacheOptions(registry));
  cached = createActivities({ kubeConfig: kc, logger: silent, registry, cache });
  direct = createActivities({ kubeConfig: kc, logger: silent, registry: new Registry() });
});

function cacheOptions(registry: Registry): ClusterCacheOptions {
  return {
    kubeConfig: kc,
    log: silent,
    metrics: { apiCalls: kubernetesApiCalls(registry), informerRestarts: cacheRestarts(registry) },
    watchNamespace: namespace,
    catchUpMs: 2_000,
    watchdogMs: 300_000,
    listTimeoutMs: 60_000,
    restartBackoff: { initialMs: 200, maxMs: 2_000 },
  };
}

after(async () => {
  await cache.stop();
});

/** Reads (get and list) the cached activities sent to the API server so far. */
async function apiReads(): Promise<number> {
  const metric = await kubernetesApiCalls(registry).get();
  return metric.values
    .filter((value) => value.labels.verb === 'get' || value.labels.verb === 'list')
    .reduce((sum, value) => sum + value.value, 0);
}

/** The cached activities' calls on Jobs by verb so far; with `since`, those made after it. */
async function jobCalls(since: Record<string, number> = {}): Promise<Record<string, number>> {
  const metric = await kubernetesApiCalls(registry).get();
  const counts: Record<string, number> = {};
  for (const verb of ['create', 'patch', 'delete', 'get']) {
    const values = metric.values.filter((v) => v.labels.resource === 'jobs.batch' && v.labels.verb === verb);
    counts[verb] = values.reduce((sum, v) => sum + v.value, 0) - (since[verb] ?? 0);
  }
  return counts;
}

/** The observation through the cache and the API reads it cost. */
async function observeCached(key: StreamKey, required?: Record<string, string>) {
  const before = await apiReads();
  const observation = await cached.observeStream(key, required);
  return { observation, reads: (await apiReads()) - before };
}

async function createStream(name: string): Promise<StreamKey> {
  const example = structuredClone(
    loadYaml(TEST_PLUGIN.streamsFile).find((item) => item.metadata?.name === 'mock-v0'),
  ) as KubernetesObject & { spec: JsonObject };
  example.metadata = { name };
  await applyObjects(kc, [example], namespace);
  return { streamClass: 'mock-stream', namespace, name };
}

async function createRequest(name: string, streamId: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: ARCANE_GROUP,
    version: ARCANE_VERSION,
    namespace,
    plural: BACKFILL_REQUESTS.plural,
    body: {
      apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`,
      kind: 'BackfillRequest',
      metadata: { name },
      spec: { streamClass: 'mock-stream', streamId },
    },
  });
}

/** The actions that open the stream's initial BackfillRequest and start its backfill Job. */
function startBackfill(seen: Observation): Action[] {
  const name = seen.initialBackfillName;
  return [
    { type: 'createBackfillRequest', name, initial: true },
    { type: 'applyBackfillJob', request: name },
  ];
}

/** Waits until the cache answers the observation on its own, and returns it. */
async function settledCached(key: StreamKey, required?: Record<string, string>): Promise<Observation> {
  return waitFor('the cache to answer an observation without API reads', async () => {
    const { observation, reads } = await observeCached(key, required);
    return reads === 0 ? observation : undefined;
  });
}

describe('observation cache', () => {
  test('an observation from the cache is the one the API server gives, at no API read', async () => {
    const key = await createStream('cache-same');
    await createRequest('cache-same-extra', 'cache-same');
    const fromApi = await direct.observeStream(key);
    assert.equal(fromApi.backfillRequests.length, 1);
    assert.ok(fromApi.versions?.stream, 'the observation names the version of the stream it read');
    const fromCache = await settledCached(key, fromApi.versions);
    assert.deepEqual(fromCache, fromApi);
  });

  test('a required version the cache does not have yet sends the read to the API server', async () => {
    const key = await createStream('cache-behind');
    const fromApi = await direct.observeStream(key);
    await settledCached(key, fromApi.versions);
    // No watch will ever show this version: after the catch-up time the stream is read from the API server.
    const { observation, reads } = await observeCached(key, { ...fromApi.versions, stream: '999999999999' });
    assert.ok(reads >= 1, `the stream was read from the API server (${reads} reads)`);
    assert.deepEqual(observation, fromApi);
  });

  test('a cache that fell behind shows a deleted stream only to a read that does not require its deletion', async (t) => {
    const key = await createStream('cache-stale');
    // A cache of its own, stopped once it has the stream: it never sees what happens next, like a cache whose watch
    // is down while the watcher's is back.
    const registry = new Registry();
    const stale = new ClusterCache({ ...cacheOptions(registry), catchUpMs: 500 });
    t.after(() => stale.stop());
    const behind = createActivities({ kubeConfig: kc, logger: silent, registry, cache: stale });
    await behind.observeStream(key);
    const streams = `${MOCK_STREAMS.plural}.${MOCK_STREAMS.group}`;
    await waitFor('the stale cache to have the stream', async () => (await stale.get(streams, key)) ?? undefined);
    await stale.stop();
    const deletions = await watchStreamVersions(t, kc, MOCK_STREAMS, namespace, key.name);
    await new Streams(kc, namespace).delete(MOCK_STREAMS, key.name);
    const deletedAt = await deletions.of('DELETED');

    assert.ok((await behind.observeStream(key)).stream, 'the stale cache still shows the stream');
    const reads = async () => (await kubernetesApiCalls(registry).get()).values.filter((v) => v.labels.verb === 'get');
    const before = (await reads()).length;
    const observation = await behind.observeStream(key, { stream: deletedAt });
    assert.equal(observation.stream, undefined, 'a read that must show the deletion shows the stream gone');
    assert.ok((await reads()).length > before, 'it asked the API server');
  });

  test('the observation after an action shows what the action wrote, and a deletion', async () => {
    const key = await createStream('cache-act');
    const seen = await settledCached(key);
    const applied = await cached.act(key, startBackfill(seen), seen.versions);
    assert.ok(applied.observation.job, 'the Job the action created is observed');
    assert.equal(applied.observation.job.backfilling, true);
    const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: key.name, namespace });
    assert.equal(applied.observation.job.uid, job.metadata?.uid);
    // The Job controller may have written its status since; the observation is of the Job the action made, or newer.
    const version = applied.observation.versions?.job ?? '';
    assert.ok(atLeast(job.metadata?.resourceVersion, version), `Job version ${version} is no newer than the API's`);

    const deleted = await cached.act(
      key,
      [{ type: 'deleteJob', uid: applied.observation.job.uid }],
      applied.observation.versions,
    );
    // deleteJob releases the Job it deletes: the observation after it shows the Job terminating with nothing of ours
    // holding it, or already gone (its pod may have gone at once).
    const left = deleted.observation.job;
    assert.ok(left === undefined || (left.terminating && left.held !== true), JSON.stringify(left));
    // Once the Job is gone, the cache says so (its deletion is newer than every version seen).
    await waitFor('the cached observation to show no Job', async () => {
      const { observation } = await observeCached(key, deleted.observation.versions);
      return observation.job === undefined;
    });
  });

  test('a completed Job its TTL deleted in the foreground goes with one release and one delete, and is not read again', async (t) => {
    const key = await createStream('cache-ttl');
    const seen = await settledCached(key);
    const started = await cached.act(key, startBackfill(seen), seen.versions);
    const complete = await waitFor('the cache to show the backfill Job completed', async () => {
      const { observation } = await observeCached(key, started.observation.versions);
      return observation.job?.state === 'complete' ? observation : undefined;
    });
    // What the TTL controller does meanwhile: delete the finished Job in the foreground (its finalizer after ours),
    // which then waits for what the Job owns.
    const uid = complete.job?.uid ?? '';
    await holdForegroundDeletion(t, kc, { namespace, name: key.name, uid });
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.deleteNamespacedJob({ name: key.name, namespace, propagationPolicy: 'Foreground' });
    const before = await jobCalls();
    const deleted = await cached.act(key, [{ type: 'deleteJob', uid, completed: true }], complete.versions);
    assert.equal(deleted.observation.job, undefined);
    // The observation names a version of the Job newer than the live one it was deleted from (the deletion's), so a
    // cached read that must be at least that new can never show the Job as it was before.
    const goneAt = deleted.observation.versions?.job ?? '';
    assert.ok(compareVersions(goneAt, complete.versions?.job ?? '')! > 0, `${goneAt} after ${complete.versions?.job}`);
    await assert.rejects(batch.readNamespacedJob({ name: key.name, namespace }), (error: ApiException<unknown>) => {
      return error.code === 404;
    });
    // The release does not conflict with the TTL's deletion, and the deletion's answer says the Job is gone, so
    // nothing reads it again.
    assert.deepEqual(await jobCalls(before), { create: 0, patch: 1, delete: 1, get: 0 });
  });

  test('a Job replaced while its pods stop is created again when the cache sees the old one go, not polled for', async (t) => {
    const key = await createStream('cache-replace');
    await settledCached(key);
    const { uid } = (await cached.applyStreamingJob(key, { type: 'applyStreamingJob' })) as { uid: string };
    // Its deletion in the foreground waits for what the Job owns, as for a pod that takes its time to stop.
    const release = await holdForegroundDeletion(t, kc, { namespace, name: key.name, uid });
    const before = await jobCalls();
    const replacing = cached.applyStreamingJob(key, { type: 'applyStreamingJob', replaces: uid });
    await waitFor('the replacement to find the old Job still going away', async () => {
      return (await jobCalls(before)).create === 1;
    });
    await release();
    const replaced = (await replacing) as { uid: string; created: boolean };
    assert.equal(replaced.created, true);
    assert.notEqual(replaced.uid, uid);
    const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: key.name, namespace });
    assert.equal(job.metadata?.uid, replaced.uid);
    // Two reads before the deletion (an action's own activity reads from the API server), the deletion, our
    // finalizer's release, the create the old Job refused, the read that found it going away, and the create once it
    // went: nothing asked the API server while the old Job was going.
    assert.deepEqual(await jobCalls(before), { create: 2, patch: 1, delete: 1, get: 3 });
  });

  test('a Job that does not go while the replacement waits fails the attempt, to be retried', async (t) => {
    const impatient = createActivities({ kubeConfig: kc, logger: silent, registry, cache, workloadGoneWaitMs: 200 });
    const key = await createStream('cache-replace-slow');
    await settledCached(key);
    const { uid } = (await impatient.applyStreamingJob(key, { type: 'applyStreamingJob' })) as { uid: string };
    await holdForegroundDeletion(t, kc, { namespace, name: key.name, uid });
    const before = await jobCalls();
    await assert.rejects(impatient.applyStreamingJob(key, { type: 'applyStreamingJob', replaces: uid }), {
      type: 'WorkloadTerminating',
      message: new RegExp(`uid ${uid}\\) is still going away`),
    });
    assert.equal((await jobCalls(before)).create, 1, 'one create: the one the old Job refused');
    const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: key.name, namespace });
    assert.equal(job.metadata?.uid, uid, 'the old Job is still there, going away');
    assert.ok(job.metadata?.deletionTimestamp, 'the old Job is being deleted');
  });

  test('cached Jobs keep what observing reads, not their pod template or managed fields', async () => {
    const key = await createStream('cache-trim');
    const seen = await settledCached(key);
    await cached.act(key, startBackfill(seen), seen.versions);
    const job = await cache.get('jobs.batch', { namespace, name: key.name });
    assert.ok(job, 'the Job is cached');
    assert.equal(job.metadata?.managedFields, undefined);
    const spec = job.spec as { template: { spec: { containers: object[] } } };
    for (const container of spec.template.spec.containers) {
      assert.deepEqual(Object.keys(container).sort(), ['env', 'name']);
    }
  });
});
