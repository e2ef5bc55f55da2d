// `arcane stream history`: a stream workflow's event history read as a timeline a person can follow — what woke
// the workflow, each activity with its summary and outcome, status writes as phase transitions with their reasons,
// Kubernetes events, and restart backoffs — instead of raw events.
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Action } from '../workflows/lifecycle.ts';
import type { Notice, StreamStatus, StreamWorkflowInput } from '../workflows/messages.ts';
import { preciseDuration, table } from './output.ts';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Payloads = proto.temporal.api.common.v1.IPayloads | null | undefined;
const EventType = proto.temporal.api.enums.v1.EventType;

export interface TimelineEntry {
  /** Epoch ms of the event. */
  at: number;
  /** started, signal, update, activity, status, event, phase, backoff, wait, end, problem */
  kind: string;
  text: string;
}

/** Milliseconds of a protobuf Timestamp or Duration, whether its seconds are a number or a Long. */
function toMs(value: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!value) return undefined;
  const { seconds, nanos } = value;
  const whole =
    typeof seconds === 'object' && seconds !== null
      ? (seconds as { toNumber(): number }).toNumber()
      : Number(seconds ?? 0);
  return whole * 1000 + Math.floor((nanos ?? 0) / 1e6);
}

function decode<T>(payloads: Payloads, index = 0): T | undefined {
  const payload = payloads?.payloads?.[index];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<T>(payload);
  } catch {
    return undefined;
  }
}

function decodeOne<T>(payload: proto.temporal.api.common.v1.IPayload | null | undefined): T | undefined {
  return payload ? decode<T>({ payloads: [payload] }) : undefined;
}

/** The stream's stored status in an activity's result: an observation, or an act round's observation after it. */
interface StoredStatus {
  phase: string;
  condition?: { reason?: string; message?: string };
}

function storedStatus(result: unknown): StoredStatus | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const observation = 'observation' in result ? result.observation : result;
  const status = (observation as { stream?: { status?: StoredStatus } } | null)?.stream?.status;
  return typeof status?.phase === 'string' ? status : undefined;
}

/** What core records for a local activity in its marker's `data` detail. */
interface LocalActivityData {
  attempt?: number;
  activity_type?: string;
  complete_time?: { seconds?: number; nanos?: number };
}

/** An activity as scheduled, until its outcome is known. */
interface PendingActivity {
  entry: TimelineEntry;
  attempt: number;
}

function activityText(type: string, summary: string | undefined, action: Action | undefined, from: string): string {
  if (action?.type === 'writeStatus') {
    const to = action.phase || '(no phase)';
    const arrow = from === to ? to : `${from || '(no phase)'} -> ${to}`;
    return `${arrow}  ${action.reason}: ${action.message}`;
  }
  if (action?.type === 'recordEvent') return `${action.eventType} ${action.reason}: ${action.message}`;
  return summary ?? type;
}

function kindOf(action: Action | undefined): string {
  if (action?.type === 'writeStatus') return 'status';
  if (action?.type === 'recordEvent') return 'event';
  return 'activity';
}

/** What an update answered: the accepted message, or the BackfillRequest it opened or found open. */
function updateResult(payloads: Payloads): string {
  const result = decode<{ message?: string; name?: string; created?: boolean }>(payloads);
  if (result?.message) return `: ${result.message}`;
  if (result?.name) return `: ${result.name}${result.created === false ? ' (already open)' : ''}`;
  return '';
}

function failureText(failure: proto.temporal.api.failure.v1.IFailure | null | undefined): string {
  const messages: string[] = [];
  for (let current = failure; current; current = current.cause) if (current.message) messages.push(current.message);
  return messages.join(': ') || 'no message';
}

/** The timeline of one run's history; `now` marks activities still running at the end. */
export function historyTimeline(events: HistoryEvent[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const activities = new Map<string, PendingActivity>();
  const updates = new Map<string, string>();
  const timers = new Map<string, { started: number; backoff: boolean; summary?: string }>();
  // A wait that a signal or update cut short and that then started again with the same summary is, for a person, one
  // wait: it is shown once.
  let cutShort: { summary?: string; started: number } | undefined;
  let phase = '';

  const add = (at: number, kind: string, text: string): TimelineEntry => {
    const entry = { at, kind, text };
    entries.push(entry);
    return entry;
  };
  // Phase changes as the stream's stored status shows them after an activity: the lifecycle's rounds that run as
  // local activities carry no inputs in the history, but their results hold the observation made after acting.
  const notePhase = (at: number, result: unknown) => {
    const status = storedStatus(result);
    if (!status || status.phase === phase) return;
    const why = [status.condition?.reason, status.condition?.message].filter(Boolean).join(': ');
    add(at, 'phase', `${phase || '(no phase)'} -> ${status.phase || '(no phase)'}${why ? `  ${why}` : ''}`);
    phase = status.phase;
  };
  const finish = (scheduledId: unknown, at: number, outcome: string, result?: Payloads) => {
    const pending = activities.get(String(scheduledId));
    if (!pending) return;
    activities.delete(String(scheduledId));
    const took = preciseDuration(at - pending.entry.at);
    const attempts = pending.attempt > 1 ? `, attempt ${pending.attempt}` : '';
    pending.entry.text += `  [${outcome} in ${took}${attempts}]`;
    notePhase(at, decode(result));
  };

  for (const event of events) {
    const at = toMs(event.eventTime) ?? 0;
    const id = String(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const attributes = event.workflowExecutionStartedEventAttributes;
        const input = decode<StreamWorkflowInput>(attributes?.input);
        const carried = input?.carried?.state;
        phase = carried?.phase ?? '';
        const stream = input
          ? `${input.stream.namespace}/${input.stream.name} (class ${input.stream.streamClass})`
          : '';
        const how = attributes?.continuedExecutionRunId
          ? `continued from run ${attributes.continuedExecutionRunId} in phase ${phase || '(none)'}`
          : 'started';
        add(at, 'started', `${how} ${stream}`.trim());
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const attributes = event.workflowExecutionSignaledEventAttributes;
        const notice = decode<Notice>(attributes?.input);
        add(at, 'signal', `${attributes?.signalName ?? '?'}${notice?.reason ? `: ${notice.reason}` : ''}`);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const request = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
        const name = request?.input?.name ?? '?';
        updates.set(request?.meta?.updateId ?? '', name);
        add(at, 'update', `${name} accepted`);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const attributes = event.workflowExecutionUpdateCompletedEventAttributes;
        const name = updates.get(attributes?.meta?.updateId ?? '') ?? 'update';
        const outcome = attributes?.outcome;
        if (outcome?.failure) add(at, 'update', `${name} failed: ${failureText(outcome.failure)}`);
        else {
          add(at, 'update', `${name} done${updateResult(outcome?.success)}`);
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attributes = event.activityTaskScheduledEventAttributes;
        const type = attributes?.activityType?.name ?? 'activity';
        const summary = decodeOne<string>(event.userMetadata?.summary);
        // Lifecycle actions travel as the second argument: [stream, action].
        const action = decode<Action>(attributes?.input, 1);
        const valid = action && typeof action === 'object' && action.type === type ? action : undefined;
        const entry = add(at, kindOf(valid), activityText(type, summary, valid, phase));
        if (valid?.type === 'writeStatus') phase = valid.phase;
        activities.set(id, { entry, attempt: 1 });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attributes = event.activityTaskStartedEventAttributes;
        const pending = activities.get(String(attributes?.scheduledEventId));
        if (pending) pending.attempt = attributes?.attempt ?? 1;
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        finish(
          event.activityTaskCompletedEventAttributes?.scheduledEventId,
          at,
          'ok',
          event.activityTaskCompletedEventAttributes?.result,
        );
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const attributes = event.activityTaskFailedEventAttributes;
        finish(attributes?.scheduledEventId, at, `failed: ${failureText(attributes?.failure)}`);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        finish(event.activityTaskTimedOutEventAttributes?.scheduledEventId, at, 'timed out');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        finish(event.activityTaskCanceledEventAttributes?.scheduledEventId, at, 'canceled');
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const attributes = event.markerRecordedEventAttributes;
        if (attributes?.markerName !== 'core_local_activity') break;
        const data = decode<LocalActivityData>(attributes.details?.data);
        const when = toMs(data?.complete_time) ?? at;
        const summary = decodeOne<string>(event.userMetadata?.summary) ?? data?.activity_type ?? 'local activity';
        const outcome = attributes.failure ? `failed: ${failureText(attributes.failure)}` : 'ok';
        const attempts = (data?.attempt ?? 1) > 1 ? `, attempt ${data?.attempt}` : '';
        add(when, 'activity', `${summary}  [${outcome}${attempts}]`);
        notePhase(when, decode(attributes.details?.result));
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const attributes = event.timerStartedEventAttributes;
        const ms = toMs(attributes?.startToFireTimeout) ?? 0;
        const summary = decodeOne<string>(event.userMetadata?.summary);
        // A timer with a restart message is a restart backoff; the others re-check after a quiet period.
        const backoff = summary !== undefined && /restart/i.test(summary);
        const again = cutShort !== undefined && cutShort.summary === summary;
        timers.set(attributes?.timerId ?? '', { started: again ? cutShort!.started : at, backoff, summary });
        cutShort = undefined;
        if (again) break;
        if (backoff) add(at, 'backoff', `${preciseDuration(ms)}: ${summary}`);
        else add(at, 'wait', `up to ${preciseDuration(ms)}${summary ? `: ${summary}` : ''}`);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        cutShort = timers.get(event.timerCanceledEventAttributes?.timerId ?? '');
        break;
      case EventType.EVENT_TYPE_TIMER_FIRED: {
        const timer = timers.get(event.timerFiredEventAttributes?.timerId ?? '');
        add(
          at,
          timer?.backoff ? 'backoff' : 'wait',
          `timer fired after ${preciseDuration(at - (timer?.started ?? at))}`,
        );
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: {
        const attributes = event.workflowTaskFailedEventAttributes;
        add(at, 'problem', `workflow task failed: ${failureText(attributes?.failure)}`);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        add(
          at,
          'end',
          `continued as new run ${event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? ''}`.trim(),
        );
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        const final = decode<StreamStatus>(event.workflowExecutionCompletedEventAttributes?.result);
        add(at, 'end', `completed: the stream was ${final?.ended ?? 'let go'} (last phase ${final?.phase || 'none'})`);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        add(at, 'end', `failed: ${failureText(event.workflowExecutionFailedEventAttributes?.failure)}`);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        add(at, 'end', `terminated: ${event.workflowExecutionTerminatedEventAttributes?.reason || 'no reason given'}`);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        add(at, 'end', 'timed out');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        add(at, 'end', 'canceled');
        break;
      default:
        // Workflow tasks, search attribute upserts and cancelled timers say nothing a person needs here.
        break;
    }
  }
  for (const pending of activities.values()) pending.entry.text += `  [running, attempt ${pending.attempt}]`;
  // Local activities are recorded when their workflow task completes, after the signals that arrived meanwhile:
  // in time order the timeline reads as it happened (the sort is stable for equal times).
  return entries.sort((a, b) => a.at - b.at);
}

/** The timeline as text: a date line whenever the day changes, then time, kind and what happened. */
export function formatTimeline(entries: TimelineEntry[]): string {
  if (entries.length === 0) return 'The history has no events.';
  const rows: string[][] = [];
  let day = '';
  for (const entry of entries) {
    const iso = new Date(entry.at).toISOString();
    if (iso.slice(0, 10) !== day) {
      day = iso.slice(0, 10);
      rows.push([`${day} (UTC)`, '', '']);
    }
    rows.push([iso.slice(11, 23), entry.kind, entry.text]);
  }
  return table(['TIME', 'KIND', 'WHAT HAPPENED'], rows);
}
