// The worker process core: stream workflows and Kubernetes activities on one task queue; stateless.
import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ClusterCache } from '../activities/cluster-cache.ts';
import { createActivities } from '../activities/index.ts';
import { cacheRestarts } from '../activities/metrics.ts';
import { kubernetesApiCalls } from '../kubernetes/api-calls.ts';
import { connectionOptions, type TemporalSettings } from '../client/connection.ts';
import { activityLatency } from './activity-latency.ts';
import { ensureSearchAttributes } from './search-attributes.ts';
import { workflowBundlePath } from './workflow-bundle.ts';

export { workflowsPath } from './workflow-bundle.ts';

/**
 * The Temporal SDK's own estimate for workflows that share one V8 context: 600 cached workflows per GiB. The SDK's
 * default sizes the cache from the whole heap limit (2,310 workflows on a 4 GiB heap), so every stream stays cached
 * and the worker's memory grows with the number of streams. A memory budget keeps it flat instead; a workflow that
 * has left the cache simply replays its history when it next has work.
 */
const CACHED_WORKFLOWS_PER_GIB = 600;

/** How many workflows stay cached within `memoryMib`: 0 turns the cache off, otherwise at least the SDK's minimum 2. */
export function cachedWorkflows(memoryMib: number): number {
  if (memoryMib === 0) return 0;
  return Math.max(2, Math.floor((memoryMib * CACHED_WORKFLOWS_PER_GIB) / 1_024));
}

/** The SDK's default number of workflow tasks at once, lowered to the cache size (it may not exceed it). */
const WORKFLOW_TASKS_AT_ONCE = 40;

export interface StreamWorkerOptions {
  temporal: TemporalSettings;
  kubeConfig: KubeConfig;
  logger: Logger;
  /**
   * A prebuilt workflow bundle (tests share one); by default the bundle of the current code, built by a child process
   * the first time (worker/workflow-bundle.ts) so the webpack run's memory is not the worker's.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Where the activity latency histogram and the activities' Kubernetes API call counter are registered. */
  registry?: Registry;
  /** Memory (MiB) the cached workflows may take; the SDK's heap-derived default when not given. */
  workflowCacheMib?: number;
  /** Observations read a cache kept by watches (absent: every observation reads the API server). */
  observationCache?: ObservationCacheOptions;
}

export interface ObservationCacheOptions {
  /** How long an observation waits for the cache to catch up before it reads the API server. */
  catchUpMs: number;
  /** Only this namespace's objects (StreamClasses are cluster-wide). */
  watchNamespace?: string;
}

function startCache(options: StreamWorkerOptions): ClusterCache | undefined {
  const settings = options.observationCache;
  if (!settings) return undefined;
  return new ClusterCache({
    kubeConfig: options.kubeConfig,
    log: options.logger.child({ component: 'observation-cache' }),
    metrics: { apiCalls: kubernetesApiCalls(options.registry), informerRestarts: cacheRestarts(options.registry) },
    watchNamespace: settings.watchNamespace,
    catchUpMs: settings.catchUpMs,
    watchdogMs: 300_000,
    listTimeoutMs: 60_000,
    restartBackoff: { initialMs: 1_000, maxMs: 30_000 },
  });
}

export interface StreamWorker {
  /** Resolves when the worker has stopped; rejects if it failed. */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

function cacheOptions(memoryMib: number | undefined): Partial<WorkerOptions> {
  if (memoryMib === undefined) return {};
  const maxCachedWorkflows = cachedWorkflows(memoryMib);
  const tasks =
    maxCachedWorkflows === 0 ? WORKFLOW_TASKS_AT_ONCE : Math.min(WORKFLOW_TASKS_AT_ONCE, maxCachedWorkflows);
  return { maxCachedWorkflows, maxConcurrentWorkflowTaskExecutions: tasks };
}

export async function startStreamWorker(options: StreamWorkerOptions): Promise<StreamWorker> {
  const { temporal, kubeConfig, logger } = options;
  const connection = await Connection.connect(connectionOptions(temporal));
  try {
    const added = await ensureSearchAttributes(connection, temporal.namespace);
    if (added.length > 0) logger.info({ added }, 'registered search attributes');
  } finally {
    await connection.close();
  }
  const nativeConnection = await NativeConnection.connect(connectionOptions(temporal));
  const cache = startCache(options);
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowBundle: options.workflowBundle ?? { codePath: await workflowBundlePath(logger) },
    activities: createActivities({ kubeConfig, logger, registry: options.registry, cache }),
    interceptors: { activity: [activityLatency(options.registry)] },
    ...cacheOptions(options.workflowCacheMib),
  });
  logger.info({ taskQueue: temporal.taskQueue, namespace: temporal.namespace }, 'worker started');
  const running = worker.run().finally(async () => {
    await cache?.stop();
    await nativeConnection.close();
  });
  return {
    running,
    async shutdown() {
      // The SDK shuts its workers down on SIGTERM and SIGINT by itself; a second shutdown would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
