// Every Kubernetes side effect of the stream lifecycle, as Temporal activities. Register with
// `activities: createActivities({ kubeConfig, logger })`; the workflow runs lifecycle actions by their type name.
import type { KubeConfig } from '@kubernetes/client-node';
import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Action } from '../workflows/lifecycle.ts';
import type { StreamKey } from '../workflows/messages.ts';
import {
  completeBackfillRequest,
  createBackfillRequest,
  refuseBackfillRequest,
  requestBackfill,
  type BackfillInput,
} from './backfill-requests.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { ActionSkipped, activityFailure, type Skipped } from './errors.ts';
import { recordEvent } from './events.ts';
import { createKubernetesApi } from './kubernetes.ts';
import { kubernetesApiCalls } from './metrics.ts';
import { observeStream } from './observe.ts';
import { writeStatus } from './status.ts';
import { setSuspended } from './suspension.ts';
import {
  adoptCronJob,
  adoptJob,
  applyBackfillJob,
  applyCronJob,
  applyStreamingJob,
  deleteCronJob,
  deleteJob,
  releaseJob,
} from './workloads.ts';

export type { BackfillInput } from './backfill-requests.ts';
export type { Skipped, SkipReason } from './errors.ts';
export type { WorkloadApplied } from './workloads.ts';

export interface ActivityOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Where `arcane_kubernetes_api_calls_total` is registered; prom-client's default registry when absent. */
  registry?: Registry;
}

/** The invocation across retries, when running in a Temporal worker: a retry is the same occurrence. */
function occurrence(): string {
  const info = asyncLocalStorage.getStore()?.info;
  return info ? `${info.workflowExecution?.runId ?? ''}/${info.activityId}` : '';
}

export function createActivities(options: ActivityOptions) {
  const kube = createKubernetesApi(options.kubeConfig, kubernetesApiCalls(options.registry));

  /** The boundary of every activity: a logger for the stream, and failures classified for Temporal's retries. */
  async function run<R>(name: string, stream: StreamKey, work: (context: ActivityContext) => Promise<R>): Promise<R> {
    const log = options.logger.child({
      activity: name,
      streamClass: stream.streamClass,
      namespace: stream.namespace,
      stream: stream.name,
    });
    try {
      return await work({ kube, log, occurrence: occurrence() });
    } catch (error) {
      // Outside the lifecycle's action loop a vanished stream fails the call (e.g. the update) with the reason.
      if (error instanceof ActionSkipped) {
        throw ApplicationFailure.create({ message: error.message, type: error.reason, nonRetryable: true });
      }
      throw activityFailure(error, log);
    }
  }

  /** A lifecycle action: when what it acts on changed since the decision it does nothing and says why. */
  function action<T extends Action['type'], R>(
    type: T,
    implementation: (context: ActivityContext, stream: StreamKey, action: ActionOf<T>) => Promise<R>,
  ) {
    return (stream: StreamKey, input: ActionOf<T>): Promise<R | Skipped> =>
      run(type, stream, async (context) => {
        try {
          return await implementation(context, stream, input);
        } catch (error) {
          if (!(error instanceof ActionSkipped)) throw error;
          context.log.info({ reason: error.reason }, `skipped: ${error.message}`);
          return { skipped: { reason: error.reason, message: error.message } };
        }
      });
  }

  return {
    /** Everything the lifecycle decides on; never a spec value or a secret. */
    observeStream: (stream: StreamKey) => run('observeStream', stream, (context) => observeStream(context, stream)),
    applyStreamingJob: action('applyStreamingJob', applyStreamingJob),
    applyBackfillJob: action('applyBackfillJob', applyBackfillJob),
    deleteJob: action('deleteJob', deleteJob),
    releaseJob: action('releaseJob', releaseJob),
    applyCronJob: action('applyCronJob', applyCronJob),
    deleteCronJob: action('deleteCronJob', deleteCronJob),
    adoptJob: action('adoptJob', adoptJob),
    adoptCronJob: action('adoptCronJob', adoptCronJob),
    createBackfillRequest: action('createBackfillRequest', createBackfillRequest),
    completeBackfillRequest: action('completeBackfillRequest', completeBackfillRequest),
    refuseBackfillRequest: action('refuseBackfillRequest', refuseBackfillRequest),
    writeStatus: action('writeStatus', writeStatus),
    recordEvent: action('recordEvent', recordEvent),
    /** The `suspend` / `resume` updates: merge-patch only the suspended key of the stream's layout. */
    setSuspended: (stream: StreamKey, suspended: boolean) =>
      run('setSuspended', stream, (context) => setSuspended(context, stream, suspended)),
    /** The `backfill` update: the oldest open request, else a new one under the given deterministic name. */
    requestBackfill: (stream: StreamKey, input: BackfillInput) =>
      run('requestBackfill', stream, (context) => requestBackfill(context, stream, input)),
  };
}

export type StreamActivities = ReturnType<typeof createActivities>;
