// The worker process core: stream workflows and Kubernetes activities on one task queue; stateless.
import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createActivities } from '../activities/index.ts';
import { connectionOptions, type TemporalSettings } from '../client/connection.ts';
import { activityLatency } from './activity-latency.ts';
import { ensureSearchAttributes } from './search-attributes.ts';
import { workflowBundlePath } from './workflow-bundle.ts';

export { workflowsPath } from './workflow-bundle.ts';

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
}

export interface StreamWorker {
  /** Resolves when the worker has stopped; rejects if it failed. */
  running: Promise<void>;
  shutdown(): Promise<void>;
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
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowBundle: options.workflowBundle ?? { codePath: await workflowBundlePath(logger) },
    activities: createActivities({ kubeConfig, logger, registry: options.registry }),
    interceptors: { activity: [activityLatency(options.registry)] },
  });
  logger.info({ taskQueue: temporal.taskQueue, namespace: temporal.namespace }, 'worker started');
  const running = worker.run().finally(() => nativeConnection.close());
  return {
    running,
    async shutdown() {
      // The SDK shuts its workers down on SIGTERM and SIGINT by itself; a second shutdown would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
