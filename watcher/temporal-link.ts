// The watcher's side of Temporal: a lazy connection (an unreachable server at start is an outage, not a crash),
// a reachability probe for readiness and resyncs, and the sender that turns deliveries into (signal-with-)start calls.
import { Client, WorkflowNotFoundError, type Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { namespaceKey, streamClassKey, streamNameKey } from '../client/search-attributes.ts';
import { streamWorkflowId } from '../client/stream-id.ts';
import type { Notice, StreamWorkflowInput } from '../workflows/messages.ts';
import type { SignalSender } from './signals.ts';

export const STREAM_WORKFLOW_TYPE = 'streamWorkflow';

const PROBE_TIMEOUT_MS = 3_000;

export interface TemporalLinkOptions {
  connection: Connection;
  namespace: string;
  probeIntervalMs: number;
  log: Logger;
  /** Reachability changed (true: back after an outage, or reached for the first time). */
  onReachability(reachable: boolean): void;
}

export class TemporalLink {
  readonly client: Client;
  readonly connection: Connection;
  private readonly options: TemporalLinkOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reachableNow = false;

  constructor(options: TemporalLinkOptions) {
    this.options = options;
    this.connection = options.connection;
    this.client = new Client({ connection: options.connection, namespace: options.namespace });
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
    let reachable: boolean;
    let problem: string | undefined;
    try {
      await this.connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
        this.connection.workflowService.describeNamespace({ namespace: this.options.namespace }),
      );
      reachable = true;
    } catch (error) {
      reachable = false;
      problem = error instanceof Error ? error.message : String(error);
    }
    if (this.stopped) return;
    if (reachable !== this.reachableNow) {
      this.reachableNow = reachable;
      if (reachable) this.options.log.info({ namespace: this.options.namespace }, 'Temporal reachable');
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
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** Merged into every workflow's input (e.g. lifecycle overrides in tests). */
  workflowInput?: Omit<StreamWorkflowInput, 'stream' | 'carried'>;
}

/** Signal-with-start for streams that exist; a plain signal (nothing when no workflow runs) otherwise. */
export function temporalSignalSender(options: SenderOptions): SignalSender {
  const { client, timeoutMs } = options;
  const send = senderWithoutDeadline(options);
  return (delivery) => client.connection.withDeadline(Date.now() + timeoutMs, () => send(delivery));
}

function senderWithoutDeadline({ client, taskQueue, workflowInput }: SenderOptions): SignalSender {
  return async ({ stream, signal, reason, observed, versions, start }) => {
    const workflowId = streamWorkflowId(stream);
    const notice: Notice = { reason };
    if (observed !== undefined) notice.observed = observed;
    if (versions !== undefined) notice.versions = versions;
    if (start) {
      const input: StreamWorkflowInput = { ...workflowInput, stream };
      await client.workflow.signalWithStart(STREAM_WORKFLOW_TYPE, {
        workflowId,
        taskQueue,
        args: [input],
        signal,
        signalArgs: [notice],
        typedSearchAttributes: [
          { key: streamClassKey, value: stream.streamClass },
          { key: namespaceKey, value: stream.namespace },
          { key: streamNameKey, value: stream.name },
        ],
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
