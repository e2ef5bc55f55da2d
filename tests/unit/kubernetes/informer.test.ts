// The supervised informer against a scripted fake API server: failures are retried with backoff, objects that went
// while nobody watched are reported gone, and a silent watch is restarted by the watchdog.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { waitFor } from '../../../stack/wait.ts';
import { fakeApiServerConfig, thingsInformerOptions } from './fake-api-server.ts';
import { InformerGroup, SupervisedInformer, type InformerEvent } from '../../../kubernetes/informer.ts';
import { WatcherMetrics } from '../../../watcher/metrics.ts';

type ListAnswer = { status: number; names?: string[]; version?: string } | 'hang';

/** A fake API server: each list takes the next scripted answer; watches stay open, silent, until the test breaks them. */
async function fakeApiServer(t: TestContext, answers: ListAnswer[]) {
  const watches: ServerResponse[] = [];
  let lists = 0;
  let closedWatches = 0;
  const kubeConfig = await fakeApiServerConfig(t, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      res.on('close', () => closedWatches++);
      watches.push(res);
      return;
    }
    const answer = answers[Math.min(lists++, answers.length - 1)] ?? 'hang';
    if (answer === 'hang') return;
    const items = (answer.names ?? []).map((name) => ({
      apiVersion: 'example.com/v1',
      kind: 'Thing',
      metadata: { name, namespace: 'data', uid: name, resourceVersion: '1' },
    }));
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        answer.status === 200 ? { items, metadata: { resourceVersion: answer.version ?? '1' } } : { message: 'boom' },
      ),
    );
  });
  return { kubeConfig, watches, lists: () => lists, closedWatches: () => closedWatches };
}

function informer(t: TestContext, kubeConfig: KubeConfig, watchdogMs = 60_000, listTimeoutMs = 60_000) {
  const metrics = new WatcherMetrics(() => []);
  const events: InformerEvent[] = [];
  let listed = 0;
  const supervised = new SupervisedInformer(thingsInformerOptions(kubeConfig, metrics, { watchdogMs, listTimeoutMs }), {
    event: (event) => events.push(event),
    listed: () => listed++,
  });
  t.after(() => supervised.stop());
  const restarts = (cause: string) => metrics.value(metrics.informerRestarts, { cause });
  return { supervised, events, listed: () => listed, restarts, metrics };
}

test('a failing list is retried with backoff until it succeeds', async (t) => {
  const api = await fakeApiServer(t, [{ status: 500 }, { status: 503 }, { status: 200, names: ['a'] }]);
  const { supervised, listed, restarts, metrics } = informer(t, api.kubeConfig);
  supervised.start();
  await waitFor('the informer to list', () => listed() === 1);
  assert.equal(await restarts('error'), 2);
  assert.deepEqual(supervised.health, { state: 'synced', everSynced: true });
  assert.equal(await metrics.value(metrics.apiCalls, { verb: 'list', code: '500' }), 1);
  assert.deepEqual(
    supervised.list().map((thing) => thing.metadata?.name),
    ['a'],
  );
});

test('objects that went while the watch was broken are reported deleted after the next list', async (t) => {
  const api = await fakeApiServer(t, [
    { status: 200, names: ['a', 'b'] },
    { status: 200, names: ['a'] },
  ]);
  const { supervised, events, listed, metrics } = informer(t, api.kubeConfig);
  supervised.start();
  await waitFor('the first watch', () => api.watches.length === 1);
  await waitFor(
    'the watch call counted',
    async () => (await metrics.value(metrics.apiCalls, { verb: 'watch', resource: 'things.example.com' })) === 1,
  );
  assert.deepEqual(
    events.map((event) => [event.type, event.object.metadata?.name, event.fromList]),
    [
      ['added', 'a', true],
      ['added', 'b', true],
    ],
  );

  api.watches[0]?.destroy();
  await waitFor('the re-list', () => listed() === 2);
  assert.deepEqual(
    events.slice(2).map((event) => [event.type, event.object.metadata?.name, event.fromList]),
    [
      ['updated', 'a', true],
      ['deleted', 'b', true],
    ],
  );
  assert.equal(supervised.get('data', 'b'), undefined);
});

test("the newest version is the last list's, or a later event's or bookmark's, and stays while the informer fails", async (t) => {
  const api = await fakeApiServer(t, [{ status: 200, names: ['a', 'b'], version: '10' }, { status: 500 }]);
  const { supervised, events, listed } = informer(t, api.kubeConfig);
  assert.equal(supervised.newestVersion, undefined, 'nothing listed yet');
  supervised.start();
  await waitFor('the first watch', () => api.watches.length === 1);
  assert.equal(listed(), 1);
  assert.equal(supervised.newestVersion, '10', "the list's version, newer than any listed object's");

  const b = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'b', namespace: 'data', uid: 'b' } };
  api.watches[0]?.write(
    `${JSON.stringify({ type: 'DELETED', object: { ...b, metadata: { ...b.metadata, resourceVersion: '12' } } })}\n`,
  );
  await waitFor('the deletion', () => events.some((event) => event.type === 'deleted'));
  assert.equal(supervised.newestVersion, '12', "the deletion's version");
  // Nothing of the resource changes, but the API server says its watch has sent everything up to a later version.
  const bookmark = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { resourceVersion: '30' } };
  api.watches[0]?.write(`${JSON.stringify({ type: 'BOOKMARK', object: bookmark })}\n`);
  await waitFor("the bookmark's version", () => supervised.newestVersion === '30');
  assert.equal(supervised.list().length, 1, 'a bookmark is no object');

  // Failing, the cache is only as new as what it last saw: reads that need newer must go elsewhere.
  api.watches[0]?.destroy();
  await waitFor('the failed re-list', () => supervised.health.state === 'failing');
  assert.equal(supervised.newestVersion, '30');
});

test('a list that hangs is abandoned after the list timeout and tried again', async (t) => {
  const api = await fakeApiServer(t, ['hang', { status: 200, names: ['a'] }]);
  // The watchdog is far off: only the list timeout can end the hung list.
  const { supervised, listed, restarts } = informer(t, api.kubeConfig, 60_000, 300);
  supervised.start();
  await waitFor('the informer to list after the hung list was abandoned', () => listed() === 1);
  assert.equal(await restarts('listTimeout'), 1);
  assert.equal(await restarts('watchdog'), 0);
  assert.equal(api.lists(), 2);
  assert.deepEqual(supervised.health, { state: 'synced', everSynced: true });
});

test('a watch that stays open but silent is closed and restarted by the watchdog, which lists again', async (t) => {
  const api = await fakeApiServer(t, [{ status: 200, names: ['a'] }]);
  const { supervised, listed, restarts } = informer(t, api.kubeConfig, 300);
  supervised.start();
  await waitFor('the first list and watch', () => listed() >= 1 && api.watches.length >= 1);

  await waitFor('the silent watch to be closed', () => api.closedWatches() >= 1, { timeoutMs: 5_000 });
  await waitFor('a fresh list and watch', () => listed() >= 2 && api.watches.length >= 2, { timeoutMs: 5_000 });
  assert.ok((await restarts('watchdog')) >= 1);
  assert.equal(await restarts('error'), 0);
  assert.ok(api.lists() >= 2);
  assert.deepEqual(supervised.health, { state: 'synced', everSynced: true });
});

test('informers of one group waiting out a backoff start again once one of them lists again', async (t) => {
  let down = true;
  const kubeConfig = await fakeApiServerConfig(t, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(down ? { message: 'unavailable' } : { items: [], metadata: { resourceVersion: '1' } }));
  });
  const group = new InformerGroup();
  const start = (initialMs: number) => {
    const metrics = new WatcherMetrics(() => []);
    let listed = 0;
    const options = thingsInformerOptions(kubeConfig, metrics, {
      restartBackoff: { initialMs, maxMs: initialMs },
      group,
    });
    const supervised = new SupervisedInformer(options, { event: () => undefined, listed: () => listed++ });
    t.after(() => supervised.stop());
    supervised.start();
    return { supervised, listed: () => listed };
  };
  // One informer retries every few milliseconds; the other would wait about a minute before its next list.
  const quick = start(20);
  const slow = start(60_000);
  await waitFor(
    'both informers failing',
    () => quick.supervised.health.state === 'failing' && slow.supervised.health.state === 'failing',
  );

  down = false;
  await waitFor('the quick informer to list', () => quick.listed() === 1);
  await waitFor('the slow informer to list well before its backoff ends', () => slow.listed() === 1, {
    timeoutMs: 5_000,
  });
  assert.deepEqual(slow.supervised.health, { state: 'synced', everSynced: true });
});
