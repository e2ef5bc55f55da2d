// `arcane dev`: the whole operator on one machine — a Temporal dev server with its Web UI, a local Kubernetes
// control plane unless a cluster is named, the Arcane CRDs, and the worker and the watcher in this process.
import { KubeConfig } from '../kubernetes/client-node.ts';
import { mkdirSync } from 'node:fs';
import { startStack, startTemporalOnly } from '../stack/index.ts';
import { installArcaneCrds } from '../stack/manifests.ts';
import { stopSignal } from '../stack/process.ts';
import { processLogger } from '../operations/logger.ts';
import { startWatcher } from '../watcher/watcher.ts';
import { runWorker } from '../worker/run.ts';
import { parseWorkerConfig } from '../worker/config.ts';

export interface DevOptions {
  kubeconfig?: string;
  dir?: string;
}

/** After Ctrl-C, how long the watcher, the worker and the stack get to stop before everything is killed. */
const STOP_GRACE_MS = 60_000;

type Stop = () => Promise<void>;

export async function runDev(options: DevOptions): Promise<void> {
  // Listen for Ctrl-C before starting anything: a Ctrl-C that comes while the parts start stops them once they have
  // started, instead of killing the process halfway.
  const stopRequested = stopSignal(STOP_GRACE_MS);
  const stops: Stop[] = [];
  try {
    await startDev(options, stops);
  } catch (error) {
    // A failed start stops whatever did start, so nothing is left running. The start's error is the one reported; an
    // error while stopping is only printed.
    await stopInReverse(stops).catch((stopError: unknown) => console.error(stopError));
    throw error;
  }
  await stopRequested;
  await stopInReverse(stops);
}

/** Starts everything, adding each part's stop to `stops` as soon as it runs. */
async function startDev(options: DevOptions, stops: Stop[]): Promise<void> {
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const stack = options.kubeconfig ? undefined : await startStack({ dir: options.dir });
  const temporalOnly = stack ? undefined : await startTemporalOnly({ dir: options.dir });
  const temporal = stack?.temporal ?? temporalOnly!.temporal;
  stops.push(stack ? () => stack.stop() : () => temporal.stop());
  const kubeconfigPath = options.kubeconfig ?? stack!.kubeconfigPath;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  await installArcaneCrds(kubeConfig);

  const shared = {
    kubernetes: { kubeconfig: kubeconfigPath },
    temporal: { address: temporal.address, namespace: temporal.namespace },
    log: { level: 'info' as const, pretty: true },
  };
  // Ports 0: free ones, so dev never collides with anything else on the machine.
  const worker = await runWorker(
    parseWorkerConfig({ ...shared, health: { port: 0, host: '127.0.0.1' }, metrics: { port: 0, host: '127.0.0.1' } }),
  );
  stops.push(() => worker.stop());
  const watcher = await startWatcher(
    {
      ...shared,
      health: { port: 0, host: '127.0.0.1' },
      metrics: { port: 0, host: '127.0.0.1' },
      leaderElection: { enabled: false },
    },
    { logger: processLogger(shared.log, 'watcher') },
  );
  stops.push(() => watcher.stop());
  await watcher.ready(60_000);
  console.log(`arcane-temporal is running locally (Ctrl-C stops everything it started)
  export KUBECONFIG=${kubeconfigPath}
  Temporal address:   ${temporal.address} (namespace ${temporal.namespace})
  Temporal Web UI:    ${temporal.uiUrl}
  watcher health:     http://127.0.0.1:${watcher.ports.health}/readyz
  watcher metrics:    http://127.0.0.1:${watcher.ports.metrics}/metrics
  component logs:     ${stack?.logDir ?? temporalOnly!.logDir}
Apply a plugin's CRDs, StreamClass and StreamingJobTemplates, then create streams with kubectl.`);
}

/**
 * Stops the parts in the reverse order of starting: the watcher first, the stack last. Every part is stopped even
 * when an earlier one fails to stop.
 */
async function stopInReverse(stops: Stop[]): Promise<void> {
  const failures: unknown[] = [];
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'arcane dev did not stop cleanly');
}
