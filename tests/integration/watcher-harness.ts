// What the watcher's integration tests share: a watcher with short timings on its own namespace and task queue, a
// Temporal client, the signals a workflow's history shows, and plugin streams to create, change and delete.
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CoordinationV1Api, CustomObjectsApi, KubeConfig, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { pino } from 'pino';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../../resources/api-group.ts';
import { waitFor } from '../../stack/wait.ts';
import type { WatcherConfigInput } from '../../watcher/config.ts';
import { formatMicroTime, nowMicros } from '../../watcher/runtime/lease-time.ts';
import { startWatcher, type Watcher } from '../../watcher/watcher.ts';
import type { ObjectVersions } from '../../workflows/lifecycle/versions.ts';
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

/** The lease every test watcher campaigns with, unless a test overrides it. */
export const TEST_LEASE = { durationMs: 3_000, renewMs: 1_000 } as const;

/** How long a new leader waits before its resync (a change to the watched classes waits as long). */
export const TEST_RESYNC_DELAY_MS = 100;

/**
 * How late a timer or an API round trip may come while the stack, the watchers and other test files share a CI
 * machine's 2 cores. Added once to each deadline below: those follow from the lease's timings on an idle machine.
 */
export const BUSY_MACHINE_SLACK_MS = 10_000;

/**
 * Deadlines for what a replica does with a lease, from its timings. A replica reads and writes the lease once per
 * renew period (half of one after a failed attempt), and measures a lease held by another from the moment it first saw
 * that holder's last renewal, which may be up to a renew period after it was written.
 */
export function leaseDeadlines(lease: { renewMs: number } = TEST_LEASE) {
  return {
    /** Someone else holds it: seen at the next attempt. */
    stepDownMs: lease.renewMs + BUSY_MACHINE_SLACK_MS,
    /** Released by a leader that stopped: taken at the next attempt. */
    takeReleasedMs: lease.renewMs + BUSY_MACHINE_SLACK_MS,
    /** Held for `heldMs` by someone who stopped renewing: seen late, waited out, then taken at the next attempt. */
    takeExpiredMs: (heldMs: number) => heldMs + 2 * lease.renewMs + BUSY_MACHINE_SLACK_MS,
  };
}

/** A watcher with test timings (TEST_LEASE, fast retries, free ports); stopped when the test ends. */
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
      leaderElection: {
        namespace,
        leaseDuration: `${TEST_LEASE.durationMs}ms`,
        renewPeriod: `${TEST_LEASE.renewMs}ms`,
        ...leaderElection,
      },
      informers: { restartBackoffInitial: '200ms', restartBackoffMax: '2s', ...informers },
      // No batch window: these tests check the notice each event makes, which a window may merge with the next one's.
      signals: { retryInitial: '100ms', retryMax: '1s', timeout: '2s', batchWindow: '0s' },
      resyncDelay: `${TEST_RESYNC_DELAY_MS}ms`,
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
  /** The resourceVersions the notice carried, when it carried any. */
  versions?: ObjectVersions;
  /** The versions it required of the workflow's observation, when it required any. */
  required?: ObjectVersions;
}

/** The signals in a workflow's history, oldest first (throws while the workflow does not exist). */
export async function signalsOf(client: Client, workflowId: string): Promise<SignalRecord[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const signaled = event.workflowExecutionSignaledEventAttributes;
    if (!signaled) return [];
    const payload = signaled.input?.payloads?.[0];
    const notice = payload ? defaultPayloadConverter.fromPayload<Notice>(payload) : undefined;
    const record: SignalRecord = {
      eventId: Number(event.eventId),
      name: signaled.signalName ?? '',
      reason: notice?.reason ?? '',
    };
    if (notice?.versions !== undefined) record.versions = notice.versions;
    if (notice?.required !== undefined) record.required = notice.required;
    return [record];
  });
}

/** The id of the last event in the workflow's history: signals after it came later. */
export async function lastEventId(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return Number(history.events?.at(-1)?.eventId ?? 0);
}

/**
 * Waits for a signal (after event `after`) showing that the watcher saw the stream at `generation`: the change
 * forwarded as it happened, or a resync that found it (after a re-list), and returns it.
 */
export function waitForGeneration(
  client: Client,
  workflowId: string,
  generation: number,
  options: { after: number; timeoutMs?: number },
): Promise<SignalRecord> {
  const saw = (signal: SignalRecord) =>
    (signal.name === 'streamObserved' && signal.reason.endsWith(` -> ${generation}`)) ||
    (signal.name === 'resync' && signal.reason.endsWith(`; generation ${generation}`));
  return waitFor(
    `a signal showing generation ${generation} on ${workflowId}`,
    async () => (await signalsOf(client, workflowId)).find((signal) => signal.eventId > options.after && saw(signal)),
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 200 },
  );
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

  /** Creates a stream of `kind` with the spec of the example stream `example`; returns its resourceVersion. */
  async create(kind: StreamKind, name: string, example = 'mock-v0'): Promise<string> {
    const { spec } = exampleStream(example);
    const body = { apiVersion: `${kind.group}/${kind.version}`, kind: kind.kind, metadata: { name }, spec };
    return resourceVersionOf(
      await this.api.createNamespacedCustomObject({ ...location(kind), namespace: this.namespace, body }),
    );
  }

  /** A spec change: a new generation. Returns the stream's resourceVersion after it. */
  async changeSpec(kind: StreamKind, name: string, source: string): Promise<string> {
    const body = { spec: { source } };
    return resourceVersionOf(
      await this.api.patchNamespacedCustomObject(
        { ...location(kind), namespace: this.namespace, name, body },
        mergePatch,
      ),
    );
  }

  /** The stream's resourceVersion now. */
  async version(kind: StreamKind, name: string): Promise<string> {
    return resourceVersionOf(
      await this.api.getNamespacedCustomObject({ ...location(kind), namespace: this.namespace, name }),
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

  /** Creates a BackfillRequest; returns its resourceVersion. */
  async createBackfillRequest(name: string, streamClass: string, streamId: string): Promise<string> {
    const body = {
      apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`,
      kind: BACKFILL_REQUESTS.kind,
      metadata: { name },
      spec: { streamClass, streamId },
    };
    return resourceVersionOf(
      await this.api.createNamespacedCustomObject({
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        plural: BACKFILL_REQUESTS.plural,
        namespace: this.namespace,
        body,
      }),
    );
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

/** The resourceVersion of an object the API server answered with (a write's response). */
export function resourceVersionOf(object: unknown): string {
  const version = (object as KubernetesObject).metadata?.resourceVersion;
  if (!version) throw new Error('the API server answered with an object without metadata.resourceVersion');
  return version;
}

/** One event of a watch on one object: what happened and the resourceVersion the API server gave it. */
export interface VersionEvent {
  type: string;
  resourceVersion: string;
}

/**
 * Every event the API server reports for the object `name` under the collection `path`, from now until the test ends:
 * the resourceVersions a notice about it can carry, including the one of its deletion (no read shows that one).
 */
export async function watchVersions(t: TestContext, kc: KubeConfig, path: string, name: string) {
  const events: VersionEvent[] = [];
  const watch = await new Watch(kc).watch(
    path,
    { fieldSelector: `metadata.name=${name}` },
    (type: string, object: KubernetesObject) => {
      events.push({ type, resourceVersion: object.metadata?.resourceVersion ?? '' });
    },
    () => undefined,
  );
  t.after(() => watch.abort());
  return {
    /** The version of the first event of that type (ADDED, MODIFIED, DELETED), once the watch has reported it. */
    of: (type: string) =>
      waitFor(`a ${type} event of ${name}`, () => events.find((event) => event.type === type)?.resourceVersion),
    /** The event the API server gave that version, once the watch has reported it (none: the wait fails). */
    at: (version: string) =>
      waitFor(`an event of ${name} at resourceVersion ${version}`, () =>
        events.find((event) => event.resourceVersion === version),
      ),
  };
}

/** `watchVersions` for the streams of `kind` in `namespace`. */
export function watchStreamVersions(t: TestContext, kc: KubeConfig, kind: StreamKind, namespace: string, name: string) {
  const { group, version, plural } = kind;
  return watchVersions(t, kc, `/apis/${group}/${version}/namespaces/${namespace}/${plural}`, name);
}

function location(kind: StreamKind) {
  return { group: kind.group, version: kind.version, plural: kind.plural };
}

/** The body of an HTTP GET on the watcher's probe or metrics port. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/** Waits until both readiness paths answer `status` over HTTP, and returns the body of `/readyz`. */
export async function waitForReadiness(
  watcher: Watcher,
  status: 200 | 503,
  timeoutMs = 30_000,
): Promise<{ ready: boolean; reasons: string[] }> {
  const body = await waitFor(
    `/readyz and /health/ready to answer ${status}`,
    async () => {
      const answers = await Promise.all(
        ['/readyz', '/health/ready'].map((path) => httpGet(watcher.ports.health, path)),
      );
      return answers.every((answer) => answer.status === status) && answers[0]?.body;
    },
    { timeoutMs },
  );
  return JSON.parse(body) as { ready: boolean; reasons: string[] };
}

export const LEASE_NAME = 'arcane-watcher';
const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

export async function readLease(kc: KubeConfig, namespace: string) {
  return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: LEASE_NAME });
}

/** Writes the watchers' lease as another holder would, in the API server's wire format. */
export async function holdLease(
  kc: KubeConfig,
  namespace: string,
  holderIdentity: string,
  leaseDurationSeconds: number,
) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const now = formatMicroTime(nowMicros());
  const spec = { holderIdentity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
  // A watcher renewing between our read and our write makes it conflict: read again.
  await waitFor('the lease written', async () => {
    const current = (await custom
      .getNamespacedCustomObject({ ...LEASES, namespace, name: LEASE_NAME })
      .catch(() => undefined)) as { metadata: object } | undefined;
    const metadata = current?.metadata ?? { name: LEASE_NAME, namespace };
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
    if (current) await custom.replaceNamespacedCustomObject({ ...LEASES, namespace, name: LEASE_NAME, body });
    else await custom.createNamespacedCustomObject({ ...LEASES, namespace, body });
    return true;
  });
  return spec;
}

/**
 * A TCP proxy in front of the API server for one watcher: cutting it resets the watcher's connections (its watches
 * among them) and refuses new ones, while the API server stays up for everyone else.
 */
export class ApiServerProxy {
  /** The test's kubeconfig, pointed at the proxy (TLS passes through: the serving certificate names 127.0.0.1). */
  readonly kubeConfig = new KubeConfig();
  private readonly target: URL;
  private readonly server = createServer((client) => this.accept(client));
  private readonly sockets = new Set<Socket>();
  private refusing = false;

  private constructor(target: URL) {
    this.target = target;
  }

  static async start(t: TestContext, kc: KubeConfig): Promise<ApiServerProxy> {
    const current = kc.getCurrentCluster();
    const proxy = new ApiServerProxy(new URL(current?.server ?? ''));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    t.after(() => proxy.close());
    const { port } = proxy.server.address() as AddressInfo;
    proxy.kubeConfig.loadFromOptions({
      clusters: kc.clusters.map((cluster) =>
        cluster.name === current?.name ? { ...cluster, server: `https://127.0.0.1:${port}` } : cluster,
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    return proxy;
  }

  /** Resets every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.refusing = false;
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(this.target.port), this.target.hostname);
    const pair = [client, upstream];
    for (const socket of pair) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }
}
