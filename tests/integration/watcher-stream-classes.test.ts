// StreamClasses: status Pending -> Ready, or Failed saying why (CRD missing, kind already served); a spec change
// re-targets the stream informer; a class that goes detaches its streams' workflows. Each test uses stream kinds of
// its own (CRDs made from the test plugin's MockStream), so classes of other tests are not disturbed. Every watcher of
// a test run sees every (cluster-wide) class and may write its status: the tests check the phase this test's watcher
// decided through its own metrics, next to the status in the cluster.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test, type TestContext } from 'node:test';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAM_CLASSES } from '../../resources/api-group.ts';
import { waitFor } from '../../stack/wait.ts';
import { atLeast, versionKey } from '../../workflows/lifecycle/versions.ts';
import type { Watcher } from '../../watcher/watcher.ts';
import { applyObjects, installTestPlugin, loadYaml, testNamespace, waitForCrdsEstablished } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  holdLease,
  lastEventId,
  leaseDeadlines,
  MOCK_STREAMS,
  PLUGIN,
  signalsOf,
  startTestWatcher,
  Streams,
  temporalClient,
  uniqueTaskQueue,
  waitForSignal,
  watchVersions,
  type StreamKind,
} from './watcher-harness.ts';

const CLASSES = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAM_CLASSES.plural };

let kc: KubeConfig;

before(() => {
  kc = kubeConfig();
});

/** A stream kind of this test's own: the MockStream CRD under new names (not installed yet). */
function uniqueKind(): StreamKind & { crd: KubernetesObject } {
  const suffix = randomBytes(4)
    .toString('hex')
    .replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)] ?? 'x');
  const kind = `Mock${suffix[0]?.toUpperCase()}${suffix.slice(1)}`;
  const plural = `mock${suffix}s`;
  const crd = structuredClone(loadYaml('tests/fixtures/plugin/crd-mockstream.yaml')[0]) as KubernetesObject & {
    spec: { names: Record<string, string> };
  };
  crd.metadata = { name: `${plural}.${PLUGIN.group}` };
  crd.spec.names = { plural, singular: `mock${suffix}`, kind, listKind: `${kind}List` };
  return { ...PLUGIN, plural, kind, crd };
}

async function installKind(t: TestContext, kind: { crd: KubernetesObject }): Promise<void> {
  await applyObjects(kc, [kind.crd]);
  const name = kind.crd.metadata?.name ?? '';
  t.after(() => kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name }));
  await waitForCrdsEstablished(kc, [name]);
}

async function createClass(t: TestContext, name: string, kind: StreamKind): Promise<void> {
  const spec = { apiGroupRef: kind.group, apiVersion: kind.version, kindRef: kind.kind, pluralName: kind.plural };
  const body = { apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`, kind: STREAM_CLASSES.kind, metadata: { name }, spec };
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createClusterCustomObject({ ...CLASSES, body });
  t.after(() => custom.deleteClusterCustomObject({ ...CLASSES, name }).catch(() => undefined));
}

async function patchClass(name: string, spec: Record<string, unknown>): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject({ ...CLASSES, name, body: { spec } }, mergePatch);
}

interface ClassStatus {
  phase?: string;
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

async function classStatus(name: string): Promise<ClassStatus> {
  const object = (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ ...CLASSES, name })) as {
    status?: ClassStatus;
  };
  return object.status ?? {};
}

/** The class shows `phase` (and `reason`), and `watcher` decided so itself. */
function waitForPhase(watcher: Watcher, name: string, phase: string, reason?: string) {
  return waitFor(`StreamClass ${name} ${phase}${reason ? ` (${reason})` : ''}`, async () => {
    const labels = { stream_class: name, phase, ...(reason === undefined ? {} : { reason }) };
    if ((await watcher.metrics.value(watcher.metrics.streamClasses, labels)) !== 1) return false;
    const status = await classStatus(name);
    const ready = status.conditions?.find((condition) => condition.type === 'Ready');
    return status.phase === phase && (reason === undefined || ready?.reason === reason) && ready;
  });
}

async function eventReasons(className: string): Promise<string[]> {
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace: 'default',
    fieldSelector: `involvedObject.kind=StreamClass,involvedObject.name=${className}`,
  });
  return events.items
    .filter((event) => event.source?.component === 'arcane-operator')
    .map((event) => event.reason ?? '');
}

async function setup(t: TestContext, name: string) {
  const namespace = await testNamespace(t, kc, `watch-${name}`);
  await installTestPlugin(kc, namespace);
  const watcher = await startTestWatcher(t, { namespace, taskQueue: uniqueTaskQueue(name), name, kubeConfig: kc });
  await watcher.ready();
  await waitFor('the watcher to lead', () => watcher.isLeader());
  const client = await temporalClient(t);
  const id = (streamClass: string, stream: string) => streamWorkflowId({ streamClass, namespace, name: stream });
  return { namespace, watcher, client, streams: new Streams(kc, namespace), id };
}

const className = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

test('a StreamClass whose CRD is missing is Failed saying so, and recovers when the CRD appears', async (t) => {
  const { watcher, client, streams, id } = await setup(t, 'class-crd');
  const kind = uniqueKind();
  const name = className('late-crd');
  await createClass(t, name, kind);

  const failed = await waitForPhase(watcher, name, 'Failed', 'CustomResourceDefinitionNotFound');
  assert.equal(failed.status, 'False');
  assert.match(
    failed.message,
    new RegExp(`does not serve ${kind.plural}\\.${kind.group}/v1beta1 \\(kind ${kind.kind}\\)`),
  );

  await installKind(t, kind);
  const ready = await waitForPhase(watcher, name, 'Ready');
  assert.equal(ready.reason, 'StreamClassReady');
  await streams.create(kind, 'orders');
  await waitForSignal(client, id(name, 'orders'), 'streamObserved');
  const reasons = await waitFor('the Events', async () => {
    const seen = await eventReasons(name);
    return seen.includes('StreamClassRecovered') && seen;
  });
  assert.ok(reasons.includes('StreamClassCreated'), reasons.join());
  assert.ok(reasons.includes('StreamControllerError'), reasons.join());
});

test('a second StreamClass for a kind is Failed naming the first, and serves the kind once the first is gone', async (t) => {
  const { watcher, client, streams, id } = await setup(t, 'class-twice');
  const kind = uniqueKind();
  await installKind(t, kind);
  const first = className('a-first');
  const second = className('b-second');
  await createClass(t, first, kind);
  await waitForPhase(watcher, first, 'Ready');
  await createClass(t, second, kind);
  const failed = await waitForPhase(watcher, second, 'Failed', 'KindAlreadyServed');
  assert.match(failed.message, new RegExp(`kind ${kind.kind} .* is already served by StreamClass ${first}`));

  await streams.create(kind, 'orders');
  await waitForSignal(client, id(first, 'orders'), 'streamObserved');
  const classVersions = await watchVersions(t, kc, `/apis/${ARCANE_GROUP}/${ARCANE_VERSION}/${CLASSES.plural}`, first);
  await kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...CLASSES, name: first });
  const detached = await waitForSignal(client, id(first, 'orders'), 'detached', {
    reason: new RegExp(`StreamClass ${first} deleted`),
  });
  // The workflow's observation must be at least as new as the class's deletion (a cache behind still shows the class).
  const deletedAt = await classVersions.of('DELETED');
  const required = detached.versions?.[versionKey.streamClass];
  assert.ok(required !== undefined && atLeast(required, deletedAt), `${required} is at least ${deletedAt}`);
  await waitForPhase(watcher, second, 'Ready');
  await waitForSignal(client, id(second, 'orders'), 'resync');
});

test('a StreamClass spec change re-targets its informer to the other kind', async (t) => {
  const { watcher, client, streams, id } = await setup(t, 'class-retarget');
  const [before, after] = [uniqueKind(), uniqueKind()];
  await installKind(t, before);
  await installKind(t, after);
  const name = className('moving');
  await createClass(t, name, before);
  await waitForPhase(watcher, name, 'Ready');
  await streams.create(before, 'old-stream');
  await streams.create(after, 'new-stream');
  await waitForSignal(client, id(name, 'old-stream'), 'streamObserved');

  await patchClass(name, { kindRef: after.kind, pluralName: after.plural });
  await waitForSignal(client, id(name, 'old-stream'), 'detached', {
    reason: new RegExp(`now serves kind ${after.kind}`),
  });
  await waitForSignal(client, id(name, 'new-stream'), 'resync');
  const ready = await waitFor('the status to name the new kind', async () => {
    const condition = (await classStatus(name)).conditions?.find((c) => c.type === 'Ready');
    return condition?.message.includes(after.kind) && condition;
  });
  assert.equal(ready.status, 'True');
});

test('a StreamClass changed to a version or plural the API server does not serve tells no workflow its stream is deleted', async (t) => {
  const { namespace, watcher, client, streams, id } = await setup(t, 'class-unserved');
  const [kind, other] = [uniqueKind(), uniqueKind()];
  await installKind(t, kind);
  await installKind(t, other);
  const [misversioned, misnamed] = [className('misversioned'), className('misnamed')];
  await createClass(t, misversioned, kind);
  await createClass(t, misnamed, other);
  await waitForPhase(watcher, misversioned, 'Ready');
  await waitForPhase(watcher, misnamed, 'Ready');
  await streams.create(kind, 'orders');
  await streams.create(other, 'invoices');
  // A stream of a class left alone: what a full resync reaches.
  await streams.create(MOCK_STREAMS, 'witness');
  const [orders, invoices, witness] = [
    id(misversioned, 'orders'),
    id(misnamed, 'invoices'),
    id(MOCK_STREAMS.streamClass, 'witness'),
  ];
  for (const workflow of [orders, invoices, witness]) await waitForSignal(client, workflow, 'streamObserved');
  const mark = { orders: await lastEventId(client, orders), invoices: await lastEventId(client, invoices) };

  await patchClass(misversioned, { apiVersion: 'v1alpha9' });
  await patchClass(misnamed, { pluralName: `${other.plural}x` });
  await waitForPhase(watcher, misversioned, 'Failed', 'CustomResourceDefinitionNotFound');
  await waitForPhase(watcher, misnamed, 'Failed', 'CustomResourceDefinitionNotFound');
  // Naming another resource lets go of the streams of the old one (SPEC 4); a version change keeps them.
  await waitForSignal(client, invoices, 'detached', { after: mark.invoices, reason: /now serves kind/ });

  // A full resync, as after a restart: this watcher hands its lease over for a second and takes it back.
  const witnessMark = await lastEventId(client, witness);
  const handedOver = await holdLease(kc, namespace, 'other-replica_0000', 1);
  const { stepDownMs, takeExpiredMs } = leaseDeadlines();
  await waitFor('the watcher to step down', () => !watcher.isLeader(), { timeoutMs: stepDownMs });
  await waitFor('the watcher to lead again', () => watcher.isLeader(), {
    timeoutMs: takeExpiredMs(handedOver.leaseDurationSeconds * 1_000),
  });
  await waitForSignal(client, witness, 'resync', { after: witnessMark, reason: /this replica became leader/ });

  // Resyncs run one after another: the ones after serving the kinds again follow the full one, and each workflow's
  // signals arrive in order, so a `deleted` from the full resync would show before these.
  await patchClass(misversioned, { apiVersion: kind.version });
  await patchClass(misnamed, { pluralName: other.plural });
  await waitForSignal(client, orders, 'resync', { after: mark.orders, reason: /listed/ });
  await waitForSignal(client, invoices, 'resync', { after: mark.invoices, reason: /listed/ });
  const since = async (workflow: string, after: number) =>
    (await signalsOf(client, workflow)).filter((signal) => signal.eventId > after).map((signal) => signal.name);
  const ordersSignals = await since(orders, mark.orders);
  assert.ok(!ordersSignals.includes('deleted') && !ordersSignals.includes('detached'), ordersSignals.join());
  const invoicesSignals = await since(invoices, mark.invoices);
  assert.ok(!invoicesSignals.includes('deleted'), invoicesSignals.join());
});

test("a StreamClass secretRefs change wakes its streams' workflows", async (t) => {
  const { watcher, client, streams, id } = await setup(t, 'class-secrets');
  const kind = uniqueKind();
  await installKind(t, kind);
  const name = className('secrets');
  await createClass(t, name, kind);
  await waitForPhase(watcher, name, 'Ready');
  await streams.create(kind, 'orders');
  await waitForSignal(client, id(name, 'orders'), 'streamObserved');

  await patchClass(name, { secretRefs: ['connectionStringRef'] });
  await waitForSignal(client, id(name, 'orders'), 'resync', {
    reason: new RegExp(`StreamClass ${name} secretRefs \\[\\] -> \\["connectionStringRef"\\]`),
  });
});
