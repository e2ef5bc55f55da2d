// The resync: a pass over every stream that catches whatever the watches missed. Every stream gets a `resync` signal
// (a signal-with-start, so a stream without a workflow gets one) unless its workflow is open and the watcher's caches
// show the stream at rest, and every running stream workflow whose stream is gone gets `deleted` (or `detached` when
// its whole StreamClass is gone); the open workflows are found by querying Temporal's visibility. A resync runs after
// start, after an informer lists again, when this replica becomes leader and when Temporal comes back after an
// outage. Requests that arrive close together are merged into one run.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { parseStreamWorkflowId, streamWorkflowId } from '../client/stream-id.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { atRest } from '../workflows/lifecycle.ts';
import { versionKey, type ObjectVersions } from '../workflows/lifecycle/versions.ts';
import { deletedSignal, detachedSignal, resyncSignal } from '../workflows/messages.ts';
import type { StreamObserver } from './cached-observation.ts';
import type { WatcherMetrics } from './metrics.ts';
import { versionAt, versionOf, type SignalDispatcher } from './runtime/signals.ts';
import type { StreamDirectory } from './stream-class-controller.ts';
import type { StreamSource } from './stream-source.ts';
import type { WatchedObject } from './forwarding.ts';
import { STREAM_WORKFLOW_TYPE } from './runtime/temporal-link.ts';

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** Streams looked at between two turns of the event loop, so a pass over many keeps the lease and probes answered. */
const STREAMS_PER_TURN = 200;

export interface ResyncDeps {
  dispatcher: SignalDispatcher;
  client: Client;
  taskQueue: string;
  watchNamespace?: string;
  log: Logger;
  metrics: WatcherMetrics;
  isLeader(): boolean;
  delayMs: number;
  /** How long resyncs wait for the caches that show streams at rest to list, before they signal every stream. */
  maxDeferMs: number;
}

/** What a resync walks. The watcher builds these after the resyncer, because they ask it for resyncs. */
export interface ResyncScope {
  directory: StreamDirectory;
  /** Open BackfillRequests are routed again too. */
  recheckRequests(): void;
  /** Whether the watcher's caches can observe streams (they have listed). */
  observable(): boolean;
  /** Observes streams from the watcher's caches for one run; undefined while they cannot (not listed yet). */
  observer(): StreamObserver | undefined;
  /** The versions at which the watcher's caches show the stream's Job and CronJob (or their absence). */
  workloadVersions(stream: StreamKey): ObjectVersions;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Running stream workflows of this watcher's task queue (and namespace, when it watches one). */
export function openWorkflowsQuery(taskQueue: string, watchNamespace?: string, streamClass?: string): string {
  const clauses = [
    `WorkflowType = ${quote(STREAM_WORKFLOW_TYPE)}`,
    `ExecutionStatus = 'Running'`,
    `TaskQueue = ${quote(taskQueue)}`,
  ];
  if (watchNamespace !== undefined) clauses.push(`ArcaneNamespace = ${quote(watchNamespace)}`);
  if (streamClass !== undefined) clauses.push(`ArcaneStreamClass = ${quote(streamClass)}`);
  return clauses.join(' AND ');
}

export class Resyncer {
  private readonly deps: ResyncDeps;
  private scope: ResyncScope | undefined;
  /** The classes waiting for a resync. `all` means every class, and also the workflows of classes that are gone. */
  private waiting: { all: boolean; classes: Set<string>; reasons: Set<string> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;
  /** When resyncs began to wait for the caches to list (see mayRun). */
  private deferredSince: number | undefined;

  constructor(deps: ResyncDeps) {
    this.deps = deps;
  }

  /** Gives the resyncer what it walks. A resync requested before this waits for it. */
  connect(scope: ResyncScope): void {
    this.scope = scope;
    if (this.waiting) this.schedule(this.deps.delayMs);
  }

  /** Resync every class, or only `streamClass`, soon. */
  request(reason: string, streamClass?: string): void {
    if (this.stopped || !this.deps.isLeader()) return;
    this.waiting ??= { all: false, classes: new Set(), reasons: new Set() };
    if (streamClass === undefined) this.waiting.all = true;
    else this.waiting.classes.add(streamClass);
    this.waiting.reasons.add(reason);
    this.schedule(this.deps.delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined || this.running !== undefined || this.scope === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runWaiting().finally(() => {
        this.running = undefined;
        if (this.waiting && !this.stopped) this.schedule(this.retryDelay());
      });
    }, delayMs);
  }

  private retryDelay(): number {
    return this.failures === 0 ? this.deps.delayMs : Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
  }

  private async runWaiting(): Promise<void> {
    const scope = this.waiting;
    this.waiting = undefined;
    if (!scope || !this.deps.isLeader()) return;
    if (!this.mayRun()) {
      this.requeue(scope);
      return;
    }
    const reason = `resync: ${[...scope.reasons].join('; ')}`;
    try {
      await this.run(scope.all ? undefined : scope.classes, reason);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const message = error instanceof Error ? error.message : String(error);
      this.deps.log.warn({ error: message, attempt: this.failures }, 'resync could not list workflows; retrying');
      this.requeue(scope);
    }
  }

  /**
   * Whether a resync may run now. Until the caches a stream is observed from have listed, no stream can be shown at
   * rest, and a resync would signal every one of them: right after a start, the streams are often listed before the
   * Jobs and requests are. Until every class has listed its streams, the resync would be followed by another when the
   * last one has. Each of those lists asks for a resync when it completes, so the resync waits for them, but at most
   * `maxDeferMs`: a cache that cannot list (a kind not served, say) must not hold resyncs back for good.
   */
  private mayRun(): boolean {
    const scope = this.connected();
    if (scope.observable() && scope.directory.settled()) {
      this.deferredSince = undefined;
      return true;
    }
    this.deferredSince ??= Date.now();
    return Date.now() - this.deferredSince >= this.deps.maxDeferMs;
  }

  /** Puts a run's classes and reasons back, merged with anything requested meanwhile, so the next run covers both. */
  private requeue(scope: NonNullable<Resyncer['waiting']>): void {
    const merged = this.waiting ?? { all: false, classes: new Set<string>(), reasons: new Set<string>() };
    merged.all ||= scope.all;
    for (const name of scope.classes) merged.classes.add(name);
    for (const why of scope.reasons) merged.reasons.add(why);
    this.waiting = merged;
  }

  private async run(classes: Set<string> | undefined, reason: string): Promise<void> {
    const { log, metrics } = this.deps;
    const scope = this.connected();
    // Listed first: a failure here retries the whole run before any stream was signalled.
    const open = await this.openWorkflows(classes);
    const observe = scope.observer();
    const sources = scope.directory.sources().filter((s) => s.listed && (!classes || classes.has(s.streamClass.name)));
    const counts = { resynced: 0, unchanged: 0 };
    for (const source of sources) {
      for (const stream of source.streams()) {
        const key = source.keyOf(stream);
        if (open.has(streamWorkflowId(key)) && (await this.unchanged(observe, source, key))) counts.unchanged++;
        else this.resync(source, stream, key, reason, counts);
        if ((counts.resynced + counts.unchanged) % STREAMS_PER_TURN === 0) await yieldToEvents();
      }
    }
    const gone = this.closeVanished(open, reason);
    scope.recheckRequests();
    metrics.resyncs.inc();
    metrics.resyncUnchanged.inc(counts.unchanged);
    log.info({ classes: classes ? [...classes] : 'all', ...counts, ...gone, reason }, 'resynced');
  }

  /**
   * Whether the stream is at rest as the caches show it: its workflow, which is open, would find nothing to do, so the
   * resync skips it and costs it no history event. Anything the caches cannot show counts as a change.
   */
  private async unchanged(observe: StreamObserver | undefined, source: StreamSource, stream: StreamKey) {
    if (!observe) return false;
    try {
      return atRest(await observe(source, stream));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.deps.log.debug({ stream, error: message }, 'stream not observable from the caches; resyncing it');
      return false;
    }
  }

  private resync(
    source: StreamSource,
    stream: WatchedObject,
    key: StreamKey,
    reason: string,
    counts: { resynced: number },
  ): void {
    // The reason names the generation this resync saw, so the workflow's history shows what the watcher knew.
    const seen = `${reason}; generation ${stream.metadata?.generation ?? 0}`;
    // The workflow must see the stream and its workloads at least as this resync does: a cache behind (its watch not
    // back yet after an outage, say) would show them as they were before.
    const required = { ...this.connected().workloadVersions(key), ...versionOf(versionKey.stream, stream) };
    this.deps.dispatcher.send({
      stream: key,
      signal: resyncSignal,
      reason: seen,
      required,
      start: { kind: source.kind },
    });
    counts.resynced++;
  }

  private connected(): ResyncScope {
    if (!this.scope) throw new Error('the resyncer ran before it was connected to the stream directory');
    return this.scope;
  }

  /** The open stream workflows of `classes` (all when undefined) by workflow id, from Temporal's visibility. */
  private async openWorkflows(classes: Set<string> | undefined): Promise<Map<string, StreamKey>> {
    const { client, taskQueue, watchNamespace } = this.deps;
    const queries = classes
      ? [...classes].map((name) => openWorkflowsQuery(taskQueue, watchNamespace, name))
      : [openWorkflowsQuery(taskQueue, watchNamespace)];
    const open = new Map<string, StreamKey>();
    for (const query of queries) {
      for await (const execution of client.workflow.list({ query })) {
        const stream = parseStreamWorkflowId(execution.workflowId);
        if (!stream || (watchNamespace !== undefined && stream.namespace !== watchNamespace)) continue;
        open.set(execution.workflowId, stream);
      }
    }
    return open;
  }

  /**
   * Tells each running workflow whose stream, or whose StreamClass, no longer exists. A workflow whose stream cannot
   * be checked (its class has not listed its streams) is left alone: not knowing is no proof that the stream is gone.
   */
  private closeVanished(open: Map<string, StreamKey>, reason: string) {
    const { dispatcher } = this.deps;
    const { directory } = this.connected();
    const counts = { deleted: 0, detached: 0 };
    if (!directory.classesSynced()) return counts;
    for (const stream of open.values()) {
      const source = directory.source(stream.streamClass);
      if (!directory.classExists(stream.streamClass)) {
        dispatcher.send({
          stream,
          signal: detachedSignal,
          reason: `${reason}; StreamClass ${stream.streamClass} is gone`,
          versions: versionAt(versionKey.streamClass, directory.classesVersion()),
        });
        counts.detached++;
      } else if (source?.listed && !source.has(stream.namespace, stream.name)) {
        // Only a cache that has listed the class's current kind can prove a stream gone. A 404 from the API server
        // proves nothing: it may only mean that the kind is not served right now.
        // Gone at the version its class's streams were last listed or seen at: the observation must be as new.
        const versions = versionAt(versionKey.stream, source.informer.newestVersion);
        dispatcher.send({ stream, signal: deletedSignal, reason: `${reason}; stream no longer exists`, versions });
        counts.deleted++;
      }
    }
    return counts;
  }
}
