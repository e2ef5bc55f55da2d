// Resync: every stream gets `resync` (signal-with-start), and every running stream workflow whose stream is gone
// gets `deleted` (or `detached` when its StreamClass is gone), found through Temporal visibility. Runs after start,
// re-lists, a new leader and Temporal coming back; requests arriving close together share one run.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { parseStreamWorkflowId } from '../client/stream-id.ts';
import { deletedSignal, detachedSignal, resyncSignal } from '../workflows/messages.ts';
import type { WatcherMetrics } from './metrics.ts';
import type { SignalDispatcher } from './signals.ts';
import type { StreamDirectory } from './stream-class-controller.ts';
import { STREAM_WORKFLOW_TYPE } from './temporal-link.ts';

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export interface ResyncDeps {
  directory: StreamDirectory;
  dispatcher: SignalDispatcher;
  client: Client;
  taskQueue: string;
  watchNamespace?: string;
  log: Logger;
  metrics: WatcherMetrics;
  isLeader(): boolean;
  /** Open BackfillRequests are routed again too. */
  recheckRequests(): void;
  delayMs: number;
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
  /** Classes waiting for a resync; `all` for every class (and workflows of deleted classes). */
  private waiting: { all: boolean; classes: Set<string>; reasons: Set<string> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(deps: ResyncDeps) {
    this.deps = deps;
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
    if (this.timer !== undefined || this.running !== undefined) return;
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
    const reason = `resync: ${[...scope.reasons].join('; ')}`;
    try {
      await this.run(scope.all ? undefined : scope.classes, reason);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const message = error instanceof Error ? error.message : String(error);
      this.deps.log.warn({ error: message, attempt: this.failures }, 'resync could not list workflows; retrying');
      // Try the same scope again (merged with anything requested meanwhile).
      const merged = this.waiting ?? { all: false, classes: new Set<string>(), reasons: new Set<string>() };
      merged.all ||= scope.all;
      for (const name of scope.classes) merged.classes.add(name);
      for (const why of scope.reasons) merged.reasons.add(why);
      this.waiting = merged;
    }
  }

  private async run(classes: Set<string> | undefined, reason: string): Promise<void> {
    const { directory, dispatcher, log, metrics } = this.deps;
    const sources = directory.sources().filter((s) => s.listed && (!classes || classes.has(s.streamClass.name)));
    let resynced = 0;
    for (const source of sources) {
      for (const stream of source.streams()) {
        // The generation seen shows in the workflow's history what this resync knew of the stream.
        const seen = `${reason}; generation ${stream.metadata?.generation ?? 0}`;
        dispatcher.send({
          stream: source.keyOf(stream),
          signal: resyncSignal,
          reason: seen,
          start: { kind: source.kind },
        });
        resynced++;
      }
    }
    const gone = await this.closeVanished(classes, reason);
    this.deps.recheckRequests();
    metrics.resyncs.inc();
    log.info({ classes: classes ? [...classes] : 'all', streams: resynced, ...gone, reason }, 'resynced');
  }

  /** Workflows whose stream (or class) no longer exists are told so; unknown states are left alone. */
  private async closeVanished(classes: Set<string> | undefined, reason: string) {
    const { directory, dispatcher, client, taskQueue, watchNamespace } = this.deps;
    const counts = { deleted: 0, detached: 0 };
    if (!directory.classesSynced()) return counts;
    const queries = classes
      ? [...classes].map((name) => openWorkflowsQuery(taskQueue, watchNamespace, name))
      : [openWorkflowsQuery(taskQueue, watchNamespace)];
    for (const query of queries) {
      for await (const execution of client.workflow.list({ query })) {
        const stream = parseStreamWorkflowId(execution.workflowId);
        if (!stream || (watchNamespace !== undefined && stream.namespace !== watchNamespace)) continue;
        const source = directory.source(stream.streamClass);
        if (!directory.classExists(stream.streamClass)) {
          dispatcher.send({
            stream,
            signal: detachedSignal,
            reason: `${reason}; StreamClass ${stream.streamClass} is gone`,
          });
          counts.detached++;
        } else if (source?.listed && !source.has(stream.namespace, stream.name)) {
          // Only a cache listed from the class's current target proves a stream gone; a 404 proves nothing.
          dispatcher.send({ stream, signal: deletedSignal, reason: `${reason}; stream no longer exists` });
          counts.deleted++;
        }
      }
    }
    return counts;
  }
}
