// Applying manifests to a cluster: the CRDs for `arcane dev`, and the fixtures of the tests.
import { readFileSync } from 'node:fs';
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

const REPO_ROOT = new URL('../', import.meta.url);
const FIELD_MANAGER = 'arcane-dev';

/** Every document of a YAML file, path relative to the repository root. */
export function loadYaml(file: string): KubernetesObject[] {
  return loadAllYaml(readFileSync(new URL(file, REPO_ROOT), 'utf8')) as KubernetesObject[];
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
    const outcome = await waitFor(
      `${object.kind} ${object.metadata?.name} applied`,
      async () => {
        // A new client each time: the client caches discovery, which misses CRDs created after it first looked.
        const client = KubernetesObjectApi.makeApiClient(kc);
        try {
          return {
            object: await client.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
          };
        } catch (error) {
          return isNotYetDiscovered(error) ? undefined : { error };
        }
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    if ('error' in outcome) throw outcome.error;
    applied.push(outcome.object);
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
  for (const name of names) {
    await waitFor(
      `CRD ${name} Established`,
      async () => {
        const crd = await api.readCustomResourceDefinition({ name });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { timeoutMs },
    );
  }
}

/** Applies CRD files and waits until their CRDs are Established; returns the CRD names. */
export async function applyCrds(kc: KubeConfig, files: readonly string[]): Promise<string[]> {
  const names = (await applyYaml(kc, files)).map((crd) => crd.metadata?.name ?? '');
  await waitForCrdsEstablished(kc, names);
  return names;
}

/** The Arcane CRDs (deploy/crds), Established. */
export const ARCANE_CRD_FILES = [
  'deploy/crds/streamclasses.streaming.sneaksanddata.com.yaml',
  'deploy/crds/streamingjobtemplates.streaming.sneaksanddata.com.yaml',
  'deploy/crds/backfillrequests.streaming.sneaksanddata.com.yaml',
];

export async function installArcaneCrds(kc: KubeConfig): Promise<string[]> {
  return applyCrds(kc, ARCANE_CRD_FILES);
}

/**
 * The project's test plugin (tests/fixtures/plugin), for the tests, the demo and the benchmark: cluster-wide parts, and
 * parts applied into a namespace.
 */
export const TEST_PLUGIN = {
  crdFiles: ['tests/fixtures/plugin/crd-mockstream.yaml', 'tests/fixtures/plugin/crd-mockstreamv2.yaml'],
  streamClassFile: 'tests/fixtures/plugin/streamclasses.yaml',
  namespacedFiles: ['tests/fixtures/plugin/templates.yaml', 'tests/fixtures/plugin/secret.yaml'],
  streamsFile: 'tests/fixtures/plugin/streams.yaml',
} as const;

/** A second test plugin shaped like the production Arcane plugins (tests/fixtures/plugin-production), in the same parts. */
export const PRODUCTION_PLUGIN = {
  crdFiles: [
    'tests/fixtures/plugin-production/crd-tablestream.yaml',
    'tests/fixtures/plugin-production/crd-tablestreambeta.yaml',
  ],
  streamClassFile: 'tests/fixtures/plugin-production/streamclasses.yaml',
  namespacedFiles: ['tests/fixtures/plugin-production/templates.yaml', 'tests/fixtures/plugin-production/secret.yaml'],
  streamsFile: 'tests/fixtures/plugin-production/streams.yaml',
} as const;

export type TestPluginFiles = typeof TEST_PLUGIN | typeof PRODUCTION_PLUGIN;

/** Installs the cluster-wide parts of the test plugins (both by default): their CRDs (Established) and StreamClasses. */
export async function installTestPluginClasses(
  kc: KubeConfig,
  plugins: readonly TestPluginFiles[] = [TEST_PLUGIN, PRODUCTION_PLUGIN],
): Promise<void> {
  await applyCrds(
    kc,
    plugins.flatMap((plugin) => plugin.crdFiles),
  );
  await applyYaml(
    kc,
    plugins.map((plugin) => plugin.streamClassFile),
  );
}
