// Which of a stream's objects an API call reads or writes, as named in an observation's versions, and which versions
// a call's answer proves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesApi } from '../../../activities/kubernetes.ts';
import type { ClusterCache } from '../../../activities/cluster-cache.ts';
import { ApiException } from '@kubernetes/client-node';
import { isNotFound, KubernetesApiError } from '../../../activities/errors.ts';
import { cachedReads, recordVersions, versionKeyOf } from '../../../activities/versioned-reads.ts';

const stream = { streamClass: 'mock-stream', namespace: 'ns', name: 'orders' };

test("each of the stream's objects has its key; other calls have none", () => {
  const cases: [Parameters<typeof versionKeyOf>[0], string | undefined][] = [
    [{ verb: 'get', resource: 'streamclasses.streaming.sneaksanddata.com', name: 'mock-stream' }, 'streamClass'],
    [{ verb: 'get', resource: 'mockstreams.streaming.sneaksanddata.com', namespace: 'ns', name: 'orders' }, 'stream'],
    [
      { verb: 'patch', resource: 'tablestreams.streaming.sneaksanddata.com/status', namespace: 'ns', name: 'orders' },
      'stream',
    ],
    [{ verb: 'get', resource: 'jobs.batch', namespace: 'ns', name: 'orders' }, 'job'],
    [{ verb: 'delete', resource: 'cronjobs.batch', namespace: 'ns', name: 'orders' }, 'cronJob'],
    [
      { verb: 'get', resource: 'streamingjobtemplates.streaming.sneaksanddata.com', namespace: 't', name: 'x' },
      'template/t/x',
    ],
    [
      { verb: 'patch', resource: 'backfillrequests.streaming.sneaksanddata.com', namespace: 'ns', name: 'r' },
      'backfillRequest/r',
    ],
    [{ verb: 'list', resource: 'backfillrequests.streaming.sneaksanddata.com', namespace: 'ns' }, undefined],
    [{ verb: 'create', resource: 'events', namespace: 'ns', name: 'orders.1' }, undefined],
    [{ verb: 'get', resource: 'mockstreams.streaming.sneaksanddata.com', namespace: 'ns', name: 'other' }, undefined],
    [{ verb: 'get', resource: '/apis/streaming.sneaksanddata.com/v1beta1' }, undefined],
  ];
  for (const [call, key] of cases) assert.equal(versionKeyOf(call, stream), key, JSON.stringify(call));
});

const jobCall = { verb: 'patch', resource: 'jobs.batch', namespace: 'ns', name: 'orders' } as const;
const deleting = '2026-01-01T00:00:00Z';
const passThrough = { call: (_call: unknown, send: () => Promise<unknown>) => send() } as unknown as KubernetesApi;

test('a write that removed its object (the last finalizer released) proves no version: the object is gone', async () => {
  const record = recordVersions(passThrough, stream);
  // Still held by another finalizer: the answer is the object as written.
  await record.kube.call(jobCall, () =>
    Promise.resolve({
      metadata: { resourceVersion: '10', deletionTimestamp: deleting, finalizers: ['foregroundDeletion'] },
    }),
  );
  assert.deepEqual([record.versions(), [...record.unknown()], [...record.removed()]], [{ job: '10' }, [], []]);
  // The release of the last one removed it: the answer shows it as it was stored before, at an older version.
  await record.kube.call(jobCall, () =>
    Promise.resolve({ metadata: { resourceVersion: '10', deletionTimestamp: deleting } }),
  );
  assert.deepEqual([[...record.unknown()], [...record.removed()]], [[], ['job']]);
  // A Job created under the same name after it is there again, at the version its creation answered with.
  await record.kube.call({ ...jobCall, verb: 'create' }, () =>
    Promise.resolve({ metadata: { resourceVersion: '12' } }),
  );
  assert.deepEqual([record.versions(), [...record.unknown()], [...record.removed()]], [{ job: '12' }, [], []]);
});

test('a read of an object a write removed answers Not Found without asking the cache or the API server', async () => {
  const asked: string[] = [];
  const api = {
    call: (call: { verb: string }) => {
      asked.push(`api ${call.verb}`);
      return Promise.resolve({ metadata: { resourceVersion: '20' } });
    },
  } as unknown as KubernetesApi;
  const cache = {
    get: () => {
      asked.push('cache get');
      return Promise.resolve({ metadata: { resourceVersion: '20' } });
    },
  } as unknown as ClusterCache;
  const removed = new Set(['job']);
  const reads = cachedReads(api, cache, stream, {
    required: () => ({}),
    mustRead: () => new Set(),
    removed: () => removed,
  });
  const read = { ...jobCall, verb: 'get' } as const;
  await assert.rejects(
    reads.call(read, () => Promise.resolve({})),
    (error: unknown) => isNotFound(error),
  );
  assert.deepEqual(asked, []);
  // Once nothing says it is gone, the cache answers.
  removed.clear();
  assert.deepEqual(await reads.call(read, () => Promise.resolve({})), { metadata: { resourceVersion: '20' } });
  assert.deepEqual(asked, ['cache get']);
});

test('a deletion answered with a Status of success removed its object; one answered with the object did not', async () => {
  const record = recordVersions(passThrough, stream);
  const deletion = { ...jobCall, verb: 'delete' } as const;
  // Held by a finalizer: the API server answers with the object, which stays (terminating) at this version.
  await record.kube.call(deletion, () => Promise.resolve({ kind: 'Job', metadata: { resourceVersion: '30' } }));
  assert.deepEqual([record.versions(), [...record.unknown()], [...record.removed()]], [{ job: '30' }, [], []]);
  // Nothing held it: it went at once, and the answer is a Status that names it.
  const success = { kind: 'Status', status: 'Success', metadata: {}, details: { name: 'orders', kind: 'jobs' } };
  await record.kube.call(deletion, () => Promise.resolve(success));
  assert.deepEqual([[...record.unknown()], [...record.removed()]], [[], ['job']]);
  // A Status without a version that is not a success proves nothing: the object is read from the API server.
  const other = recordVersions(passThrough, stream);
  await other.kube.call(deletion, () => Promise.resolve({ kind: 'Status', status: 'Failure', metadata: {} }));
  assert.deepEqual([[...other.unknown()], [...other.removed()]], [['job'], []]);
});

test('after a JSON patch whose test failed (422), the object is read from the API server, not the cache', async () => {
  const asked: string[] = [];
  const api = {
    call: (call: { verb: string }, send: () => Promise<unknown>) => {
      asked.push(`api ${call.verb}`);
      return send();
    },
  } as unknown as KubernetesApi;
  const cache = {
    get: () => {
      asked.push('cache get');
      return Promise.resolve({ metadata: { resourceVersion: '40' } });
    },
  } as unknown as ClusterCache;
  const reads = cachedReads(api, cache, stream, {
    required: () => ({}),
    mustRead: () => new Set(),
    removed: () => new Set(),
  });
  const read = { ...jobCall, verb: 'get' } as const;
  const fresh = () => Promise.resolve({ metadata: { resourceVersion: '41' } });
  await reads.call(read, fresh);
  const invalid = new KubernetesApiError(jobCall, new ApiException(422, 'Unprocessable Entity', {}, {}));
  await assert.rejects(
    reads.call(jobCall, () => Promise.reject(invalid)),
    (error: unknown) => error === invalid,
  );
  assert.deepEqual(await reads.call(read, fresh), { metadata: { resourceVersion: '41' } });
  assert.deepEqual(asked, ['cache get', 'api patch', 'api get']);
});
