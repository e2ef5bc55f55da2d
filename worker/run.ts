// The worker process itself, loaded by `arcane worker` once its configuration is read: the Temporal SDK (and its
// native runtime) is loaded only by the process that runs workflows, not by every use of the `arcane` command.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { healthHandler, listen, metricsHandler } from '../operations/health.ts';
import { limitHeapGrowth } from '../operations/heap.ts';
import { loadKubeConfig } from '../operations/kubeconfig.ts';
import { processLogger } from '../operations/logger.ts';
import type { Running } from '../operations/run-process.ts';
import type { WorkerConfig } from './config.ts';
import { withSdkMetrics } from './sdk-metrics.ts';
import { startStreamWorker } from './worker.ts';

export async function runWorker(config: WorkerConfig): Promise<Running> {
  limitHeapGrowth(config.heap.growthPercent);
  const log = processLogger(config.log, 'worker');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let running = false;
  // Probes answer while the worker starts (bundling the workflow code takes a few seconds): alive, not ready.
  const health = await listen(
    config.health.host,
    config.health.port,
    healthHandler({
      readiness: () => ({ ready: running, reasons: running ? [] : ['the worker is starting'] }),
      isLeader: () => false,
    }),
  );
  // Before the worker connects: the SDK runtime takes its metrics exporter only when it is created.
  const exposition = await withSdkMetrics(registry, log);
  const metrics = await listen(config.metrics.host, config.metrics.port, metricsHandler(exposition));
  const worker = await startStreamWorker({
    temporal: config.temporal,
    kubeConfig: loadKubeConfig(config.kubernetes),
    logger: log,
    registry,
    workflowCacheMib: config.workflowCache.memoryMib,
    observationCache: config.observationCache.enabled
      ? { catchUpMs: config.observationCache.catchUp, watchNamespace: config.watchNamespace }
      : undefined,
  });
  running = true;
  worker.running.catch((error: unknown) => {
    log.fatal({ err: error }, 'the worker stopped on an error');
    process.exit(1);
  });
  return {
    async stop() {
      running = false;
      await worker.shutdown();
      await Promise.all([health.close(), metrics.close()]);
    },
  };
}
