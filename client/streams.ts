// Typed helpers for services that steer streams: every call is an update or query on the stream's workflow.
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  backfillUpdate,
  restartUpdate,
  resumeUpdate,
  stateQuery,
  suspendUpdate,
  type BackfillUpdateInput,
  type BackfillUpdateResult,
  type StreamKey,
  type StreamStatus,
  type UpdateAccepted,
} from '../workflows/messages.ts';
import { streamWorkflowId } from './stream-id.ts';

function handle(client: Client, stream: StreamKey): WorkflowHandle {
  return client.workflow.getHandle(streamWorkflowId(stream));
}

/** Sets the stream's `suspended` field; its Job is deleted once the workflow sees the change. */
export function suspendStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return handle(client, stream).executeUpdate(suspendUpdate);
}

/** Clears the stream's `suspended` field; it continues with an open backfill if there is one, else streams. */
export function resumeStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return handle(client, stream).executeUpdate(resumeUpdate);
}

/** Creates a BackfillRequest for the stream, or returns the open one if it already has one. */
export function requestBackfill(
  client: Client,
  stream: StreamKey,
  input: BackfillUpdateInput = {},
): Promise<BackfillUpdateResult> {
  return handle(client, stream).executeUpdate(backfillUpdate, { args: [input] });
}

/** Replaces the stream's Job now (also the way out of Failed once automatic restarts are exhausted). */
export function restartStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return handle(client, stream).executeUpdate(restartUpdate);
}

export function getStreamState(client: Client, stream: StreamKey): Promise<StreamStatus> {
  return handle(client, stream).query(stateQuery);
}
