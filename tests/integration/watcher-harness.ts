// What the watcher's integration tests share: a watcher with short timings on its own namespace and task queue, a
// Temporal client, the signals a workflow's history shows, and plugin streams to create, change and delete.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { pino } from 'pino';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../../resources/api-group.ts';
import { waitFor } from '../../stack/wait.ts';
import type { WatcherConfigInput } from '../../watcher/config.ts';
import { startWatcher, type Watcher } from '../../watcher/watcher.ts';
import type { Notice } from '../../workflows/messages.ts';
import { loadYaml, TEST_PLUGIN } from './kube.ts';
import { stackEnv } from './stack-env.ts';

export const PLUGIN = { group: ARCANE_GROUP, version: 'v1beta1' } as const;
export const MOCK_STREAMS = {
  ...PLUGIN,
  plural: 'mockstreams',
  kind: 'MockStream',
  streamClass: 'mock-stream',
} as const;
export const MOCK_STREAMS_V2 = {
  ...PLUGIN,
  plural: 'mockstreamv2s',
  kind: 'MockStreamV2',
  streamClass: 'mock-stream-v2',
} as const;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface TestWatcherOptions {
  /** Streams, requests, Jobs and the Lease live here. */
  namespace: string;
  taskQueue: string;
  /** For the log file name. */
  name: string;
  kubeConfig: KubeConfig;
  temporalAddress?: string;
  config?: WatcherConfigInput;
}

/** A watcher with test timings (3 s lease, fast retries, free ports); stopped when the test ends. */
export async function startTestWatcher(t: TestContext, options: TestWatcherOptions): Promise<Watcher> {
  const env = stackEnv();
  const { namespace, taskQueue } = options;
  const { leaderElection, informers, ...config } = options.config ?? {};
  const logFile = join(env.logDir, `watcher-${options.name}-${randomBytes(3).toString('hex')}.log`);
  const watcher = await startWatcher(
    {
      watchNamespace: namespace,
      temporal: {
        address: options.temporalAddress ?? env.temporalAddress,
        namespace: env.temporalNamespace,
        taskQueue,
        probeInterval: '300ms',
      },
      health: { port: 0, host: '127.0.0.1' },
      metrics: { port: 0, host: '127.0.0.1' },
      leaderElection: { namespace, leaseDuration: '3s', renewPeriod: '1s', ...leaderElection },
      informers: { restartBackoffInitial: '200ms', restartBackoffMax: '2s', ...informers },
      signals: { retryInitial: '100ms', retryMax: '1s', timeout: '2s' },
      resyncDelay: '100ms',
      backfillRequestGrace: '300ms',
      ...config,
    },
    {
      kubeConfig: options.kubeConfig,
      logger: pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })),
    },
  );
  t.after(() => watcher.stop());
  return watcher;
}

export async function temporalClient(t: TestContext, address = stackEnv().temporalAddress): Promise<Client> {
  const client = await connectClient(
    temporalSettingsSchema.parse({ address, namespace: stackEnv().temporalNamespace }),
  );
  t.after(() => client.connection.close());
  return client;
}

export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

export interface SignalRecord {
  eventId: number;
  name: string;
  reason: string;
}

/** The signals in a workflow's history, oldest first (throws while the workflow does not exist). */
export async function signalsOf(client: Client, workflowId: string): Promise<SignalRecord[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const signaled = event.workflowExecutionSignaledEventAttributes;
    if (!signaled) return [];
    const payload = signaled.input?.payloads?.[0];
    const notice = payload ? defaultPayloadConverter.fromPayload<Notice>(payload) : undefined;
    return [{ eventId: Number(event.eventId), name: signaled.signalName ?? '', reason: notice?.reason ?? '' }];
  });
}

/** The id of the last event in the workflow's history: signals after it came later. */
export async function lastEventId(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return Number(history.events?.at(-1)?.eventId ?? 0);
}

/** Waits for a signal of that name (after event `after`) whose reason matches, and returns it. */
export function waitForSignal(
  client: Client,
  workflowId: string,
  name: string,
  options: { after?: number; reason?: RegExp; timeoutMs?: number } = {},
): Promise<SignalRecord> {
  return waitFor(
    `signal ${name}${options.reason ? ` (${options.reason})` : ''} on ${workflowId}`,
    async () =>
      (await signalsOf(client, workflowId)).find(
        (signal) =>
          signal.name === name &&
          signal.eventId > (options.after ?? 0) &&
          (options.reason?.test(signal.reason) ?? true),
      ),
    { timeoutMs: options.timeoutMs ?? 20_000, intervalMs: 200 },
  );
}

export interface StreamKind {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** The test plugin's example stream of that name (tests/fixtures/plugin/streams.yaml). */
export function exampleStream(name: string): { apiVersion: string; kind: string; spec: Record<string, unknown> } {
  const found = loadYaml(TEST_PLUGIN.streamsFile).find((stream) => stream.metadata?.name === name);
  if (!found) throw new Error(`no example stream ${name}`);
  return found as unknown as { apiVersion: string; kind: string; spec: Record<string, unknown> };
}

export class Streams {
  private readonly api: CustomObjectsApi;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  /** Creates a stream of `kind` with the spec of the example stream `example`. */
  async create(kind: StreamKind, name: string, example = 'mock-v0'): Promise<void> {
    const { spec } = exampleStream(example);
    const body = { apiVersion: `${kind.group}/${kind.version}`, kind: kind.kind, metadata: { name }, spec };
    await this.api.createNamespacedCustomObject({ ...location(kind), namespace: this.namespace, body });
  }

  /** A spec change: a new generation. */
  async changeSpec(kind: StreamKind, name: string, source: string): Promise<void> {
    const body = { spec: { source } };
    await this.api.patchNamespacedCustomObject(
      { ...location(kind), namespace: this.namespace, name, body },
      mergePatch,
    );
  }

  /** A status-only update, as the workflow writes it. */
  async writeStatus(kind: StreamKind, name: string, phase: string): Promise<void> {
    const condition = {
      type: 'Ready',
      status: 'True',
      reason: 'StreamRunning',
      message: 'written by a test',
      lastTransitionTime: new Date().toISOString(),
    };
    const body = { status: { phase, configurationHash: 'test', conditions: [condition] } };
    await this.api.patchNamespacedCustomObjectStatus(
      { ...location(kind), namespace: this.namespace, name, body },
      mergePatch,
    );
  }

  async delete(kind: StreamKind, name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({ ...location(kind), namespace: this.namespace, name });
  }

  async createBackfillRequest(name: string, streamClass: string, streamId: string): Promise<void> {
    const body = {
      apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`,
      kind: BACKFILL_REQUESTS.kind,
      metadata: { name },
      spec: { streamClass, streamId },
    };
    await this.api.createNamespacedCustomObject({
      group: ARCANE_GROUP,
      version: ARCANE_VERSION,
      plural: BACKFILL_REQUESTS.plural,
      namespace: this.namespace,
      body,
    });
  }

  async readBackfillRequest(name: string): Promise<{ spec: { completed?: boolean }; status?: RequestStatus }> {
    return (await this.api.getNamespacedCustomObject({
      group: ARCANE_GROUP,
      version: ARCANE_VERSION,
      plural: BACKFILL_REQUESTS.plural,
      namespace: this.namespace,
      name,
    })) as { spec: { completed?: boolean }; status?: RequestStatus };
  }
}

export interface RequestStatus {
  phase?: string;
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

function location(kind: StreamKind) {
  return { group: kind.group, version: kind.version, plural: kind.plural };
}

/** The body of an HTTP GET on the watcher's probe or metrics port. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}
