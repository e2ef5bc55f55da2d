// BackfillRequests. An open request wakes the workflow of its stream, found by the request's namespace, streamClass and
// streamId. A request that matches no stream, or names a stream of another class, gets phase Failed with the reason
// StreamNotFound or ClassMismatch, but stays open: if its stream appears later, the request runs then.
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../resources/api-group.ts';
import {
  initialBackfillRequestName,
  parseBackfillRequest,
  type BackfillRequest,
} from '../resources/backfill-request.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { versionKey } from '../workflows/lifecycle/versions.ts';
import { backfillRequestObservedSignal } from '../workflows/messages.ts';
import { backfillRequestChange, deletion, isCompletedRequest, type Change, type WatchedObject } from './forwarding.ts';
import { SupervisedInformer, type InformerEvent } from '../kubernetes/informer.ts';
import type { InformerSettings } from './metrics.ts';
import { errorMessage } from '../kubernetes/errors.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import type { KubernetesClients } from './kubernetes-client.ts';
import { versionOf, type SignalDispatcher } from './runtime/signals.ts';
import { statusPatch } from './status-patch.ts';
import type { StreamDirectory } from './stream-class-controller.ts';

export type Routing =
  | { stream: StreamKey; kind: string }
  | { unmatched: { reason: 'StreamNotFound' | 'ClassMismatch'; message: string } }
  /** Not every class has listed its streams yet: no verdict. */
  | { unsettled: true };

/** Where a request goes, decided from the informer caches. */
export function routeRequest(request: BackfillRequest, directory: StreamDirectory): Routing {
  const { namespace, streamId, streamClass } = request;
  const source = directory.source(streamClass);
  if (source?.has(namespace, streamId)) {
    return { stream: { streamClass, namespace, name: streamId }, kind: source.kind };
  }
  // To say that a stream does not exist, every class must have listed its streams: it may belong to any of them.
  if (!directory.settled()) return { unsettled: true };
  const other = directory.sources().find((candidate) => candidate.has(namespace, streamId));
  if (other) {
    const message = `stream ${streamId} in namespace ${namespace} is a ${other.kind} of StreamClass ${other.streamClass.name}, not of StreamClass ${streamClass}`;
    return { unmatched: { reason: 'ClassMismatch', message } };
  }
  // A class that cannot list its streams (the API server does not serve its kind) knows nothing about them, so the
  // message does not claim that the stream is missing from it.
  const message = source?.listed
    ? `no ${source.kind} named ${streamId} in namespace ${namespace} (StreamClass ${streamClass})`
    : directory.classExists(streamClass)
      ? `StreamClass ${streamClass} serves no streams now (see its status), and no stream named ${streamId} exists in namespace ${namespace}`
      : `no StreamClass named ${streamClass}, and no stream named ${streamId} in namespace ${namespace}`;
  return { unmatched: { reason: 'StreamNotFound', message } };
}

export interface BackfillRequestWatchDeps {
  settings: InformerSettings;
  clients: KubernetesClients;
  watchNamespace?: string;
  directory: StreamDirectory;
  dispatcher: SignalDispatcher;
  isLeader(): boolean;
  /** How long a request may wait for its stream to show up before it is marked unmatched. */
  graceMs: number;
  onListed(): void;
}

export class BackfillRequestWatch {
  readonly informer: SupervisedInformer;
  private readonly deps: BackfillRequestWatchDeps;
  private readonly checks = new Map<string, NodeJS.Timeout>();

  constructor(deps: BackfillRequestWatchDeps) {
    this.deps = deps;
    // Every request of the namespace, with no field selector: CRDs without selectable fields (older arcane-crd
    // charts) serve this list too.
    this.informer = new SupervisedInformer(
      {
        ...deps.settings,
        resource: `${BACKFILL_REQUESTS.plural}.${ARCANE_GROUP}`,
        location: {
          group: ARCANE_GROUP,
          version: ARCANE_VERSION,
          plural: BACKFILL_REQUESTS.plural,
          namespace: deps.watchNamespace,
        },
      },
      { event: (event) => this.onEvent(event), listed: () => deps.onListed() },
    );
  }

  start(): void {
    this.informer.start();
  }

  async stop(): Promise<void> {
    for (const timer of this.checks.values()) clearTimeout(timer);
    this.checks.clear();
    await this.informer.stop();
  }

  /**
   * Checks every open request again (after a resync). A request that still matches no stream gets its Failed status
   * only after the grace period, because its stream may simply not have been seen yet.
   */
  recheckAll(): void {
    for (const object of this.informer.list()) {
      const parsed = parseBackfillRequest(object);
      if (parsed.ok && !parsed.value.completed && !('stream' in routeRequest(parsed.value, this.deps.directory))) {
        this.scheduleCheck(parsed.value);
      }
    }
  }

  private onEvent(event: InformerEvent): void {
    const { settings, directory } = this.deps;
    settings.metrics.events.inc({ kind: BACKFILL_REQUESTS.kind, type: event.type });
    if (event.fromList) return;
    let change: Change;
    if (event.type === 'deleted') {
      // Deleting an open request stops its backfill, so its workflow is told. Deleting a completed one changes nothing.
      if (!event.previous || isCompletedRequest(event.previous)) return;
      change = deletion;
    } else {
      change = backfillRequestChange(event.previous, event.object);
    }
    if (!change.forward) {
      settings.metrics.suppressed.inc({ kind: BACKFILL_REQUESTS.kind });
      return;
    }
    const parsed = parseBackfillRequest(event.object);
    if (!parsed.ok) {
      settings.log.debug({ request: event.object.metadata?.name, error: parsed.error.message }, 'unreadable request');
      return;
    }
    const routing = routeRequest(parsed.value, directory);
    if ('stream' in routing && event.type === 'added' && this.madeByWorkflow(routing.stream, parsed.value.name)) {
      settings.metrics.suppressed.inc({ kind: BACKFILL_REQUESTS.kind });
      return;
    }
    if ('stream' in routing) {
      this.wake(routing, event.object, `BackfillRequest ${parsed.value.name} ${change.reason}`);
    } else if (event.type !== 'deleted') {
      this.scheduleCheck(parsed.value);
    }
  }

  /**
   * Whether the request is its stream's initial one, whose name only the stream's workflow derives (from the stream's
   * uid): the workflow made it, and its observation after making it already shows it.
   */
  private madeByWorkflow(stream: StreamKey, requestName: string): boolean {
    const uid = this.deps.directory.source(stream.streamClass)?.get(stream.namespace, stream.name)?.metadata?.uid;
    return uid !== undefined && initialBackfillRequestName({ name: stream.name, uid }) === requestName;
  }

  /** Tells the request's stream about it, with the version of the request as this event saw it. */
  private wake(routing: { stream: StreamKey; kind: string }, request: WatchedObject, reason: string): void {
    const versions = versionOf(versionKey.backfillRequest(request.metadata?.name ?? ''), request);
    this.deps.dispatcher.send({
      stream: routing.stream,
      signal: backfillRequestObservedSignal,
      reason,
      versions,
      start: { kind: routing.kind },
    });
  }

  private scheduleCheck(request: BackfillRequest): void {
    const key = `${request.namespace}/${request.name}`;
    if (this.checks.has(key)) return;
    const timer = setTimeout(() => {
      this.checks.delete(key);
      void this.check(request.namespace, request.name);
    }, this.deps.graceMs);
    timer.unref();
    this.checks.set(key, timer);
  }

  /**
   * Runs when the grace period is over: if the request's stream showed up meanwhile, its workflow is woken; otherwise
   * the request's status says why no stream matches.
   */
  private async check(namespace: string, name: string): Promise<void> {
    const object = this.informer.get(namespace, name);
    const parsed = object && parseBackfillRequest(object);
    if (!object || !parsed?.ok || parsed.value.completed || !this.deps.isLeader()) return;
    const routing = routeRequest(parsed.value, this.deps.directory);
    if ('unsettled' in routing) {
      this.scheduleCheck(parsed.value);
      return;
    }
    if ('stream' in routing) {
      this.wake(routing, object, `BackfillRequest ${name} waiting for its stream`);
      return;
    }
    const { reason, message } = routing.unmatched;
    const desired = { phase: 'Failed', condition: { type: 'Error', status: 'True' as const, reason, message } };
    const status = statusPatch(object.status, desired, object.metadata?.generation ?? 0, new Date().toISOString());
    if (!status) return;
    try {
      await this.deps.clients.custom.patchNamespacedCustomObjectStatus(
        {
          group: ARCANE_GROUP,
          version: ARCANE_VERSION,
          plural: BACKFILL_REQUESTS.plural,
          namespace,
          name,
          body: { status },
        },
        mergePatch,
      );
      this.deps.settings.log.info(
        { request: `${namespace}/${name}`, reason, message },
        'BackfillRequest matches no stream',
      );
    } catch (error) {
      this.deps.settings.log.warn(
        { request: `${namespace}/${name}`, error: errorMessage(error) },
        'request status write failed',
      );
      this.scheduleCheck(parsed.value);
    }
  }
}
