// `arcane stream list`: every running stream workflow from Temporal visibility (search attributes), each with its
// `state` query for reason, restarts and open backfills. Kubernetes is not asked: the workflows know.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { namespaceKey, phaseKey, streamClassKey, streamNameKey } from '../client/search-attributes.ts';
import { parseStreamWorkflowId } from '../client/stream-id.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { stateQuery, type StreamStatus } from '../workflows/messages.ts';
import { oneLine, shortDuration, table, type OutputFormat } from './output.ts';

export interface ListFilter {
  streamClass?: string;
  namespace?: string;
}

/** One stream as listed: what visibility says, and the workflow's own state when it answered. */
export interface ListedStream {
  stream: StreamKey;
  workflowId: string;
  runId: string;
  /** The `ArcanePhase` search attribute ('None' for a stream without a phase yet). */
  phase: string;
  /** Epoch ms of the last phase change, else of the run's start. */
  since: number;
  state?: StreamStatus;
  /** Why the state query failed (e.g. no worker is running), when it did. */
  stateError?: string;
}

/** The visibility query for running stream workflows, narrowed by class and namespace. */
export function visibilityQuery(filter: ListFilter): string {
  const terms = [`WorkflowType = 'streamWorkflow'`, `ExecutionStatus = 'Running'`];
  // Values are checked as Kubernetes names before they get here, so they hold no quotes.
  if (filter.streamClass) terms.push(`${streamClassKey.name} = '${filter.streamClass}'`);
  if (filter.namespace) terms.push(`${namespaceKey.name} = '${filter.namespace}'`);
  return terms.join(' AND ');
}

function keyOf(info: WorkflowExecutionInfo): StreamKey | undefined {
  const attributes = info.typedSearchAttributes;
  const streamClass = attributes.get(streamClassKey);
  const namespace = attributes.get(namespaceKey);
  const name = attributes.get(streamNameKey);
  if (streamClass && namespace && name) return { streamClass, namespace, name };
  return parseStreamWorkflowId(info.workflowId);
}

/** How long one stream's `state` query may take before the list shows it without its state. */
const stateQueryTimeoutMs = 5_000;
/** Queries in flight at once: enough for thousands of streams, few enough not to flood the frontend. */
const queryConcurrency = 16;

export async function listStreams(client: Client, filter: ListFilter): Promise<ListedStream[]> {
  const found: ListedStream[] = [];
  for await (const info of client.workflow.list({ query: visibilityQuery(filter) })) {
    const stream = keyOf(info);
    if (!stream) continue;
    found.push({
      stream,
      workflowId: info.workflowId,
      runId: info.runId,
      phase: info.typedSearchAttributes.get(phaseKey) ?? 'None',
      since: info.startTime.getTime(),
    });
  }
  let next = 0;
  const worker = async () => {
    while (next < found.length) {
      const listed = found[next++]!;
      try {
        const handle = client.workflow.getHandle(listed.workflowId, listed.runId);
        listed.state = await client.withDeadline(Date.now() + stateQueryTimeoutMs, () => handle.query(stateQuery));
        const last = listed.state.transitions.at(-1);
        if (last) listed.since = last.at;
        listed.phase = listed.state.phase || 'None';
      } catch (error) {
        listed.stateError = oneLine(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(queryConcurrency, found.length) }, worker));
  return found.sort((a, b) =>
    `${a.stream.namespace}/${a.stream.name}/${a.stream.streamClass}`.localeCompare(
      `${b.stream.namespace}/${b.stream.name}/${b.stream.streamClass}`,
    ),
  );
}

function nextRestart(state: StreamStatus | undefined, now: number): string {
  if (!state?.nextRestartAt) return '-';
  return `in ${shortDuration(Date.parse(state.nextRestartAt) - now)}`;
}

function openBackfill(state: StreamStatus | undefined): string {
  const open = state?.openBackfillRequests ?? [];
  if (open.length === 0) return '-';
  return open.length === 1 ? open[0]! : `${open[0]} (+${open.length - 1})`;
}

/** The list as a table (`wide` adds the condition message and the Job), or as JSON. */
export function formatStreamList(streams: ListedStream[], format: OutputFormat, now: number): string {
  if (format === 'json') return JSON.stringify(streams, null, 2);
  if (streams.length === 0) return 'No running stream workflows found.';
  const header = ['NAMESPACE', 'NAME', 'CLASS', 'PHASE', 'REASON', 'AGE', 'RESTARTS', 'NEXT RESTART', 'BACKFILL'];
  if (format === 'wide') header.push('JOB', 'MESSAGE');
  const rows = streams.map(({ stream, phase, since, state, stateError }) => {
    const row = [
      stream.namespace,
      stream.name,
      stream.streamClass,
      phase,
      state?.reason || (stateError ? '(no answer)' : '-'),
      shortDuration(now - since),
      state ? String(state.restartCount) : '?',
      nextRestart(state, now),
      openBackfill(state),
    ];
    if (format === 'wide') {
      const job = state?.job ? `${state.job.state}${state.job.backfilling ? ' (backfill)' : ''}` : '-';
      row.push(job, state?.message ?? `state query failed: ${stateError ?? 'no answer'}`);
    }
    return row;
  });
  return table(header, rows);
}
