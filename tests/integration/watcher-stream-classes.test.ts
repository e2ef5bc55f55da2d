// StreamClasses: status Pending -> Ready, or Failed saying why (CRD missing, kind already served); a spec change
// re-targets the stream informer; a class that goes detaches its streams' workflows. Each test uses stream kinds of
// its own (CRDs made from the test plugin's MockStream), so classes of other tests are not disturbed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test, type TestContext } from 'node:test';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAM_CLASSES } from '../../resources/api-group.ts';
import { waitFor } from '../../stack/wait.ts';
import { applyObjects, installTestPlugin, loadYaml, testNamespace, waitForCrdsEstablished } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  PLUGIN,
  startTestWatcher,
  Streams,
  temporalClient,
  uniqueTaskQueue,
  waitForSignal,
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

function waitForPhase(name: string, phase: string, reason?: string) {
  return waitFor(`StreamClass ${name} ${phase}${reason ? ` (${reason})` : ''}`, async () => {
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
  const { client, streams, id } = await setup(t, 'class-crd');
  const kind = uniqueKind();
  const name = className('late-crd');
  await createClass(t, name, kind);

  const failed = await waitForPhase(name, 'Failed', 'CustomResourceDefinitionNotFound');
  assert.equal(failed.status, 'False');
  assert.match(
    failed.message,
    new RegExp(`does not serve ${kind.plural}\\.${kind.group}/v1beta1 \\(kind ${kind.kind}\\)`),
  );

  await installKind(t, kind);
  const ready = await waitForPhase(name, 'Ready');
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
  const { client, streams, id } = await setup(t, 'class-twice');
  const kind = uniqueKind();
  await installKind(t, kind);
  const first = className('a-first');
  const second = className('b-second');
  await createClass(t, first, kind);
  await waitForPhase(first, 'Ready');
  await createClass(t, second, kind);
  const failed = await waitForPhase(second, 'Failed', 'KindAlreadyServed');
  assert.match(failed.message, new RegExp(`kind ${kind.kind} .* is already served by StreamClass ${first}`));

  await streams.create(kind, 'orders');
  await waitForSignal(client, id(first, 'orders'), 'streamObserved');
  await kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...CLASSES, name: first });
  await waitForSignal(client, id(first, 'orders'), 'detached', { reason: new RegExp(`StreamClass ${first} deleted`) });
  await waitForPhase(second, 'Ready');
  await waitForSignal(client, id(second, 'orders'), 'resync');
});

test('a StreamClass spec change re-targets its informer to the other kind', async (t) => {
  const { client, streams, id } = await setup(t, 'class-retarget');
  const [before, after] = [uniqueKind(), uniqueKind()];
  await installKind(t, before);
  await installKind(t, after);
  const name = className('moving');
  await createClass(t, name, before);
  await waitForPhase(name, 'Ready');
  await streams.create(before, 'old-stream');
  await streams.create(after, 'new-stream');
  await waitForSignal(client, id(name, 'old-stream'), 'streamObserved');

  await kc
    .makeApiClient(CustomObjectsApi)
    .patchClusterCustomObject(
      { ...CLASSES, name, body: { spec: { kindRef: after.kind, pluralName: after.plural } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
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
