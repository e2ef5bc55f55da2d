// A stream's workflow as Temporal shows it: the `state` query, the history (which activities ran, which signals came)
// and whether the workflow has settled.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { getStreamState } from '../../client/streams.ts';
import { waitFor } from '../../stack/wait.ts';
import { waitForValue } from './wait-for-value.ts';
import type { Notice, StreamKey, StreamStatus } from '../../workflows/messages.ts';

/** Waits until the `state` query satisfies `predicate` (the workflow may not exist yet); the failure shows the last. */
export function waitForState(
  client: Client,
  stream: StreamKey,
  description: string,
  predicate: (state: StreamStatus) => boolean,
  timeoutMs = 60_000,
): Promise<StreamStatus> {
  return waitForValue(
    `${stream.name}: workflow state ${description}`,
    () => getStreamState(client, stream),
    predicate,
    {
      timeoutMs,
      show: (state) => ({ ...state, transitions: state.transitions.slice(-6) }),
    },
  );
}

export interface WorkflowHistory {
  /** Activity types in the order they were scheduled. */
  activities: string[];
  /** Signal names with the reason the watcher gave, in order. */
  signals: { name: string; reason: string }[];
  /** Activities that needed more than one attempt (a failure or timeout was retried). */
  retried: number;
  /** The summaries of the durable timers the workflow started (what the Temporal UI shows for them). */
  timers: string[];
}

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

function signalsIn(events: HistoryEvent[]): WorkflowHistory['signals'] {
  return events.flatMap((event) => {
    const signaled = event.workflowExecutionSignaledEventAttributes;
    if (!signaled) return [];
    const payload = signaled.input?.payloads?.[0];
    const notice = payload ? defaultPayloadConverter.fromPayload<Notice>(payload) : undefined;
    return [{ name: signaled.signalName ?? '', reason: notice?.reason ?? '' }];
  });
}

/** The stream workflow's history (of its current run: continue-as-new starts a fresh one). */
export async function historyOf(client: Client, stream: StreamKey): Promise<WorkflowHistory> {
  const history = await client.workflow.getHandle(streamWorkflowId(stream)).fetchHistory();
  const events = history.events ?? [];
  return {
    activities: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
    signals: signalsIn(events),
    retried: events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) > 1).length,
    timers: events.flatMap((e) => {
      if (!e.timerStartedEventAttributes) return [];
      const summary = e.userMetadata?.summary;
      return [summary ? defaultPayloadConverter.fromPayload<string>(summary) : ''];
    }),
  };
}

/** Whether `expected` occurs in `actual` in this order (other entries may come between). */
export function inOrder(actual: readonly string[], expected: readonly string[]): boolean {
  let next = 0;
  for (const item of actual) if (item === expected[next]) next++;
  return next === expected.length;
}

/**
 * Waits until the workflow is idle: no workflow task is pending (every signal it got is handled) and no activity is
 * pending, so it waits for the next change or a timer. When `signal` is given, such a signal (its reason matching
 * `reason`) must have arrived first.
 */
export async function waitForSettled(
  client: Client,
  stream: StreamKey,
  expect: { signal?: string; reason?: RegExp } = {},
  timeoutMs = 60_000,
): Promise<void> {
  const handle = client.workflow.getHandle(streamWorkflowId(stream));
  const { signal, reason } = expect;
  await waitFor(
    `${stream.name}: the workflow settled${signal ? ` after a ${signal} signal ${reason ?? ''}` : ''}`,
    async () => {
      if (signal !== undefined) {
        const signals = signalsIn((await handle.fetchHistory()).events ?? []);
        if (!signals.some((s) => s.name === signal && (reason?.test(s.reason) ?? true))) return false;
      }
      const { raw } = await handle.describe();
      return !raw.pendingWorkflowTask && (raw.pendingActivities ?? []).length === 0;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** Activities a worker has picked up and not yet finished, as `<activity type>` (none when there is no workflow). */
export async function runningActivities(client: Client, stream: StreamKey): Promise<string[]> {
  try {
    const { raw } = await client.workflow.getHandle(streamWorkflowId(stream)).describe();
    return (raw.pendingActivities ?? [])
      .filter(
        (activity) =>
          activity.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
      )
      .map((activity) => activity.activityType?.name ?? '');
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return [];
    throw error;
  }
}

/** Waits until the workflow completed and returns its final state. */
export async function waitForCompletion(client: Client, stream: StreamKey, timeoutMs = 60_000): Promise<StreamStatus> {
  const handle = client.workflow.getHandle(streamWorkflowId(stream));
  await waitFor(
    `${stream.name}: the workflow completed`,
    async () => (await handle.describe()).status.name === 'COMPLETED',
    { timeoutMs, intervalMs: 250 },
  );
  return (await handle.result()) as StreamStatus;
}
