// `arcane dev`: the whole operator on one machine — a Temporal dev server with its Web UI, a local Kubernetes
// control plane unless a cluster is named, the Arcane CRDs, and the worker and the watcher in this process.
import { KubeConfig } from '@kubernetes/client-node';
import { mkdirSync } from 'node:fs';
import { startStack, startTemporalOnly } from '../stack/index.ts';
import { installArcaneCrds } from '../stack/manifests.ts';
import { processLogger } from '../operations/logger.ts';
import { startWatcher } from '../watcher/watcher.ts';
import { runWorker } from '../worker/main.ts';
import { parseWorkerConfig } from '../worker/config.ts';

export interface DevOptions {
  kubeconfig?: string;
  dir?: string;
}

export async function runDev(options: DevOptions): Promise<void> {
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const stack = options.kubeconfig ? undefined : await startStack({ dir: options.dir });
  const temporalOnly = stack ? undefined : await startTemporalOnly({ dir: options.dir });
  const temporal = stack?.temporal ?? temporalOnly!.temporal;
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
  const watcher = await startWatcher(
    {
      ...shared,
      health: { port: 0, host: '127.0.0.1' },
      metrics: { port: 0, host: '127.0.0.1' },
      leaderElection: { enabled: false },
    },
    { logger: processLogger(shared.log, 'watcher') },
  );
  await watcher.ready(60_000);
  console.log(`arcane-temporal is running locally (Ctrl-C stops everything it started)
  export KUBECONFIG=${kubeconfigPath}
  Temporal address:   ${temporal.address} (namespace ${temporal.namespace})
  Temporal Web UI:    ${temporal.uiUrl}
  watcher health:     http://127.0.0.1:${watcher.ports.health}/readyz
  watcher metrics:    http://127.0.0.1:${watcher.ports.metrics}/metrics
  component logs:     ${stack?.logDir ?? temporalOnly!.logDir}
Apply a plugin's CRDs, StreamClass and StreamingJobTemplates, then create streams with kubectl.`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await watcher.stop();
  await worker.stop();
  await (stack ? stack.stop() : temporal.stop());
}
