// The public client module: what other services import to find and steer stream workflows.
export { defaultTaskQueue, parseStreamWorkflowId, streamWorkflowId } from './stream-id.ts';
export { namespaceKey, phaseKey, searchAttributeKeys, streamClassKey, streamNameKey } from './search-attributes.ts';
export type { StreamKey } from '../resources/stream-key.ts';
export { getStreamState, requestBackfill, restartStream, resumeStream, suspendStream } from './streams.ts';
export {
  backfillUpdate,
  restartUpdate,
  resumeUpdate,
  stateQuery,
  suspendUpdate,
  type BackfillUpdateInput,
  type BackfillUpdateResult,
  type StreamStatus,
  type UpdateAccepted,
} from '../workflows/messages.ts';
