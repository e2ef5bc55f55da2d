// A stream's workflow as Temporal shows it: the `state` query, the history (which activities ran, which signals came)
// and whether the workflow has settled.
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { getStreamState } from '../../client/streams.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import { metricSum } from '../../bench/measure.ts';
import { RECHECK_MS } from './operator.ts';
import { waitForValue } from './wait-for-value.ts';
import type { Action } from '../../workflows/lifecycle.ts';
import type { Notice, StreamStatus } from '../../workflows/messages.ts';

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

/** An activity the workflow scheduled, with the lifecycle action it was given (none for observe and the updates). */
export interface ActivityCall {
  type: string;
  /** Its position in the history (the event id), to order it against signals and timers. */
  position: number;
  action?: Action;
  completed: boolean;
}

export interface SignalReceived {
  name: string;
  /** The reason the watcher gave. */
  reason: string;
  position: number;
}

/** A durable timer: what the Temporal UI shows for it, how long it was set for, and how it ended (if it has). */
export interface DurableTimer {
  summary: string;
  timeoutMs: number;
  position: number;
  ended?: 'fired' | 'canceled';
}

export interface WorkflowHistory {
  /** Activity types in the order they were scheduled. */
  activities: string[];
  /** The same activities with their actions and positions. */
  calls: ActivityCall[];
  /** Signals in the order they arrived. */
  signals: SignalReceived[];
  /** Activities that needed more than one attempt (a failure or timeout was retried). */
  retried: number;
  timers: DurableTimer[];
}

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type ProtoDuration = proto.google.protobuf.IDuration;

function decode<T>(payload: proto.temporal.api.common.v1.IPayload | undefined): T | undefined {
  return payload ? defaultPayloadConverter.fromPayload<T>(payload) : undefined;
}

function milliseconds(duration: ProtoDuration | null | undefined): number {
  return Number(duration?.seconds ?? 0) * 1000 + Math.round((duration?.nanos ?? 0) / 1e6);
}

function signalsIn(events: HistoryEvent[]): SignalReceived[] {
  return events.flatMap((event) => {
    const signaled = event.workflowExecutionSignaledEventAttributes;
    if (!signaled) return [];
    const notice = decode<Notice>(signaled.input?.payloads?.[0]);
    return [{ name: signaled.signalName ?? '', reason: notice?.reason ?? '', position: Number(event.eventId) }];
  });
}

/** What the history keeps of a local activity: its type in the marker's data, its result beside it. */
function localCalls(event: HistoryEvent): ActivityCall[] {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return [];
  const data = decode<{ activity_type?: string }>(marker.details?.data?.payloads?.[0]);
  const position = Number(event.eventId);
  const completed = !marker.failure;
  const type = data?.activity_type ?? '';
  // A round's actions run as one local activity whose result lists them (revisions 2 and 3); a wake's rounds run as
  // one whose result lists each round's actions (revision 4).
  if (type !== 'act' && type !== 'settle') return [{ type, position, action: undefined, completed }];
  const result = decode<{ actions?: Action[]; rounds?: Action[][] }>(marker.details?.result?.payloads?.[0]);
  const actions = type === 'act' ? (result?.actions ?? []) : (result?.rounds ?? []).flat();
  return actions.map((action) => ({ type: action.type, position, action, completed }));
}

/** The attempt a local activity's marker records (0 for any other event). */
function localAttempt(event: HistoryEvent): number {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return 0;
  return decode<{ attempt?: number }>(marker.details?.data?.payloads?.[0])?.attempt ?? 0;
}

function callsIn(events: HistoryEvent[]): ActivityCall[] {
  const completed = new Set(events.map((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? 0)));
  return events.flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return localCalls(event);
    const position = Number(event.eventId);
    const argument = decode<unknown>(scheduled.input?.payloads?.[1]);
    const action = typeof argument === 'object' && argument !== null && 'type' in argument ? argument : undefined;
    return [
      {
        type: scheduled.activityType?.name ?? '',
        position,
        action: action as Action | undefined,
        completed: completed.has(position),
      },
    ];
  });
}

function timersIn(events: HistoryEvent[]): DurableTimer[] {
  const ended = new Map<number, DurableTimer['ended']>();
  for (const event of events) {
    const fired = event.timerFiredEventAttributes?.startedEventId;
    const canceled = event.timerCanceledEventAttributes?.startedEventId;
    if (fired != null) ended.set(Number(fired), 'fired');
    if (canceled != null) ended.set(Number(canceled), 'canceled');
  }
  return events.flatMap((event) => {
    const started = event.timerStartedEventAttributes;
    if (!started) return [];
    const position = Number(event.eventId);
    const summary = decode<string>(event.userMetadata?.summary ?? undefined) ?? '';
    return [{ summary, timeoutMs: milliseconds(started.startToFireTimeout), position, ended: ended.get(position) }];
  });
}

/** The stream workflow's history (of its current run: continue-as-new starts a fresh one). */
export async function historyOf(client: Client, stream: StreamKey): Promise<WorkflowHistory> {
  const history = await client.workflow.getHandle(streamWorkflowId(stream)).fetchHistory();
  const events = history.events ?? [];
  const calls = callsIn(events);
  return {
    activities: calls.map((call) => call.type),
    calls,
    signals: signalsIn(events),
    retried: events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? localAttempt(e)) > 1).length,
    timers: timersIn(events),
  };
}

/** The first signal named `name` whose reason matches, or a failure listing the signals that came. */
export function signalIn(history: WorkflowHistory, name: string, reason: RegExp = /./): SignalReceived {
  const signal = history.signals.find((s) => s.name === name && reason.test(s.reason));
  if (!signal) {
    const came = history.signals.map((s) => `${s.name} (${s.reason})`).join('; ');
    throw new Error(`no ${name} signal ${reason} in the history; signals: ${came}`);
  }
  return signal;
}

/** The activities scheduled after `position` (e.g. a signal's), in order. */
export function callsAfter(history: WorkflowHistory, position: number): ActivityCall[] {
  return history.calls.filter((call) => call.position > position);
}

/** Whether `expected` occurs in `actual` in this order (other entries may come between). */
export function inOrder(actual: readonly string[], expected: readonly string[]): boolean {
  let next = 0;
  for (const item of actual) if (item === expected[next]) next++;
  return next === expected.length;
}

/** What shows that the operator is doing something: the Temporal client and the worker process (for its /metrics). */
export interface OperatorProbe {
  temporal: Client;
  worker: { metrics(): Promise<string> };
}

/** The Kubernetes API calls the worker has made since it started (all verbs, resources and codes). */
export async function workerApiCalls(operator: OperatorProbe): Promise<number> {
  return metricSum(await operator.worker.metrics(), 'arcane_kubernetes_api_calls_total');
}

/** The workflow's run and its history length, and whether it waits for input (no task or activity pending). */
async function progress(client: Client, stream: StreamKey) {
  const description = await client.workflow.getHandle(streamWorkflowId(stream)).describe();
  const { raw, runId, historyLength } = description;
  const idle = !raw.pendingWorkflowTask && (raw.pendingActivities ?? []).length === 0;
  return { run: `${runId}:${historyLength}`, idle };
}

/**
 * A window long enough to see a workflow that is still working: twice the recheck interval, the longest a holding
 * workflow waits before it acts again, so a loop that pauses between rounds shows up inside it.
 */
export const QUIET_WINDOW_MS = 2 * RECHECK_MS;

/**
 * Waits until nothing more happens: over `windowMs` the workflow waits for input and its history does not grow, and
 * the worker makes no Kubernetes API call (for any stream: a quiet worker is what "settled" means to a cluster). When
 * `signal` is given, such a signal (its reason matching `reason`) must have arrived first.
 */
export async function waitForSettled(
  operator: OperatorProbe,
  stream: StreamKey,
  expect: { signal?: string; reason?: RegExp } = {},
  { windowMs = QUIET_WINDOW_MS, timeoutMs = 60_000 }: { windowMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const handle = operator.temporal.workflow.getHandle(streamWorkflowId(stream));
  const { signal, reason } = expect;
  const what = `${stream.name}: the workflow settled${signal ? ` after a ${signal} signal ${reason ?? ''}` : ''}`;
  if (signal !== undefined) {
    await waitFor(
      `${what} (the signal)`,
      async () => {
        const signals = signalsIn((await handle.fetchHistory()).events ?? []);
        return signals.some((s) => s.name === signal && (reason?.test(s.reason) ?? true));
      },
      { timeoutMs, intervalMs: 250 },
    );
  }
  let last = '';
  let since = Date.now();
  await waitFor(
    `${what} (${windowMs} ms without history events or worker API calls)`,
    async () => {
      const [{ run, idle }, calls] = await Promise.all([progress(operator.temporal, stream), workerApiCalls(operator)]);
      const sample = `${run}/${calls}`;
      if (!idle || sample !== last) [last, since] = [idle ? sample : '', Date.now()];
      return Date.now() - since >= windowMs;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** The events of the workflow's runs since `since` (a run and its length), continue-as-new included. */
async function eventsSince(client: Client, stream: StreamKey, since: { runId: string; historyLength: number }) {
  const id = streamWorkflowId(stream);
  const now = await client.workflow.getHandle(id).describe();
  if (now.runId === since.runId) return now.historyLength - since.historyLength;
  const ended = await client.workflow.getHandle(id, since.runId).describe();
  return ended.historyLength - since.historyLength + now.historyLength;
}

/**
 * What the operator did for `streams` over a window of `windowMs`: the worker's Kubernetes API calls (for any stream)
 * and the history events the streams' workflows gained. A measurement, so it waits the whole window.
 */
export async function costOver(
  operator: OperatorProbe,
  streams: readonly StreamKey[],
  windowMs: number,
): Promise<{ apiCalls: number; historyEvents: number }> {
  const describe = (stream: StreamKey) => operator.temporal.workflow.getHandle(streamWorkflowId(stream)).describe();
  const [callsBefore, runs] = await Promise.all([workerApiCalls(operator), Promise.all(streams.map(describe))]);
  await delay(windowMs);
  const [callsAfter, events] = await Promise.all([
    workerApiCalls(operator),
    Promise.all(streams.map((stream, i) => eventsSince(operator.temporal, stream, runs[i]!))),
  ]);
  return { apiCalls: callsAfter - callsBefore, historyEvents: events.reduce((sum, n) => sum + n, 0) };
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
