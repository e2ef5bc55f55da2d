// BackfillRequest lookup on a cluster whose BackfillRequest CRD has no selectable fields (arcane-crd charts before
// them): the activities and the watcher work there too. Its own control plane, as the test swaps that CRD back and
// forth, which would break every other file on the shared one.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createKubernetesApi, type KubernetesApi } from '../../activities/kubernetes.ts';
import { kubernetesApiCalls, type ApiCallCounter } from '../../kubernetes/api-calls.ts';
import { listBackfillRequests, requestLocation, SELECTOR_RETRY_MS } from '../../activities/stream-resources.ts';
import { ARCANE_API_VERSION, ARCANE_GROUP, BACKFILL_REQUESTS } from '../../resources/api-group.ts';
import { applyObjects, loadYaml, waitForCrdsEstablished } from '../../stack/manifests.ts';
import { waitFor } from '../../stack/wait.ts';
import { BackfillRequestWatch } from '../../watcher/backfill-requests.ts';
import { listObjects } from '../../kubernetes/requests.ts';
import { createKubernetesClients } from '../../watcher/kubernetes-client.ts';
import { WatcherMetrics } from '../../watcher/metrics.ts';
import { SignalDispatcher } from '../../watcher/runtime/signals.ts';
import type { StreamDirectory } from '../../watcher/stream-class-controller.ts';
import { useOwnControlPlane } from './own-control-plane.ts';

const CRD_FILE = 'deploy/crds/backfillrequests.streaming.sneaksanddata.com.yaml';
const CRD_NAME = `${BACKFILL_REQUESTS.plural}.${ARCANE_GROUP}`;
const NAMESPACE = 'streams';
const STREAM = { streamClass: 'sql', namespace: NAMESPACE, name: 'orders' };

const plane = useOwnControlPlane('arcane-bfr-lookup', [NAMESPACE]);

/** The project's BackfillRequest CRD, or the same without `selectableFields`, as older arcane-crd charts ship it. */
function backfillRequestCrd(selectable: boolean): KubernetesObject {
  const [crd] = loadYaml(CRD_FILE) as (KubernetesObject & { spec: { versions: Record<string, unknown>[] } })[];
  if (!crd) throw new Error(`no CRD in ${CRD_FILE}`);
  if (!selectable) for (const version of crd.spec.versions) delete version.selectableFields;
  return crd;
}

/** Whether the API server answers a list by spec.streamId (asked outside the activities' client and its counts). */
async function selectorServed(): Promise<boolean> {
  try {
    await plane.kubeConfig.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      ...requestLocation,
      namespace: NAMESPACE,
      fieldSelector: 'spec.streamId=probe',
    });
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 400) return false;
    throw error;
  }
}

/** Installs the CRD variant and waits until the API server serves requests the way it says. */
async function installCrd(selectable: boolean): Promise<void> {
  await applyObjects(plane.kubeConfig, [backfillRequestCrd(selectable)]);
  await waitForCrdsEstablished(plane.kubeConfig, [CRD_NAME]);
  await waitFor(`the field selector ${selectable ? 'served' : 'refused'}`, async () => {
    return (await selectorServed()) === selectable;
  });
}

async function createRequest(name: string, spec: Record<string, unknown>): Promise<void> {
  await plane.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...requestLocation,
    namespace: NAMESPACE,
    body: { apiVersion: ARCANE_API_VERSION, kind: BACKFILL_REQUESTS.kind, metadata: { name }, spec },
  });
}

/** The activities' client on this cluster, with its own call counts. */
function activitiesClient(): { kube: KubernetesApi; refused: () => Promise<number> } {
  const calls: ApiCallCounter = kubernetesApiCalls(new Registry());
  const refused = async () =>
    (await calls.get()).values.filter((value) => value.labels.code === '400').reduce((sum, v) => sum + v.value, 0);
  return { kube: createKubernetesApi(plane.kubeConfig, calls), refused };
}

/**
 * The names of the stream's requests, as the activities list them. For a moment after the CRD changed, the API server
 * answers 429 ("storage is (re)initializing") while it rebuilds the CRD's storage; the activities' caller retries that
 * (a transient error), and so does this.
 */
async function namesOfStreamRequests(kube: KubernetesApi, now?: number): Promise<string[]> {
  return waitFor("the stream's BackfillRequests listed", async () => {
    try {
      return (await listBackfillRequests(kube, STREAM, now)).map((request) => request.name).sort();
    } catch (error) {
      if ((error as { code?: number }).code === 429) return undefined;
      throw error;
    }
  });
}

describe('a BackfillRequest CRD without selectable fields', () => {
  before(async () => {
    await installCrd(false);
    await createRequest('orders-open', { streamClass: 'sql', streamId: 'orders' });
    await createRequest('orders-done', { streamClass: 'sql', streamId: 'orders', completed: true });
    await createRequest('customers-open', { streamClass: 'sql', streamId: 'customers' });
    await createRequest('orders-of-another-class', { streamClass: 'kafka', streamId: 'orders' });
  });

  test("a stream's requests are found: only its own, and the refused selector is not asked again", async () => {
    const { kube, refused } = activitiesClient();
    assert.deepEqual(await namesOfStreamRequests(kube), ['orders-done', 'orders-open']);
    assert.equal(await refused(), 1, 'the first lookup learns that the selector is refused');
    assert.deepEqual(await namesOfStreamRequests(kube), ['orders-done', 'orders-open']);
    assert.equal(await refused(), 1, 'later lookups list without it');
  });

  test('after a CRD upgrade adds them, the selector is used again once the retry interval has passed', async () => {
    const { kube, refused } = activitiesClient();
    const start = Date.now();
    assert.deepEqual(await namesOfStreamRequests(kube, start), ['orders-done', 'orders-open']);
    await installCrd(true);
    try {
      assert.deepEqual(await namesOfStreamRequests(kube, start + 1), ['orders-done', 'orders-open']);
      assert.deepEqual(await namesOfStreamRequests(kube, start + SELECTOR_RETRY_MS), ['orders-done', 'orders-open']);
      assert.equal(await refused(), 1, 'the retry was answered');
      // Taken away again: the next lookup is refused (so it did use the selector) and still finds the requests.
      await installCrd(false);
      assert.deepEqual(await namesOfStreamRequests(kube, start + SELECTOR_RETRY_MS + 1), [
        'orders-done',
        'orders-open',
      ]);
      assert.equal(await refused(), 2);
    } finally {
      await installCrd(false);
    }
  });

  test("the watcher's BackfillRequest informer lists and watches them", async () => {
    const metrics = new WatcherMetrics(() => []);
    const log = pino({ level: 'silent' });
    const clients = createKubernetesClients(plane.kubeConfig, metrics);
    const settings = {
      kubeConfig: plane.kubeConfig,
      list: listObjects(clients.custom),
      log,
      metrics,
      restartBackoff: { initialMs: 100, maxMs: 1_000 },
      watchdogMs: 60_000,
      listTimeoutMs: 10_000,
    };
    // No stream classes: requests are only cached here, never routed.
    const directory: StreamDirectory = {
      classesSynced: () => false,
      classesVersion: () => undefined,
      classExists: () => false,
      source: () => undefined,
      sources: () => [],
      settled: () => false,
    };
    const dispatcher = new SignalDispatcher({
      send: () => Promise.resolve(false),
      log,
      metrics,
      maxInFlight: 1,
      retry: { initialMs: 100, maxMs: 1_000 },
    });
    let listed = false;
    const watch = new BackfillRequestWatch({
      settings,
      clients,
      watchNamespace: NAMESPACE,
      directory,
      dispatcher,
      isLeader: () => false,
      graceMs: 60_000,
      onListed: () => (listed = true),
    });
    watch.start();
    try {
      await waitFor('the BackfillRequests listed', () => listed);
      const cached = () => watch.informer.list().map((object) => object.metadata?.name ?? '');
      assert.ok(cached().includes('orders-open') && cached().includes('customers-open'), `cached: ${cached().join()}`);
      await createRequest('orders-later', { streamClass: 'sql', streamId: 'orders' });
      await waitFor('the new request seen through the watch', () => cached().includes('orders-later'));
    } finally {
      await watch.stop();
    }
  });
});
