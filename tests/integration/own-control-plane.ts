// A Kubernetes control plane of one test file's own (no Temporal), for tests that change what the shared stack's
// other files rely on (a CRD, the API server): started before the file, stopped after it, its folder kept and named
// when a test failed.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../stack/kubernetes.ts';
import { toolchain } from '../../stack/toolchain.ts';

export interface OwnControlPlane {
  /** The cluster admin (the control plane's token); only inside the file's tests and hooks. */
  readonly kubeConfig: KubeConfig;
}

/** Registers the file's hooks: a fresh control plane with `namespaces` created, for the whole file. */
export function useOwnControlPlane(prefix: string, namespaces: readonly string[] = []): OwnControlPlane {
  let dir: string | undefined;
  let plane: ControlPlane | undefined;
  let kubeConfig: KubeConfig | undefined;
  let failed = false;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    const logDir = join(dir, 'logs');
    mkdirSync(logDir);
    plane = await startControlPlane({ tools: toolchain(), dir, logDir });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
  });

  afterEach((t) => {
    // Test contexts have `passed` too, though Node's types give it to suites only.
    if ('passed' in t && !t.passed) failed = true;
  });

  after(async () => {
    await plane?.stop();
    if (!dir) return;
    if (failed) console.log(`control plane folder kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  return {
    get kubeConfig() {
      if (!kubeConfig) throw new Error('the control plane is not started: use it inside the tests of its file');
      return kubeConfig;
    },
  };
}
