// Typed helpers for services that steer streams: every call is an update or query on the stream's workflow.
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { StreamKey } from '../resources/stream-key.ts';
import * as messages from '../workflows/messages.ts';
import type { BackfillUpdateInput, BackfillUpdateResult, StreamStatus, UpdateAccepted } from '../workflows/messages.ts';
import { streamWorkflowId } from './stream-id.ts';

function handle(client: Client, stream: StreamKey): WorkflowHandle {
  return client.workflow.getHandle(streamWorkflowId(stream));
}

/** Why the stream's workflow takes no updates: it ended (and how), or it never started. */
async function notRunning(workflow: WorkflowHandle): Promise<string> {
  const id = workflow.workflowId;
  const description = await workflow.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  });
  if (!description) return `there is no workflow ${id}; the watcher starts it once it sees the stream`;
  if (description.status.name !== 'COMPLETED') return `its workflow ${id} is ${description.status.name.toLowerCase()}`;
  const final = (await workflow.result()) as StreamStatus;
  const how = final.ended === 'detached' ? `detached (${final.message})` : 'deleted';
  return `the stream was ${how}; its workflow ${id} has completed`;
}

/** Sends an update; when the workflow is not running the error still names the update and says why. */
async function send<R>(client: Client, stream: StreamKey, update: string, call: (w: WorkflowHandle) => Promise<R>) {
  const workflow = handle(client, stream);
  try {
    return await call(workflow);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    throw new WorkflowNotFoundError(`cannot ${update}: ${await notRunning(workflow)}`, workflow.workflowId, undefined);
  }
}

/** Sets the stream's `suspended` field; its Job is deleted once the workflow sees the change. */
export function suspendStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return send(client, stream, 'suspend', (workflow) => workflow.executeUpdate(messages.suspendUpdate));
}

/** Clears the stream's `suspended` field; it continues with an open backfill if there is one, else streams. */
export function resumeStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return send(client, stream, 'resume', (workflow) => workflow.executeUpdate(messages.resumeUpdate));
}

/** Creates a BackfillRequest for the stream, or returns the open one if it already has one. */
export function requestBackfill(
  client: Client,
  stream: StreamKey,
  input: BackfillUpdateInput = {},
): Promise<BackfillUpdateResult> {
  return send(client, stream, 'backfill', (workflow) =>
    workflow.executeUpdate(messages.backfillUpdate, { args: [input] }),
  );
}

/** Replaces the stream's Job now (also the way out of Failed once automatic restarts are exhausted). */
export function restartStream(client: Client, stream: StreamKey): Promise<UpdateAccepted> {
  return send(client, stream, 'restart', (workflow) => workflow.executeUpdate(messages.restartUpdate));
}

export function getStreamState(client: Client, stream: StreamKey): Promise<StreamStatus> {
  return handle(client, stream).query(messages.stateQuery);
}
