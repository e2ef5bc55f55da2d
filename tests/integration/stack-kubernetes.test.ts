// Smoke tests: the local control plane is a real one (CRDs, watches, Jobs through kwok, garbage collection).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApiextensionsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  Watch,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { startControlPlane } from '../../stack/kubernetes.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { kubeConfig } from './stack-env.ts';
import { takenPortPicker } from './taken-port.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const objects = KubernetesObjectApi.makeApiClient(kc);
const namespace = `smoke-${randomUUID().slice(0, 8)}`;

function job(name: string, labels: Record<string, string> = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
      },
    },
  };
}

function jobCondition(name: string, type: 'Complete' | 'Failed') {
  return async () => {
    const current = await batch.readNamespacedJob({ name, namespace });
    return current.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
  };
}

describe('local Kubernetes control plane', () => {
  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  after(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('serves a custom resource with a status subresource and reports it through a watch', async () => {
    const group = `smoke${randomUUID().slice(0, 6)}.arcane.test`;
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' } } },
                    status: { type: 'object', properties: { phase: { type: 'string' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    await waitFor('CRD Established', async () => {
      const crd = await extensions.readCustomResourceDefinition({ name: `widgets.${group}` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });

    const path = `/apis/${group}/v1/namespaces/${namespace}/widgets`;
    await waitFor('the new CRD to serve objects', () => objects.list(`${group}/v1`, 'Widget', namespace));
    const seen: { phase: string; name: string | undefined; status: string | undefined }[] = [];
    let watchEnded: string | undefined;
    const watch = await new Watch(kc).watch(
      path,
      {},
      (phase, obj: KubernetesObject & { status?: { phase?: string } }) => {
        seen.push({ phase, name: obj.metadata?.name, status: obj.status?.phase });
      },
      (error: unknown) => {
        watchEnded = error instanceof Error ? error.message : 'closed';
      },
    );
    try {
      const widget = {
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: 'w1', namespace },
        spec: { size: 3 },
      };
      const created = await objects.create(widget);
      assert.equal(created.metadata?.name, 'w1');
      await waitFor('the watch to report the widget', () => seen.some((e) => e.phase === 'ADDED' && e.name === 'w1'), {
        abortIf: () => (watchEnded ? `the watch ended: ${watchEnded}` : undefined),
      });

      // status is a subresource: a status write through the main resource is ignored
      const statusPatch = {
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: 'w1', namespace },
        status: { phase: 'Ready' },
      };
      const viaMain = await objects.patch(
        statusPatch,
        undefined,
        undefined,
        undefined,
        undefined,
        'application/merge-patch+json',
      );
      assert.equal((viaMain as { status?: { phase?: string } }).status?.phase, undefined);

      // through the status subresource it is stored, and the watch reports it
      const viaStatus = (await kc
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObjectStatus(
          { group, version: 'v1', namespace, plural: 'widgets', name: 'w1', body: { status: { phase: 'Ready' } } },
          mergePatch,
        )) as { status?: { phase?: string } };
      assert.equal(viaStatus.status?.phase, 'Ready');
      await waitFor(
        'the watch to report the status write',
        () => seen.some((e) => e.phase === 'MODIFIED' && e.name === 'w1' && e.status === 'Ready'),
        { abortIf: () => (watchEnded ? `the watch ended: ${watchEnded}` : undefined) },
      );
    } finally {
      watch.abort();
    }
  });

  it('runs a Job to Complete on the fake node', async () => {
    await batch.createNamespacedJob({ namespace, body: job('completes') });
    await waitFor('Job completes', jobCondition('completes', 'Complete'));
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'job-name=completes' });
    assert.equal(pods.items[0]?.spec?.nodeName, 'kwok-node-0');
    assert.equal(pods.items[0]?.status?.phase, 'Succeeded');
  });

  it('fails a Job whose pods carry the failure label', async () => {
    await batch.createNamespacedJob({
      namespace,
      body: job('fails', { 'pod-container-running-failed.stage.kwok.x-k8s.io': 'true' }),
    });
    await waitFor('Job fails', jobCondition('fails', 'Failed'));
  });

  it('keeps a streaming pod running', async () => {
    await batch.createNamespacedJob({ namespace, body: job('streams', { 'arcane/backfilling': 'false' }) });
    await waitFor('pod running', async () => {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: 'job-name=streams' });
      return pods.items[0]?.status?.phase === 'Running';
    });
    const current = await batch.readNamespacedJob({ name: 'streams', namespace });
    assert.equal(current.status?.active, 1);
    assert.equal(current.status?.conditions?.length ?? 0, 0);
  });

  it('garbage-collects a child when its owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    const ownerReference = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: owner.metadata!.uid!,
      controller: true,
    };
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'child', ownerReferences: [ownerReference] } },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    await waitFor('child collected', async () => {
      const children = await core.listNamespacedConfigMap({ namespace, fieldSelector: 'metadata.name=child' });
      return children.items.length === 0;
    });
  });
});

/** Command lines of the processes whose arguments name `dir`. */
function processesUsing(dir: string): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')];
      } catch {
        return []; // exited while we looked
      }
    })
    .filter((command) => command.includes(dir));
}

describe('a local control plane that fails to start', () => {
  it('stops the processes it had started', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'arcane-failed-start-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const logDir = join(dir, 'logs');
    mkdirSync(logDir);
    const tools = { ...toolchain(), kubeApiserver: join(dir, 'missing', 'kube-apiserver') };
    await assert.rejects(startControlPlane({ tools, dir, logDir }), /kube-apiserver exited with 127/);
    assert.ok(existsSync(join(dir, 'etcd', 'member')), 'etcd had started');
    assert.deepEqual(processesUsing(dir), []);
  });

  it('starts again on other ports when one it picked was taken before kube-apiserver bound it', async (t) => {
    // kube-apiserver's port (the third pick) is held by someone else by the time it binds it.
    const { taken, picked, pickPort } = await takenPortPicker(t, 2);
    const dir = mkdtempSync(join(tmpdir(), 'arcane-taken-port-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const logDir = join(dir, 'logs');
    mkdirSync(logDir);
    const plane = await startControlPlane({ tools: toolchain(), dir, logDir, pickPort });
    t.after(() => plane.stop());
    assert.equal(picked[2], taken);
    assert.notEqual(new URL(plane.server).port, String(taken));
    assert.match(readFileSync(join(logDir, 'kube-apiserver.log'), 'utf8'), /address already in use/);
    // The second start is a whole cluster: it serves, and its fake node is Ready.
    const started = new KubeConfig();
    started.loadFromFile(plane.kubeconfigPath);
    const nodes = await started.makeApiClient(CoreV1Api).listNode();
    assert.deepEqual(
      nodes.items.map((node) => node.status?.conditions?.find((c) => c.type === 'Ready')?.status),
      ['True'],
    );
  });
});
