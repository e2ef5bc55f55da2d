// What an informer holds: each object as its `keep` says, once. The listed and watched objects carry a large field the
// informer does not keep; once they are cached and the garbage collected, the heap holds no copy of that field.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitFor } from '../../../stack/wait.ts';
import { fakeApiServerConfig, thingsInformerOptions } from './fake-api-server.ts';
import { SupervisedInformer, type WatchedObject } from '../../../kubernetes/informer.ts';
import { WatcherMetrics } from '../../../watcher/metrics.ts';

const OBJECTS = 1_500;
const WATCHED = 500;
const BLOB_BYTES = 8_192;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function thing(name: string, resourceVersion: string) {
  return {
    apiVersion: 'example.com/v1',
    kind: 'Thing',
    metadata: { name, namespace: 'data', uid: name, resourceVersion },
    // A distinct string per object, as a pod template or a spec is: nothing the heap could share.
    spec: { blob: randomBytes(BLOB_BYTES / 2).toString('hex') },
  };
}

/** Lists OBJECTS things, then sends WATCHED of them again, modified, on the first watch. */
async function apiServer(t: TestContext) {
  const watches: ServerResponse[] = [];
  const kubeConfig = await fakeApiServerConfig(t, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') {
      watches.push(res);
      if (watches.length > 1) return res.flushHeaders();
      const events = Array.from({ length: WATCHED }, (_, i) => ({ type: 'MODIFIED', object: thing(`t-${i}`, '2') }));
      return res.write(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
    }
    const items = Array.from({ length: OBJECTS }, (_, i) => thing(`t-${i}`, '1'));
    res.end(JSON.stringify({ items, metadata: { resourceVersion: '1' } }));
  });
  return kubeConfig;
}

test('an informer holds each object only as its keep function keeps it, not as it was listed or watched', async (t) => {
  const kubeConfig = await apiServer(t);
  const metrics = new WatcherMetrics(() => []);
  const before = heapUsed();
  let modified = 0;
  const informer = new SupervisedInformer(
    thingsInformerOptions(kubeConfig, metrics, {
      keep: ({ apiVersion, kind, metadata }: WatchedObject) => ({ apiVersion, kind, metadata }),
    }),
    { event: (event) => (modified += event.type === 'updated' ? 1 : 0), listed: () => undefined },
  );
  t.after(() => informer.stop());
  informer.start();
  await waitFor('the list and the watched changes', () => informer.synced && modified === WATCHED, {
    timeoutMs: 20_000,
    intervalMs: 20,
  });

  assert.equal(informer.list().length, OBJECTS);
  assert.equal(informer.get('data', 't-0')?.metadata?.resourceVersion, '2');
  assert.ok(informer.list().every((object) => object.spec === undefined));
  // The blobs alone would be OBJECTS x 8 KiB (12 MiB) if the list or the watch's objects were still held anywhere.
  const held = heapUsed() - before;
  const blobs = OBJECTS * BLOB_BYTES;
  assert.ok(held < blobs / 4, `the heap grew by ${held} bytes, the blobs are ${blobs}`);
});
