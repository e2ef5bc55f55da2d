// The streams of one StreamClass: an informer on the class's stream CRD that forwards creations, spec changes,
// deletion requests and pin-template changes to the stream's workflow, and keeps the template index current.
import type { StreamClass } from '../resources/stream-class.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { versionKey } from '../workflows/lifecycle/versions.ts';
import { deletedSignal, detachedSignal, streamObservedSignal } from '../workflows/messages.ts';
import { streamChange, type WatchedObject } from './forwarding.ts';
import { SupervisedInformer, type InformerEvent } from '../kubernetes/informer.ts';
import type { InformerSettings } from './metrics.ts';
import { versionAt, versionOf, type SignalDispatcher } from './runtime/signals.ts';
import type { SourceHealth } from './stream-class-status.ts';
import { resourceName } from './stream-class-status.ts';
import { templateRefsOf, type TemplateIndex } from './template-index.ts';

export interface StreamSourceDeps {
  settings: InformerSettings;
  watchNamespace?: string;
  dispatcher: SignalDispatcher;
  templates: TemplateIndex;
  onHealth(health: SourceHealth): void;
  /** The cache is complete after a (re-)list: its streams need a resync. */
  onListed(): void;
}

/** Where a class's streams live, for comparing targets: a change of any of these is another set of objects. */
export function streamResource(streamClass: StreamClass): string {
  return `${resourceName(streamClass)}/${streamClass.kind}`;
}

export class StreamSource {
  /** Kept current when the class changes in ways that need no new informer (e.g. its secretRefs). */
  streamClass: StreamClass;
  readonly informer: SupervisedInformer;
  private readonly deps: StreamSourceDeps;

  constructor(streamClass: StreamClass, deps: StreamSourceDeps) {
    this.streamClass = streamClass;
    this.deps = deps;
    const { group, version, plural } = streamClass;
    this.informer = new SupervisedInformer(
      {
        ...deps.settings,
        resource: resourceName(streamClass),
        location: { group, version, plural, namespace: deps.watchNamespace },
      },
      { event: (event) => this.onEvent(event), listed: () => deps.onListed(), health: (h) => deps.onHealth(h) },
    );
  }

  get kind(): string {
    return this.streamClass.kind;
  }

  keyOf(stream: WatchedObject): StreamKey {
    return {
      streamClass: this.streamClass.name,
      namespace: stream.metadata?.namespace ?? '',
      name: stream.metadata?.name ?? '',
    };
  }

  /** Its cache holds every stream of its current target: only then is a stream missing from it really gone. */
  get listed(): boolean {
    return this.informer.health.everSynced;
  }

  /** Nothing more to wait for: it has listed, or the API server does not serve its kind (see the class status). */
  get settled(): boolean {
    const health = this.informer.health;
    return this.listed || (health.state === 'failing' && health.error?.code === 404);
  }

  has(namespace: string, name: string): boolean {
    return this.informer.get(namespace, name) !== undefined;
  }

  /** The stream as last seen, if this class has it. */
  get(namespace: string, name: string): WatchedObject | undefined {
    return this.informer.get(namespace, name);
  }

  streams(): WatchedObject[] {
    return this.informer.list();
  }

  start(): void {
    this.informer.start();
  }

  /**
   * Stops watching; with a reason, the streams' workflows are told they are detached (their class is gone), the
   * notice naming the StreamClasses' version that shows it (`classVersion`), which their observation must be as new as.
   */
  async stop(detachReason?: string, classVersion?: string): Promise<void> {
    // Once stopping has begun this informer delivers no more events, so no late event of it can undo the template
    // index entries that the informer replacing it adds.
    const stopping = this.informer.stop();
    for (const stream of this.informer.list()) {
      const key = this.keyOf(stream);
      this.deps.templates.set(key, []);
      if (detachReason !== undefined)
        this.deps.dispatcher.send({
          stream: key,
          signal: detachedSignal,
          reason: detachReason,
          versions: versionAt(versionKey.streamClass, classVersion),
        });
    }
    await stopping;
  }

  private onEvent(event: InformerEvent): void {
    const { settings, templates, dispatcher } = this.deps;
    const { object, previous } = event;
    const stream = this.keyOf(object);
    settings.metrics.events.inc({ kind: this.kind, type: event.type });
    templates.set(stream, event.type === 'deleted' ? [] : templateRefsOf(object, stream.namespace));
    if (event.fromList) return;
    if (event.type === 'deleted') {
      // The deletion's version: an observation of the stream older than it (a cache behind) would still show it.
      const versions = versionOf(versionKey.stream, object);
      dispatcher.send({ stream, signal: deletedSignal, reason: `${this.kind} ${stream.name} deleted`, versions });
      return;
    }
    const change = streamChange(previous, object);
    if (!change.forward) {
      settings.metrics.suppressed.inc({ kind: this.kind });
      return;
    }
    const reason = `${this.kind} ${stream.name} ${change.reason}`;
    const versions = versionOf(versionKey.stream, object);
    dispatcher.send({ stream, signal: streamObservedSignal, reason, versions, start: { kind: this.kind } });
  }
}
