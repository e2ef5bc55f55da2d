// A real worker (stream workflow + real activities) on the shared stack, and what tests need to drive streams.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestContext } from 'node:test';
import { KubernetesObjectApi, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { waitFor } from '../../stack/wait.ts';
import { startStreamWorker, workflowsPath } from '../../worker/worker.ts';
import type { LifecycleConfig } from '../../workflows/lifecycle.ts';
import {
  jobObservedSignal,
  stateQuery,
  streamObservedSignal,
  type StreamKey,
  type StreamStatus,
  type StreamWorkflowInput,
} from '../../workflows/messages.ts';
import { stackEnv } from './stack-env.ts';

/** Short delays so restart and backoff scenarios finish in seconds. */
export const testLifecycle: Partial<LifecycleConfig> = {
  restartBackoffInitialMs: 1_000,
  restartBackoffFactor: 2,
  restartBackoffCapMs: 4_000,
  maxRestarts: 2,
  stablePeriodMs: 60_000,
  recheckMs: 2_000,
};

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quiet });
  return bundle;
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

export interface WorkerHarness {
  client: Client;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Starts a worker with the real activities on a fresh task queue. */
export async function startWorkerHarness(kc: KubeConfig): Promise<WorkerHarness> {
  const env = stackEnv();
  Runtime.install({ logger: quiet });
  const temporal = temporalSettingsSchema.parse({
    address: env.temporalAddress,
    namespace: env.temporalNamespace,
    taskQueue: `streams-${randomUUID()}`,
  });
  const client = await connectClient(temporal);
  const worker = await startStreamWorker({
    temporal,
    kubeConfig: kc,
    logger: pino({ level: 'warn' }),
    workflowBundle: await workflowBundle(),
  });
  return {
    client,
    taskQueue: temporal.taskQueue,
    async stop() {
      await worker.shutdown();
      await client.connection.close();
    },
  };
}

/** Starts (or signals) a stream's workflow the way the watcher does. */
export async function observeStream(
  harness: WorkerHarness,
  stream: StreamKey,
  extra: Partial<StreamWorkflowInput> = {},
): Promise<WorkflowHandle> {
  return harness.client.workflow.signalWithStart('streamWorkflow', {
    workflowId: streamWorkflowId(stream),
    taskQueue: harness.taskQueue,
    args: [{ stream, lifecycle: testLifecycle, ...extra } satisfies StreamWorkflowInput],
    signal: streamObservedSignal,
    signalArgs: [{ reason: 'test' }],
  });
}

/**
 * Forwards every change of the stream's Jobs and CronJobs to its workflow as `jobObserved`, as the watcher does,
 * until the test ends.
 */
export async function forwardWorkloadEvents(t: TestContext, kc: KubeConfig, handle: WorkflowHandle, stream: StreamKey) {
  const watches = await Promise.all(
    ['/apis/batch/v1/namespaces/%s/jobs', '/apis/batch/v1/namespaces/%s/cronjobs'].map((path) =>
      new Watch(kc).watch(
        path.replace('%s', stream.namespace),
        { labelSelector: `arcane/stream-id=${stream.name}` },
        (type: string, object: KubernetesObject) => {
          handle.signal(jobObservedSignal, { reason: `${object.kind ?? 'workload'} ${type}` }).catch(() => undefined);
        },
        () => undefined,
      ),
    ),
  );
  t.after(() => watches.forEach((watch) => watch.abort()));
}

/** Waits until the stream workflow's `state` query satisfies `predicate`; returns that state. */
export async function waitForState(
  handle: WorkflowHandle,
  description: string,
  predicate: (state: StreamStatus) => boolean,
  timeoutMs = 30_000,
): Promise<StreamStatus> {
  let last: StreamStatus | undefined;
  try {
    return await waitFor(
      description,
      async () => {
        last = await handle.query(stateQuery);
        return predicate(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last state: ${JSON.stringify(last)}`, { cause: error });
  }
}

/** Creates a stream object and returns its key for class `streamClass`. */
export async function createStream(kc: KubeConfig, streamClass: string, stream: KubernetesObject): Promise<StreamKey> {
  const created = await KubernetesObjectApi.makeApiClient(kc).create(stream);
  return { streamClass, namespace: created.metadata!.namespace!, name: created.metadata!.name! };
}

/** With RECORD_HISTORIES=1, keeps the workflow's history as a replay fixture (tests/fixtures/histories/). */
export async function recordHistory(handle: WorkflowHandle, fixture: string): Promise<string> {
  const history = historyToJSON(await handle.fetchHistory());
  if (process.env.RECORD_HISTORIES === '1') {
    writeFileSync(join(import.meta.dirname, '../fixtures/histories', `stream-${fixture}.json`), history);
  }
  return history;
}
