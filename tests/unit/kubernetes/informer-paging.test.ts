// An informer lists in pages: no answer holds more than LIST_PAGE_SIZE objects, the pages are followed by their
// continue tokens, and the watch starts at the snapshot they were all taken from. An expired token means a fresh list.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { waitFor } from '../../../stack/wait.ts';
import { fakeApiServerConfig, thingsInformerOptions } from './fake-api-server.ts';
import { LIST_PAGE_SIZE, SupervisedInformer, type InformerEvent } from '../../../kubernetes/informer.ts';
import { WatcherMetrics } from '../../../watcher/metrics.ts';

const OBJECTS = 2 * LIST_PAGE_SIZE + 250;
const SNAPSHOT = '7';

interface Request {
  limit: string | null;
  continue: string | null;
  resourceVersion: string | null;
  watch: boolean;
}

/** Serves OBJECTS things in pages of at most `limit`; `expireFirstToken` answers the first continuation with a 410. */
async function pagingApiServer(t: TestContext, options: { expireFirstToken?: boolean } = {}) {
  const requests: Request[] = [];
  let expire = options.expireFirstToken ?? false;
  const kubeConfig = await fakeApiServerConfig(t, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = (name: string) => url.searchParams.get(name);
    const watch = query('watch') === 'true';
    requests.push({
      limit: query('limit'),
      continue: query('continue'),
      resourceVersion: query('resourceVersion'),
      watch,
    });
    if (watch) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.flushHeaders();
    }
    const token = query('continue');
    if (token !== null && expire) {
      expire = false;
      res.writeHead(410, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'continue expired' }));
    }
    const from = token === null ? 0 : Number(token);
    const limit = Number(query('limit') ?? OBJECTS);
    const to = Math.min(OBJECTS, from + limit);
    const items = Array.from({ length: to - from }, (_, i) => {
      const name = `t-${String(from + i).padStart(4, '0')}`;
      return { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name, namespace: 'data', uid: name } };
    });
    const metadata = { resourceVersion: SNAPSHOT, ...(to < OBJECTS ? { continue: String(to) } : {}) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ items, metadata }));
  });
  return { kubeConfig, requests };
}

function pagedInformer(t: TestContext, kubeConfig: Awaited<ReturnType<typeof pagingApiServer>>['kubeConfig']) {
  const metrics = new WatcherMetrics(() => []);
  const events: InformerEvent[] = [];
  let listed = 0;
  const informer = new SupervisedInformer(thingsInformerOptions(kubeConfig, metrics), {
    event: (event) => events.push(event),
    listed: () => listed++,
  });
  t.after(() => informer.stop());
  return { informer, events, metrics, listed: () => listed };
}

test('an informer lists page by page, following the continue tokens, and watches from the pages snapshot', async (t) => {
  const api = await pagingApiServer(t);
  const { informer, events, listed } = pagedInformer(t, api.kubeConfig);
  informer.start();
  await waitFor('the list and the watch', () => listed() === 1 && api.requests.some((request) => request.watch));

  const lists = api.requests.filter((request) => !request.watch);
  assert.deepEqual(
    lists.map((request) => [request.limit, request.continue]),
    [
      [String(LIST_PAGE_SIZE), null],
      [String(LIST_PAGE_SIZE), String(LIST_PAGE_SIZE)],
      [String(LIST_PAGE_SIZE), String(2 * LIST_PAGE_SIZE)],
    ],
  );
  assert.equal(api.requests.find((request) => request.watch)?.resourceVersion, SNAPSHOT);
  assert.equal(informer.list().length, OBJECTS);
  assert.ok(informer.get('data', `t-${String(OBJECTS - 1).padStart(4, '0')}`));
  assert.equal(events.filter((event) => event.type === 'added' && event.fromList).length, OBJECTS);
});

test('an expired continue token fails the list, and the informer lists again from the first page', async (t) => {
  const api = await pagingApiServer(t, { expireFirstToken: true });
  const { informer, events, metrics, listed } = pagedInformer(t, api.kubeConfig);
  informer.start();
  await waitFor('the list and the watch', () => listed() === 1 && api.requests.some((request) => request.watch));

  assert.deepEqual(
    api.requests.filter((request) => !request.watch).map((request) => request.continue),
    [null, String(LIST_PAGE_SIZE), null, String(LIST_PAGE_SIZE), String(2 * LIST_PAGE_SIZE)],
  );
  assert.equal(await metrics.value(metrics.informerRestarts, { cause: 'error' }), 1);
  assert.equal(await metrics.value(metrics.apiCalls, { verb: 'list', code: '410' }), 1);
  assert.equal(informer.list().length, OBJECTS);
  // The failed list cached nothing: every object is added once, by the list that completed.
  assert.equal(events.filter((event) => event.type === 'added').length, OBJECTS);
  assert.deepEqual(informer.health, { state: 'synced', everSynced: true });
});
