// Kubernetes for integration tests: apply YAML files, wait for CRDs, give each test its own namespace.
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

const REPO_ROOT = new URL('../../', import.meta.url);
const FIELD_MANAGER = 'arcane-tests';

export const ARCANE_CRD_FILES = [
  'deploy/crds/streamclasses.streaming.sneaksanddata.com.yaml',
  'deploy/crds/streamingjobtemplates.streaming.sneaksanddata.com.yaml',
  'deploy/crds/backfillrequests.streaming.sneaksanddata.com.yaml',
];

/** The test plugin (tests/fixtures/plugin): cluster-wide parts, and parts applied into a test's namespace. */
export const TEST_PLUGIN = {
  crdFiles: ['tests/fixtures/plugin/crd-mockstream.yaml', 'tests/fixtures/plugin/crd-mockstreamv2.yaml'],
  streamClassFile: 'tests/fixtures/plugin/streamclasses.yaml',
  namespacedFiles: ['tests/fixtures/plugin/templates.yaml', 'tests/fixtures/plugin/secret.yaml'],
  streamsFile: 'tests/fixtures/plugin/streams.yaml',
} as const;

/** Every document of a YAML file, path relative to the repository root. */
export function loadYaml(file: string): KubernetesObject[] {
  return loadAllYaml(readFileSync(new URL(file, REPO_ROOT), 'utf8')) as KubernetesObject[];
}

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

// Discovery lags a moment behind a newly Established CRD.
function isNotYetDiscovered(error: unknown): boolean {
  return (
    error instanceof Error && /Unrecognized API version and kind|Failed to fetch resource metadata/.test(error.message)
  );
}

/**
 * Server-side applies the objects, into `namespace` when given (only for namespaced objects). Retries while a
 * freshly Established CRD is not yet in discovery.
 */
export async function applyObjects(
  kc: KubeConfig,
  objects: KubernetesObject[],
  namespace?: string,
): Promise<KubernetesObject[]> {
  const applied: KubernetesObject[] = [];
  for (const object of objects) {
    const body = namespace ? { ...object, metadata: { ...object.metadata, namespace } } : object;
    for (let attempt = 1; ; attempt++) {
      // A new client each time: the client caches discovery, which misses CRDs created after it first looked.
      const client = KubernetesObjectApi.makeApiClient(kc);
      try {
        applied.push(
          await client.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
        );
        break;
      } catch (error) {
        if (!isNotYetDiscovered(error) || attempt >= 20) throw error;
        await sleep(250);
      }
    }
  }
  return applied;
}

/** Server-side applies every object of the YAML files (paths relative to the repository root). */
export async function applyYaml(kc: KubeConfig, files: readonly string[], namespace?: string) {
  return applyObjects(
    kc,
    files.flatMap((file) => loadYaml(file)),
    namespace,
  );
}

/** Waits until every named CRD has the condition Established=True. */
export async function waitForCrdsEstablished(kc: KubeConfig, names: readonly string[], timeoutMs = 30_000) {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((condition) => condition.type === 'Established');
      if (established?.status === 'True') break;
      if (Date.now() > deadline) {
        throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(crd.status?.conditions)}`);
      }
      await sleep(100);
    }
  }
}

/** Applies CRD files and waits until their CRDs are Established; returns the CRD names. */
export async function applyCrds(kc: KubeConfig, files: readonly string[]): Promise<string[]> {
  const names = (await applyYaml(kc, files)).map((crd) => crd.metadata?.name ?? '');
  await waitForCrdsEstablished(kc, names);
  return names;
}

/** The Arcane CRDs (deploy/crds), Established. */
export async function installArcaneCrds(kc: KubeConfig): Promise<string[]> {
  return applyCrds(kc, ARCANE_CRD_FILES);
}

/** The test plugin's CRDs and StreamClasses (cluster-wide, idempotent), and its templates and Secret in `namespace`. */
export async function installTestPlugin(kc: KubeConfig, namespace: string): Promise<void> {
  await installArcaneCrds(kc);
  await applyCrds(kc, TEST_PLUGIN.crdFiles);
  await applyYaml(kc, [TEST_PLUGIN.streamClassFile]);
  await applyYaml(kc, TEST_PLUGIN.namespacedFiles, namespace);
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
