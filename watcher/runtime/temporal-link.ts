// The watcher's side of Temporal: a probe that checks now and then whether Temporal answers (for readiness, and to
// resync when it comes back after an outage), and the sender that turns each delivery into a signal, or into a
// signal-with-start that also starts the stream's workflow when none runs.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { startingSearchAttributes } from '../../client/search-attributes.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { LATEST_LIFECYCLE_REVISION, type Notice, type StreamWorkflowInput } from '../../workflows/messages.ts';
import type { SignalSender } from './signals.ts';

export const STREAM_WORKFLOW_TYPE = 'streamWorkflow';

const PROBE_TIMEOUT_MS = 3_000;

export interface TemporalLinkOptions {
  /** The client that signals the workflows; the probe asks its connection about its namespace. */
  client: Client;
  probeIntervalMs: number;
  log: Logger;
  /** Called when reachability changes: true when Temporal answers for the first time or again after an outage. */
  onReachability(reachable: boolean): void;
}

export class TemporalLink {
  private readonly options: TemporalLinkOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reachableNow = false;

  constructor(options: TemporalLinkOptions) {
    this.options = options;
  }

  get reachable(): boolean {
    return this.reachableNow;
  }

  start(): void {
    void this.probe();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async probe(): Promise<void> {
    const { client } = this.options;
    const { namespace } = client.options;
    let reachable: boolean;
    let problem: string | undefined;
    try {
      await client.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
        client.workflowService.describeNamespace({ namespace }),
      );
      reachable = true;
    } catch (error) {
      reachable = false;
      problem = error instanceof Error ? error.message : String(error);
    }
    if (this.stopped) return;
    if (reachable !== this.reachableNow) {
      this.reachableNow = reachable;
      if (reachable) this.options.log.info({ namespace }, 'Temporal reachable');
      else this.options.log.error({ error: problem }, 'Temporal unreachable; retrying');
      this.options.onReachability(reachable);
    }
    this.timer = setTimeout(() => void this.probe(), this.options.probeIntervalMs);
    this.timer.unref();
  }
}

export interface SenderOptions {
  client: Client;
  taskQueue: string;
  /** How long one attempt to signal may take. */
  timeoutMs: number;
  /** Merged into every workflow's input (e.g. lifecycle overrides in tests). */
  workflowInput?: Omit<StreamWorkflowInput, 'stream' | 'carried'>;
}

/**
 * For a stream that exists, signal-with-start: the signal also starts the stream's workflow when none runs. For a
 * stream that is gone, a plain signal, which does nothing when no workflow runs (there is nothing to tell).
 */
export function temporalSignalSender(options: SenderOptions): SignalSender {
  const { client, timeoutMs } = options;
  const send = senderWithoutDeadline(options);
  return (delivery) => client.connection.withDeadline(Date.now() + timeoutMs, () => send(delivery));
}

function senderWithoutDeadline({ client, taskQueue, workflowInput }: SenderOptions): SignalSender {
  return async ({ stream, signal, reason, observed, versions, required, start }) => {
    const workflowId = streamWorkflowId(stream);
    const notice: Notice = { reason };
    if (observed !== undefined) notice.observed = observed;
    if (versions !== undefined) notice.versions = versions;
    if (required !== undefined) notice.required = required;
    if (start) {
      const input: StreamWorkflowInput = { ...workflowInput, stream, lifecycleRevision: LATEST_LIFECYCLE_REVISION };
      await client.workflow.signalWithStart(STREAM_WORKFLOW_TYPE, {
        workflowId,
        taskQueue,
        args: [input],
        signal,
        signalArgs: [notice],
        typedSearchAttributes: startingSearchAttributes(stream),
        staticSummary: `${start.kind} ${stream.namespace}/${stream.name}`,
      });
      return true;
    }
    try {
      await client.workflow.getHandle(workflowId).signal(signal, notice);
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };
}
