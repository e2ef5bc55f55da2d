// StreamClasses: which class serves which kind, a stream informer per serving class (re-targeted when the class's
// spec changes, stopped when it goes, its streams' workflows then told `detached`), and the class status and Events.
import { ARCANE_GROUP, ARCANE_VERSION, STREAM_CLASSES } from '../resources/api-group.ts';
import { parseStreamClass, type StreamClass } from '../resources/stream-class.ts';
import { readStoredStatus } from '../resources/stream-status.ts';
import type { WatchedObject } from './forwarding.ts';
import { SupervisedInformer } from '../kubernetes/informer.ts';
import type { EventRecorder } from './kubernetes-events.ts';
import { errorMessage } from '../kubernetes/errors.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import type { KubernetesClients } from './kubernetes-client.ts';
import type { ClassState, InformerSettings, StreamCount } from './metrics.ts';
import type { SignalDispatcher } from './runtime/signals.ts';
import { statusPatch } from './status-patch.ts';
import {
  assignClasses,
  classStatus,
  classTransitionEvents,
  desiredClassStatus,
  type ClassAssignment,
} from './stream-class-status.ts';
import { StreamSource, streamResource } from './stream-source.ts';
import type { TemplateIndex } from './template-index.ts';

const STATUS_RETRY_MS = 2_000;

export interface StreamClassControllerDeps {
  settings: InformerSettings;
  clients: KubernetesClients;
  watchNamespace?: string;
  dispatcher: SignalDispatcher;
  templates: TemplateIndex;
  events: EventRecorder;
  isLeader(): boolean;
  /** A class's streams need a resync: they were (re-)listed, or what their Jobs are built with changed. */
  resync(className: string, reason: string): void;
}

/** What the rest of the watcher asks about classes and their streams. */
export interface StreamDirectory {
  /** The StreamClasses have been listed: a class missing now is really gone. */
  classesSynced(): boolean;
  /** The newest version of the StreamClasses seen: a class missing now was gone at it. */
  classesVersion(): string | undefined;
  classExists(name: string): boolean;
  /** The serving class of that name. */
  source(className: string): StreamSource | undefined;
  sources(): StreamSource[];
  /** Every serving class has listed its streams (or has no CRD to list). */
  settled(): boolean;
}

export class StreamClassController implements StreamDirectory {
  private readonly deps: StreamClassControllerDeps;
  private readonly informer: SupervisedInformer;
  private readonly active = new Map<string, StreamSource>();
  private assignments = new Map<string, ClassAssignment>();
  /** Status patches sent, by class: skipped while the cache still shows the version they were computed from. */
  private readonly written = new Map<string, { patch: string; resourceVersion: string }>();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(deps: StreamClassControllerDeps) {
    this.deps = deps;
    this.informer = new SupervisedInformer(
      {
        ...deps.settings,
        resource: `${STREAM_CLASSES.plural}.${ARCANE_GROUP}`,
        location: { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAM_CLASSES.plural },
      },
      {
        event: (event) => {
          deps.settings.metrics.events.inc({ kind: STREAM_CLASSES.kind, type: event.type });
          if (!event.fromList) this.reconcile();
        },
        listed: () => this.reconcile(),
      },
    );
  }

  get classInformer(): SupervisedInformer {
    return this.informer;
  }

  start(): void {
    this.informer.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.retryTimer);
    await Promise.all([this.informer.stop(), ...[...this.active.values()].map((source) => source.stop())]);
  }

  classesSynced(): boolean {
    return this.informer.synced;
  }

  classesVersion(): string | undefined {
    return this.informer.newestVersion;
  }

  classExists(name: string): boolean {
    return this.informer.get('', name) !== undefined;
  }

  source(className: string): StreamSource | undefined {
    return this.active.get(className);
  }

  sources(): StreamSource[] {
    return [...this.active.values()];
  }

  settled(): boolean {
    return this.informer.synced && this.sources().every((source) => source.settled);
  }

  streamCounts(): StreamCount[] {
    return this.sources().flatMap((source) =>
      source.streams().map((stream) => ({
        namespace: stream.metadata?.namespace ?? '',
        kindRef: source.streamClass.name,
        kind: source.kind,
        phase: readStoredStatus(stream.status).phase || 'None',
      })),
    );
  }

  /** Serve every class that may serve, stop the rest, and show each class's state in its status. */
  reconcile(): void {
    const classes = this.informer.list();
    this.assignments = assignClasses(
      classes.map((object) => ({
        name: object.metadata?.name ?? '',
        createdAt: String(object.metadata?.creationTimestamp ?? ''),
        parsed: parseStreamClass(object),
      })),
    );
    for (const [name, source] of [...this.active]) {
      const assignment = this.assignments.get(name);
      const served = assignment && 'serves' in assignment ? assignment.serves : undefined;
      if (served && served.version === source.streamClass.version && sameTarget(served, source.streamClass)) {
        const [before, after] = [source.streamClass, served].map((c) => JSON.stringify(c.secretRefs));
        source.streamClass = served;
        // Their Jobs load the class's secrets (envFrom): the workflows look again.
        if (before !== after) this.deps.resync(name, `StreamClass ${name} secretRefs ${before} -> ${after}`);
        continue;
      }
      this.active.delete(name);
      const detach = served && sameTarget(served, source.streamClass) ? undefined : detachReason(name, assignment);
      void source.stop(detach, this.classesVersion());
    }
    for (const [name, assignment] of this.assignments) {
      if ('serves' in assignment && !this.active.has(name)) this.serve(assignment.serves);
    }
    this.writeStatuses();
  }

  private serve(streamClass: StreamClass): void {
    const { deps } = this;
    const source = new StreamSource(streamClass, {
      settings: deps.settings,
      watchNamespace: deps.watchNamespace,
      dispatcher: deps.dispatcher,
      templates: deps.templates,
      onHealth: () => this.writeStatuses(),
      onListed: () => deps.resync(streamClass.name, `streams of StreamClass ${streamClass.name} listed`),
    });
    this.active.set(streamClass.name, source);
    deps.settings.log.info(
      { streamClass: streamClass.name, resource: streamResource(streamClass), namespace: deps.watchNamespace ?? '*' },
      'watching streams',
    );
    source.start();
  }

  /** Leader only: bring every class's status in line; a failed write is retried shortly. */
  writeStatuses(): void {
    if (!this.deps.isLeader()) {
      this.written.clear();
      return;
    }
    for (const object of this.informer.list()) {
      const { name, previousPhase, desired } = this.decide(object);
      if (!desired) continue;
      const generation = object.metadata?.generation ?? 0;
      const patch = statusPatch(object.status, classStatus(desired), generation, new Date().toISOString());
      if (!patch) {
        this.written.delete(name);
        continue;
      }
      const resourceVersion = object.metadata?.resourceVersion ?? '';
      const key = JSON.stringify({ phase: patch.phase, desired, generation });
      const last = this.written.get(name);
      if (last?.patch === key && last.resourceVersion === resourceVersion) continue;
      this.written.set(name, { patch: key, resourceVersion });
      void this.writeStatus(object, patch).then(async (written) => {
        if (!written) return;
        for (const note of classTransitionEvents(name, previousPhase, desired)) {
          await this.deps.events.record(object, note);
        }
      });
    }
  }

  /** The phase this replica decides for each class, whoever writes the status ('Unknown' while it cannot tell). */
  classStates(): ClassState[] {
    return this.informer.list().map((object) => {
      const { name, desired } = this.decide(object);
      return { name, phase: desired?.phase ?? 'Unknown', reason: desired?.reason ?? '' };
    });
  }

  private decide(object: WatchedObject) {
    const name = object.metadata?.name ?? '';
    const assignment = this.assignments.get(name);
    const previousPhase = readStoredStatus(object.status).phase ?? '';
    const health = this.active.get(name)?.informer.health;
    const desired = assignment && desiredClassStatus(assignment, health, previousPhase);
    return { name, previousPhase, desired };
  }

  private async writeStatus(object: WatchedObject, status: object): Promise<boolean> {
    const name = object.metadata?.name ?? '';
    try {
      await this.deps.clients.custom.patchClusterCustomObjectStatus(
        { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAM_CLASSES.plural, name, body: { status } },
        mergePatch,
      );
      this.deps.settings.log.info({ streamClass: name, status }, 'StreamClass status written');
      return true;
    } catch (error) {
      this.written.delete(name);
      this.deps.settings.log.warn({ streamClass: name, error: errorMessage(error) }, 'StreamClass status write failed');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.writeStatuses(), STATUS_RETRY_MS);
      this.retryTimer.unref();
      return false;
    }
  }
}

function sameTarget(a: StreamClass, b: StreamClass): boolean {
  return streamResource(a) === streamResource(b);
}

function detachReason(name: string, assignment: ClassAssignment | undefined): string {
  if (!assignment) return `StreamClass ${name} deleted`;
  if ('failure' in assignment) return `StreamClass ${name} no longer serves streams: ${assignment.failure.message}`;
  return `StreamClass ${name} now serves kind ${assignment.serves.kind} (${streamResource(assignment.serves)})`;
}
