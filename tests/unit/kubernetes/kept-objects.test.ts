// What the caches keep of an object is as compact as the object it came from: leaving out a field by deleting it
// would turn the copy into a hash table (V8's dictionary mode), about twice the memory, for every cached object.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { workloadAsObserved } from '../../../activities/observed-workloads.ts';
import { withoutManagedFields, type WatchedObject } from '../../../kubernetes/informer.ts';

setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = runInNewContext('(object) => %HasFastProperties(object)') as (object: object) => boolean;

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** An object as the API server sends it: parsed JSON, managed fields and kubectl's copy of it included. */
function listed(): WatchedObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'orders',
        namespace: 'data',
        uid: 'b370f998',
        resourceVersion: '2766',
        generation: 1,
        labels: { 'arcane/stream-id': 'orders' },
        annotations: { [LAST_APPLIED]: '{"kind":"Job"}', 'configuration-hash': '0339' },
        managedFields: [{ manager: 'kubectl', operation: 'Update' }],
      },
      spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'OTHER', value: 'x' }] }] } } },
      status: { active: 1 },
    }),
  ) as WatchedObject;
}

test('an informer keeps an object without its managed fields, as compact as it was', () => {
  const object = listed();
  assert.ok(hasFastProperties(object.metadata!), 'the parsed object itself is compact');
  const kept = withoutManagedFields(object);
  assert.equal(kept.metadata?.managedFields, undefined);
  assert.equal(kept.metadata?.name, 'orders');
  assert.deepEqual(Object.keys(kept.metadata), [
    'name',
    'namespace',
    'uid',
    'resourceVersion',
    'generation',
    'labels',
    'annotations',
  ]);
  assert.ok(hasFastProperties(kept), 'the object');
  assert.ok(hasFastProperties(kept.metadata), 'its metadata');
  // The object it came from is not changed.
  assert.equal(object.metadata?.managedFields?.length, 1);
});

test('a cache of workloads keeps what observing reads, without managed fields or the applied copy, as compact', () => {
  const kept = workloadAsObserved(listed());
  assert.equal(kept.metadata?.managedFields, undefined);
  assert.deepEqual(kept.metadata?.annotations, { 'configuration-hash': '0339' });
  assert.ok(hasFastProperties(kept.metadata), 'its metadata');
  assert.ok(hasFastProperties(kept.metadata.annotations), 'its annotations');
  // Without the applied copy to leave out, the annotations are the ones listed.
  const plain = listed();
  delete plain.metadata!.annotations![LAST_APPLIED];
  assert.equal(workloadAsObserved(plain).metadata?.annotations, plain.metadata?.annotations);
});
