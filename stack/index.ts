// Starts and stops the whole local stack: a Temporal dev server and a Kubernetes control plane.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './kubernetes.ts';
import { startTemporalServer, type TemporalServer } from './temporal.ts';
import { toolchain } from './toolchain.ts';

export interface Stack {
  dir: string;
  logDir: string;
  kubeconfigPath: string;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  temporal: TemporalServer;
  kubernetes: ControlPlane;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Working folder (data, kubeconfig, logs); a fresh temporary one by default. */
  dir?: string;
  /** Request rate of the controller-manager and the scheduler (the benchmark checks that the default suffices). */
  controllerApiQps?: number;
}

/** A Temporal dev server alone, for a cluster that already exists. */
export async function startTemporalOnly(
  options: StackOptions = {},
): Promise<{ temporal: TemporalServer; logDir: string }> {
  const tools = toolchain();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'arcane-stack-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  return { temporal: await startTemporalServer({ binary: tools.temporal, dir, logDir }), logDir };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const tools = toolchain();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'arcane-stack-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const [temporal, kubernetes] = await Promise.allSettled([
    startTemporalServer({ binary: tools.temporal, dir, logDir }),
    startControlPlane({ tools, dir, logDir, controllerApiQps: options.controllerApiQps }),
  ]);
  if (temporal.status === 'rejected' || kubernetes.status === 'rejected') {
    await Promise.allSettled([
      temporal.status === 'fulfilled' ? temporal.value.stop() : undefined,
      kubernetes.status === 'fulfilled' ? kubernetes.value.stop() : undefined,
    ]);
    const reasons = [temporal, kubernetes].flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    throw new Error(`the local stack did not start (logs in ${logDir}):\n${reasons.join('\n')}`);
  }
  return {
    dir,
    logDir,
    kubeconfigPath: kubernetes.value.kubeconfigPath,
    temporalAddress: temporal.value.address,
    temporalNamespace: temporal.value.namespace,
    temporalUiUrl: temporal.value.uiUrl,
    temporal: temporal.value,
    kubernetes: kubernetes.value,
    async stop() {
      await Promise.all([temporal.value.stop(), kubernetes.value.stop()]);
    },
  };
}
