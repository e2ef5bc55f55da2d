// Kubernetes for integration tests: apply YAML files, wait for CRDs, give each test its own namespace.
import type { TestContext } from 'node:test';
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { applyCrds, applyYaml, installArcaneCrds, TEST_PLUGIN, type TestPluginFiles } from '../../stack/manifests.ts';

export {
  ARCANE_CRD_FILES,
  applyCrds,
  applyObjects,
  applyYaml,
  installArcaneCrds,
  loadYaml,
  TEST_PLUGIN,
  waitForCrdsEstablished,
} from '../../stack/manifests.ts';

/** The API server's own explanation of a failed call (its Status message), else the error text. */
export function apiErrorMessage(error: unknown): string {
  if (!(error instanceof ApiException)) return error instanceof Error ? error.message : String(error);
  const body: unknown = error.body;
  const status = typeof body === 'string' ? (JSON.parse(body) as unknown) : body;
  if (typeof status === 'object' && status !== null && 'message' in status && typeof status.message === 'string') {
    return status.message;
  }
  return `${error.code}: ${error.message}`;
}

/**
 * A test plugin's CRDs and StreamClasses (cluster-wide, idempotent), and its templates and Secret in `namespace`; the
 * project's own test plugin unless `plugin` names another (stack/manifests.ts).
 */
export async function installTestPlugin(
  kc: KubeConfig,
  namespace: string,
  plugin: TestPluginFiles = TEST_PLUGIN,
): Promise<void> {
  await installArcaneCrds(kc);
  await applyCrds(kc, plugin.crdFiles);
  await applyYaml(kc, [plugin.streamClassFile]);
  await applyYaml(kc, plugin.namespacedFiles, namespace);
}

/** A fresh namespace for one test, deleted when the test ends. */
export async function testNamespace(t: TestContext, kc: KubeConfig, prefix: string): Promise<string> {
  const api = kc.makeApiClient(CoreV1Api);
  const created = await api.createNamespace({ body: { metadata: { generateName: `${prefix}-` } } });
  const name = created.metadata?.name ?? '';
  t.after(async () => {
    await api.deleteNamespace({ name });
  });
  return name;
}

/**
 * A ConfigMap the Job owns that cannot go (a finalizer holds it until the test ends, or until the function returned is
 * called): a deletion of the Job in the foreground waits for it, as it would for a pod. The fake node lets pods go at
 * once, whatever holds them.
 */
export async function holdForegroundDeletion(
  t: TestContext,
  kc: KubeConfig,
  job: { namespace: string; name: string; uid: string },
): Promise<() => Promise<void>> {
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace } = job;
  const owner = { apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, blockOwnerDeletion: true };
  const name = `owned-by-${job.name}`;
  const metadata = { name, finalizers: ['example.com/keep'], ownerReferences: [owner] };
  await core.createNamespacedConfigMap({ namespace, body: { metadata } });
  const release = async () => {
    const body = { metadata: { finalizers: null } };
    await core.patchNamespacedConfigMap({ name, namespace, body }, mergePatch);
  };
  t.after(() => release().catch(() => undefined));
  return release;
}
