// Workflow ids and the task queue. An id is unique only within one Kubernetes cluster (it is made of the stream's class,
// namespace and name), so each cluster needs a Temporal namespace of its own.
import type { StreamKey } from '../resources/stream-key.ts';

export const defaultTaskQueue = 'arcane-streams';

export function streamWorkflowId(stream: StreamKey): string {
  return `stream/${stream.streamClass}/${stream.namespace}/${stream.name}`;
}

/** The stream a workflow id names, or undefined for ids that are not stream workflows. */
export function parseStreamWorkflowId(workflowId: string): StreamKey | undefined {
  const parts = workflowId.split('/');
  if (parts.length !== 4 || parts[0] !== 'stream' || parts.some((part) => part === '')) return undefined;
  const [, streamClass, namespace, name] = parts as [string, string, string, string];
  return { streamClass, namespace, name };
}
