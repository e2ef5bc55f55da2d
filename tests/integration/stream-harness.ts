// A real worker (stream workflow + real activities) on the shared stack, and what tests need to drive streams.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { TestContext } from 'node:test';
import {
  CustomObjectsApi,
  KubernetesObjectApi,
  Watch,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import {
  connectClient,
  connectionOptions,
  temporalSettingsSchema,
  type TemporalSettings,
} from '../../client/connection.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAM_CLASSES } from '../../resources/api-group.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import { createActivities, type ActivityOptions } from '../../activities/index.ts';
import { startStreamWorker, workflowsPath } from '../../worker/worker.ts';
import type { LifecycleConfig } from '../../workflows/lifecycle.ts';
import {
  jobObservedSignal,
  stateQuery,
  streamObservedSignal,
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

let runtimeInstalled = false;

/** The SDK's runtime is installed once per process; several harnesses share it. */
function installRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: quiet });
  runtimeInstalled = true;
}

export interface WorkerHarness {
  client: Client;
  taskQueue: string;
  /**
   * Replaces the running worker with one for workflow and activity tasks ('all'), for workflow tasks only, or with
   * none: the tasks no worker runs wait on the server, which holds a workflow at a chosen point.
   */
  runWorker(part: 'all' | 'workflows' | 'nothing'): Promise<void>;
  /**
   * Replaces the running worker with a full one whose observations wait until `release` is called: a workflow is
   * held in the middle of a round (its rounds are local activities, run inside the workflow task).
   */
  holdObservations(): Promise<{ observing: () => boolean; release: () => void }>;
  /** Replaces the running worker with a full one whose activities (no observation cache) have these options. */
  runActivitiesWith(options: Pick<ActivityOptions, 'roundRetryMs'>): Promise<void>;
  stop(): Promise<void>;
}

interface RunningWorker {
  shutdown(): Promise<void>;
}

/** A worker for workflow tasks, and for activity tasks when given activities; `onShutdown` runs before it stops. */
async function startPlainWorker(
  temporal: TemporalSettings,
  activities?: object,
  onShutdown: () => void = () => {},
): Promise<RunningWorker> {
  const connection = await NativeConnection.connect(connectionOptions(temporal));
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowBundle: await workflowBundle(),
    ...(activities === undefined ? {} : { activities }),
  });
  const running = worker.run().finally(() => connection.close());
  return {
    async shutdown() {
      onShutdown();
      worker.shutdown();
      await running;
    },
  };
}

/** Starts a worker with the real activities on a fresh task queue. */
export async function startWorkerHarness(kc: KubeConfig): Promise<WorkerHarness> {
  const env = stackEnv();
  installRuntime();
  const temporal = temporalSettingsSchema.parse({
    address: env.temporalAddress,
    namespace: env.temporalNamespace,
    taskQueue: `streams-${randomUUID()}`,
  });
  const client = await connectClient(temporal);
  const startAll = async () =>
    startStreamWorker({
      temporal,
      kubeConfig: kc,
      logger: pino({ level: 'warn' }),
      workflowBundle: await workflowBundle(),
    });
  let worker: RunningWorker | undefined = await startAll();
  return {
    client,
    taskQueue: temporal.taskQueue,
    async runWorker(part) {
      await worker?.shutdown();
      worker = undefined;
      if (part === 'all') worker = await startAll();
      if (part === 'workflows') worker = await startPlainWorker(temporal);
    },
    async holdObservations() {
      await worker?.shutdown();
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      let observing = false;
      const activities = createActivities({ kubeConfig: kc, logger: pino({ level: 'warn' }) });
      const observeStream = async (stream: StreamKey) => {
        observing = true;
        await gate;
        return activities.observeStream(stream);
      };
      worker = await startPlainWorker(temporal, { ...activities, observeStream }, release);
      return { observing: () => observing, release };
    },
    async runActivitiesWith(options) {
      await worker?.shutdown();
      worker = await startPlainWorker(
        temporal,
        createActivities({ kubeConfig: kc, logger: pino({ level: 'warn' }), ...options }),
      );
    },
    async stop() {
      await worker?.shutdown();
      await client.connection.close();
    },
  };
}

/** Starts (or signals) a stream's workflow the way the watcher does. */
export async function observeStream(
  harness: Pick<WorkerHarness, 'client' | 'taskQueue'>,
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
  // Once the test ends nothing more is sent, and what is on its way arrives (or fails) before the test's Temporal
  // connection may close: a call on a closed connection fails outside any promise.
  let ended = false;
  const sending = new Set<Promise<unknown>>();
  const watches = await Promise.all(
    ['/apis/batch/v1/namespaces/%s/jobs', '/apis/batch/v1/namespaces/%s/cronjobs'].map((path) =>
      new Watch(kc).watch(
        path.replace('%s', stream.namespace),
        { labelSelector: `arcane/stream-id=${stream.name}` },
        (type: string, object: KubernetesObject) => {
          if (ended) return;
          const sent = handle
            .signal(jobObservedSignal, { reason: `${object.kind ?? 'workload'} ${type}` })
            .catch(() => undefined);
          sending.add(sent);
          void sent.finally(() => sending.delete(sent));
        },
        () => undefined,
      ),
    ),
  );
  t.after(async () => {
    ended = true;
    watches.forEach((watch) => watch.abort());
    await Promise.all(sending);
  });
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

/** Waits until the workflow waits for input: no activity and no workflow task outstanding. */
export async function waitForIdle(handle: WorkflowHandle): Promise<void> {
  await waitFor('the workflow to wait for input', async () => {
    const { raw } = await handle.describe();
    return (raw.pendingActivities?.length ?? 0) === 0 && !raw.pendingWorkflowTask;
  });
}

/** A StreamClass of the test's own (MockStream unless `spec` says otherwise), deleted when the test ends. */
export async function createStreamClass(
  t: TestContext,
  kc: KubeConfig,
  prefix: string,
  spec: Record<string, unknown> = {},
): Promise<string> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  const location = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAM_CLASSES.plural };
  const body = {
    apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`,
    kind: STREAM_CLASSES.kind,
    metadata: { name },
    spec: {
      apiGroupRef: ARCANE_GROUP,
      apiVersion: 'v1beta1',
      kindRef: 'MockStream',
      pluralName: 'mockstreams',
      ...spec,
    },
  };
  await api.createClusterCustomObject({ ...location, body });
  t.after(() => api.deleteClusterCustomObject({ ...location, name }));
  return name;
}

/** Every payload of an event decoded, e.g. the input a run continued as new with, or an activity's summary. */
export function decoded<T>(payloads: { data?: Uint8Array | null; metadata?: unknown }[] | null | undefined): T[] {
  return (payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload<T>(payload as Payload));
}
