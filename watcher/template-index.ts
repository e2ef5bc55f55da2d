// Which streams use which StreamingJobTemplate, kept from the stream informers' caches, so a template change
// wakes exactly the workflows whose Jobs are built from it.
import { streamWorkflowId } from '../client/stream-id.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { parseStreamExecution, templateCandidates, type TemplateRef } from '../resources/stream-layout.ts';

/** `<namespace>/<name>` of every template the stream may be built from (fallback namespaces included). */
export function templateRefsOf(stream: { spec?: unknown }, namespace: string): string[] {
  const execution = parseStreamExecution({ spec: stream.spec }, namespace);
  if (!execution.ok) return [];
  const { backend } = execution.value;
  if (backend.kind === 'none') return [];
  const refs: (TemplateRef | null)[] = [backend.jobTemplateRef, backend.backfillJobTemplateRef];
  const keys = refs.flatMap((ref) => (ref ? templateCandidates(ref) : [])).map((t) => `${t.namespace}/${t.name}`);
  return [...new Set(keys)];
}

export class TemplateIndex {
  private readonly refsByStream = new Map<string, { stream: StreamKey; refs: string[] }>();
  private readonly streamsByRef = new Map<string, Map<string, StreamKey>>();

  /** Records the templates `stream` uses now (none: forget it). */
  set(stream: StreamKey, refs: string[]): void {
    const id = streamWorkflowId(stream);
    for (const ref of this.refsByStream.get(id)?.refs ?? []) {
      const streams = this.streamsByRef.get(ref);
      streams?.delete(id);
      if (streams?.size === 0) this.streamsByRef.delete(ref);
    }
    if (refs.length === 0) {
      this.refsByStream.delete(id);
      return;
    }
    this.refsByStream.set(id, { stream, refs });
    for (const ref of refs) {
      let streams = this.streamsByRef.get(ref);
      if (!streams) this.streamsByRef.set(ref, (streams = new Map<string, StreamKey>()));
      streams.set(id, stream);
    }
  }

  /** Streams built from the template `namespace/name`. */
  streamsUsing(namespace: string, name: string): StreamKey[] {
    return [...(this.streamsByRef.get(`${namespace}/${name}`)?.values() ?? [])];
  }
}
