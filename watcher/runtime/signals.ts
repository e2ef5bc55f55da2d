// Delivers notices to stream workflows. Each workflow has its own queue, so a burst of events about one stream is
// merged into one signal of each name. Only so many sends run at once; a failed send is retried with an exponential
// backoff that has a cap. When this replica stops leading, everything queued is dropped at once: the next leader
// resyncs every stream, so nothing is lost.
import type { SignalDefinition } from '@temporalio/common';
import type { Logger } from 'pino';
import { streamWorkflowId } from '../../client/stream-id.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { newest, type ObjectVersions } from '../../workflows/lifecycle/versions.ts';
import { deletedSignal, detachedSignal, type Notice, type ObservedWorkload } from '../../workflows/messages.ts';
import type { WatchedObject } from '../forwarding.ts';
import type { WatcherMetrics } from '../metrics.ts';

/** One of the watcher's signals, as the workflow defines it (workflows/messages.ts): sent as it is, named by it. */
export type StreamSignal = SignalDefinition<[Notice]>;

/** Signals after which the workflow completes, so anything queued before one of them no longer matters. */
const TERMINAL: ReadonlySet<string> = new Set([deletedSignal.name, detachedSignal.name]);

function terminal(delivery: Delivery): boolean {
  return TERMINAL.has(delivery.signal.name);
}

export interface Delivery {
  stream: StreamKey;
  signal: StreamSignal;
  reason: string;
  /** The workload the notice is about, as the lifecycle observes it; lets the workflow skip a look that shows nothing
   * new. Kept only while every merged notice is about the same workload. */
  observed?: ObservedWorkload;
  /** The resourceVersion of the object the notice is about, so the workflow can tell whether its latest observation
   * already shows it; merged notices keep each object's newest. Absent when the workflow must look regardless. */
  versions?: ObjectVersions;
  /** Versions the workflow's observation must be at least as new as, which do not let it skip the look (a resync's);
   * merged notices keep each object's newest. */
  required?: ObjectVersions;
  /** Signal-with-start (the stream exists); otherwise a plain signal to a running workflow, if any. */
  start?: { kind: string };
}

/** A delivery's `versions` for one object: its resourceVersion under `key`, or none when it carries none. */
export function versionOf(key: string, object: WatchedObject): ObjectVersions | undefined {
  return versionAt(key, object.metadata?.resourceVersion);
}

/** `version` (when known) as the version of `key` a notice requires. */
export function versionAt(key: string, version: string | undefined): ObjectVersions | undefined {
  return version ? { [key]: version } : undefined;
}

/** Sends one delivery; `false` when there is no workflow to signal (nothing to retry). */
export type SignalSender = (delivery: Delivery) => Promise<boolean>;

/**
 * The queue of one workflow after `delivery` arrives. A notice merges into a queued notice of the same name; a notice
 * after which the workflow completes replaces the whole queue.
 */
export function coalesce(queue: readonly Delivery[], delivery: Delivery): Delivery[] {
  if (terminal(delivery)) return [delivery];
  const lastTerminal = queue.findLastIndex(terminal);
  const index = queue.findIndex((queued, i) => i > lastTerminal && queued.signal.name === delivery.signal.name);
  if (index === -1) return [...queue, delivery];
  const queued = queue[index] as Delivery;
  const start = queued.start ?? delivery.start;
  // When both notices are about the same workload, the latest one says all the earlier one did. When they are about
  // two different workloads, neither says it all, so the merged notice carries no workload.
  const latest = aboutSameWorkload(queued, delivery) ? delivery : withoutObserved(delivery);
  // The merged notice stands for both events, so it asks for each object at least as new as either notice saw it.
  const versions = newest(queued.versions, delivery.versions);
  const required = newest(queued.required, delivery.required);
  let merged = Object.keys(versions).length > 0 ? { ...latest, versions } : latest;
  if (Object.keys(required).length > 0) merged = { ...merged, required };
  const next = [...queue];
  next[index] = start ? { ...merged, start } : merged;
  return next;
}

function workloadKind(delivery: Delivery): string | undefined {
  return delivery.observed === undefined ? undefined : 'job' in delivery.observed ? 'job' : 'cronJob';
}

function aboutSameWorkload(a: Delivery, b: Delivery): boolean {
  const kind = workloadKind(a);
  return kind !== undefined && kind === workloadKind(b);
}

function withoutObserved({ observed: _observed, ...delivery }: Delivery): Delivery {
  return delivery;
}

export interface DispatcherOptions {
  send: SignalSender;
  log: Logger;
  metrics: WatcherMetrics;
  maxInFlight: number;
  retry: { initialMs: number; maxMs: number };
  /**
   * How long a workflow's first notice waits for more before it is sent (0: not at all). The events one change sets
   * off (a Job created, then started; a request created as the Job is) then reach the workflow as one wake instead of
   * several, each of which costs history events.
   */
  batchMs?: number;
}

interface WorkflowQueue {
  deliveries: Delivery[];
  attempt: number;
  inFlight: boolean;
  retryTimer?: NodeJS.Timeout;
  /** The batch window of a queue that was idle. */
  holdTimer?: NodeJS.Timeout;
}

export class SignalDispatcher {
  private readonly options: DispatcherOptions;
  private readonly queues = new Map<string, WorkflowQueue>();
  /** Workflows with something to send, not in flight and not waiting for a retry, in arrival order. */
  private readonly ready = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private enabled = false;
  private lastWarning = 0;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /** Forwarding on (this replica leads) or off (queued notices are dropped). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (!enabled) this.clear();
  }

  get pending(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.deliveries.length;
    return count;
  }

  send(delivery: Delivery): void {
    if (!this.enabled) return;
    const id = streamWorkflowId(delivery.stream);
    let queue = this.queues.get(id);
    const idle = queue === undefined;
    if (!queue) this.queues.set(id, (queue = { deliveries: [], attempt: 0, inFlight: false }));
    queue.deliveries = coalesce(queue.deliveries, delivery);
    if (queue.inFlight || queue.retryTimer !== undefined || queue.holdTimer !== undefined) return;
    const batchMs = this.options.batchMs ?? 0;
    if (idle && batchMs > 0) {
      const held = queue;
      held.holdTimer = setTimeout(() => {
        held.holdTimer = undefined;
        if (this.queues.get(id) !== held) return;
        this.ready.add(id);
        this.pump();
      }, batchMs);
      return;
    }
    this.ready.add(id);
    this.pump();
  }

  /** Retries waiting for their backoff go now (e.g. Temporal is reachable again). */
  retryNow(): void {
    for (const [id, queue] of this.queues) {
      if (queue.retryTimer === undefined) continue;
      clearTimeout(queue.retryTimer);
      queue.retryTimer = undefined;
      this.ready.add(id);
    }
    this.pump();
  }

  /** Drops everything queued and waits for the sends in flight. */
  async stop(): Promise<void> {
    this.setEnabled(false);
    await Promise.allSettled([...this.inFlight]);
  }

  private clear(): void {
    for (const queue of this.queues.values()) {
      clearTimeout(queue.retryTimer);
      clearTimeout(queue.holdTimer);
    }
    this.queues.clear();
    this.ready.clear();
  }

  private pump(): void {
    while (this.enabled && this.inFlight.size < this.options.maxInFlight && this.ready.size > 0) {
      const id = this.ready.values().next().value as string;
      this.ready.delete(id);
      const queue = this.queues.get(id);
      const delivery = queue?.deliveries.shift();
      if (!queue || !delivery) {
        this.queues.delete(id);
        continue;
      }
      queue.inFlight = true;
      const sending = this.deliver(id, queue, delivery).finally(() => {
        this.inFlight.delete(sending);
        this.pump();
      });
      this.inFlight.add(sending);
    }
  }

  private async deliver(id: string, queue: WorkflowQueue, delivery: Delivery): Promise<void> {
    let delivered = false;
    let retryMs: number | undefined;
    try {
      const found = await this.options.send(delivery);
      delivered = true;
      if (found) this.options.metrics.signalsSent.inc({ signal: delivery.signal.name });
      else this.options.log.debug({ workflowId: id, signal: delivery.signal.name }, 'no running workflow to signal');
    } catch (error) {
      this.options.metrics.signalFailures.inc({ signal: delivery.signal.name });
      retryMs = this.backoff(queue.attempt++);
      this.warn(id, delivery, error, retryMs);
    }
    queue.inFlight = false;
    // The queue was dropped while the send was in flight (leadership lost, or the watcher stopping): keep nothing.
    if (this.queues.get(id) !== queue) return;
    if (delivered) {
      queue.attempt = 0;
    } else {
      queue.deliveries = [delivery, ...queue.deliveries].reduce<Delivery[]>(coalesce, []);
      queue.retryTimer = setTimeout(() => {
        queue.retryTimer = undefined;
        this.ready.add(id);
        this.pump();
      }, retryMs);
      return;
    }
    if (queue.deliveries.length > 0) this.ready.add(id);
    else this.queues.delete(id);
  }

  private backoff(attempt: number): number {
    const { initialMs, maxMs } = this.options.retry;
    return Math.round(Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30)) * (0.8 + Math.random() * 0.4));
  }

  // While Temporal is down every stream's sends fail: log one line every few seconds rather than one per stream.
  private warn(id: string, delivery: Delivery, error: unknown, retryMs: number): void {
    const now = Date.now();
    const fields = { workflowId: id, signal: delivery.signal.name, retryInMs: retryMs, pending: this.pending + 1 };
    const message = error instanceof Error ? error.message : String(error);
    if (now - this.lastWarning < 5_000) {
      this.options.log.debug({ ...fields, error: message }, 'signal failed; retrying');
      return;
    }
    this.lastWarning = now;
    this.options.log.warn({ ...fields, error: message }, 'signal failed; retrying with backoff');
  }
}
