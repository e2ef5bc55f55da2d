// The stream workflows' typed search attributes (SPEC 5): registered by the worker, set by the workflow.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const streamClassKey = defineSearchAttributeKey('ArcaneStreamClass', SearchAttributeType.KEYWORD);
export const namespaceKey = defineSearchAttributeKey('ArcaneNamespace', SearchAttributeType.KEYWORD);
export const streamNameKey = defineSearchAttributeKey('ArcaneStreamName', SearchAttributeType.KEYWORD);
export const phaseKey = defineSearchAttributeKey('ArcanePhase', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [streamClassKey, namespaceKey, streamNameKey, phaseKey] as const;

/** The phase search attribute's value: the stream's phase, or `None` before it has one. */
export function phaseAttribute(phase: string): string {
  return phase || 'None';
}

/** A stream workflow's search attributes: the stream's identity and its phase. */
export function streamSearchAttributes(
  stream: { streamClass: string; namespace: string; name: string },
  phase: string,
) {
  return [
    { key: streamClassKey, value: stream.streamClass },
    { key: namespaceKey, value: stream.namespace },
    { key: streamNameKey, value: stream.name },
    { key: phaseKey, value: phaseAttribute(phase) },
  ];
}

/** The search attributes of a stream's workflow as it starts: its identity, and no phase yet. */
export function startingSearchAttributes(stream: { streamClass: string; namespace: string; name: string }) {
  return streamSearchAttributes(stream, '');
}
