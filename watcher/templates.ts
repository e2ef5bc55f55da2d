// StreamingJobTemplates: a new, changed or deleted template wakes the workflows of the streams built from it (a
// missing template appearing, a new plugin image rolling out).
import { ARCANE_GROUP, ARCANE_VERSION, STREAMING_JOB_TEMPLATES } from '../resources/api-group.ts';
import { versionKey } from '../workflows/lifecycle/versions.ts';
import { templateObservedSignal } from '../workflows/messages.ts';
import { deletion, templateChange } from './forwarding.ts';
import { SupervisedInformer, type InformerEvent } from '../kubernetes/informer.ts';
import type { InformerSettings } from './metrics.ts';
import { versionOf, type SignalDispatcher } from './runtime/signals.ts';
import type { StreamDirectory } from './stream-class-controller.ts';
import type { TemplateIndex } from './template-index.ts';

export interface TemplateWatchDeps {
  settings: InformerSettings;
  watchNamespace?: string;
  directory: StreamDirectory;
  dispatcher: SignalDispatcher;
  templates: TemplateIndex;
  onListed(): void;
}

export function watchTemplates(deps: TemplateWatchDeps): SupervisedInformer {
  const { settings, directory, dispatcher, templates } = deps;
  const kind = STREAMING_JOB_TEMPLATES.kind;
  const onEvent = (event: InformerEvent) => {
    settings.metrics.events.inc({ kind, type: event.type });
    if (event.fromList) return;
    const { object, previous } = event;
    const change = event.type === 'deleted' ? deletion : templateChange(previous, object);
    if (!change.forward) {
      settings.metrics.suppressed.inc({ kind });
      return;
    }
    const { namespace = '', name = '' } = object.metadata ?? {};
    const reason = `${kind} ${namespace}/${name} ${change.reason}`;
    const versions = versionOf(versionKey.template(namespace, name), object);
    for (const stream of templates.streamsUsing(namespace, name)) {
      const source = directory.source(stream.streamClass);
      if (!source?.has(stream.namespace, stream.name)) continue;
      dispatcher.send({ stream, signal: templateObservedSignal, reason, versions, start: { kind: source.kind } });
    }
  };
  const location = {
    group: ARCANE_GROUP,
    version: ARCANE_VERSION,
    plural: STREAMING_JOB_TEMPLATES.plural,
    namespace: deps.watchNamespace,
  };
  return new SupervisedInformer(
    { ...settings, resource: `${location.plural}.${location.group}`, location },
    { event: onEvent, listed: () => deps.onListed() },
  );
}
