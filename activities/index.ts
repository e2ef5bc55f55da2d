// Every Kubernetes side effect of the stream lifecycle, as Temporal activities. Register them with
// `activities: createActivities({ kubeConfig, logger })`. Each lifecycle action has an activity named after its type,
// and the workflow runs an action by that name.
import type { KubeConfig } from '@kubernetes/client-node';
import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure, msToNumber } from '@temporalio/common';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { StreamKey } from '../resources/stream-key.ts';
import * as lifecycle from '../workflows/lifecycle.ts';
import type { Action, ObjectVersions, Observation, WakeResult, WakeStart } from '../workflows/lifecycle.ts';
import {
  completeBackfillRequest,
  createBackfillRequest,
  refuseBackfillRequest,
  requestBackfill,
  type BackfillInput,
} from './backfill-requests.ts';
import type { ClusterCache } from './cluster-cache.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { ActionSkipped, activityFailure, nonRetryableReasons, type NonRetryableReason } from './errors.ts';
import { recordEvent } from './events.ts';
import { createKubernetesApi, sharedReads, type KubernetesApi } from './kubernetes.ts';
import { kubernetesApiCalls } from '../kubernetes/api-calls.ts';
import { observeStream } from './observe.ts';
import { writeStatus } from './status.ts';
import { setSuspended } from './suspension.ts';
import { cachedReads, recordVersions, type ReadGuard, type VersionRecord } from './versioned-reads.ts';
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
  /** The worker's cache of what observations read; without it every observation reads from the API server. */
  cache?: ClusterCache;
  /**
   * How long a wake (revision 4) retries a round whose actions fail before it hands the round back to the workflow;
   * 40 s by default, within the minute its local activity may run.
   */
  roundRetryMs?: number;
  /**
   * How long replacing a workload waits, on the cache, for the one it deleted to go (a Job's pods stopping) before the
   * attempt fails and is retried; 10 s by default.
   */
  workloadGoneWaitMs?: number;
}

/** How long replacing a workload waits for the deleted one to go; well within the 40 s a wake retries a round. */
const WORKLOAD_GONE_WAIT_MS = 10_000;

/** The invocation across retries, when running in a Temporal worker: a retry is the same occurrence. */
function occurrence(): string {
  const info = asyncLocalStorage.getStore()?.info;
  return info ? `${info.workflowExecution?.runId ?? ''}/${info.activityId}` : '';
}

export function createActivities(options: ActivityOptions) {
  const kube = createKubernetesApi(options.kubeConfig, kubernetesApiCalls(options.registry));
  const { cache } = options;
  const goneWaitMs = options.workloadGoneWaitMs ?? WORKLOAD_GONE_WAIT_MS;
  const workloadGone: ActivityContext['workloadGone'] = cache
    ? (resource, stream, uid) => cache.gone(resource, stream, uid, goneWaitMs)
    : undefined;

  /** The boundary of every activity: a logger for the stream, and failures classified for Temporal's retries. */
  async function run<R>(name: string, stream: StreamKey, work: (context: ActivityContext) => Promise<R>): Promise<R> {
    const log = options.logger.child({
      activity: name,
      streamClass: stream.streamClass,
      namespace: stream.namespace,
      stream: stream.name,
    });
    try {
      return await work({ kube, log, occurrence: occurrence(), ...(workloadGone ? { workloadGone } : {}) });
    } catch (error) {
      // Outside the lifecycle's action loop a vanished stream fails the call (e.g. the update) with the reason.
      if (error instanceof ActionSkipped) {
        throw ApplicationFailure.create({ message: error.message, type: error.reason, nonRetryable: true });
      }
      throw activityFailure(error, log);
    }
  }

  /** Reads through the worker's cache when it has one. */
  function withCache(context: ActivityContext, stream: StreamKey, guard: ReadGuard): KubernetesApi {
    return options.cache ? cachedReads(context.kube, options.cache, stream, guard) : context.kube;
  }

  /**
   * The stream as it is now, with the version each object was read at: from the cache when it holds every object at
   * the `required` version or newer (what the workflow has seen, and this activity's own writes), else from the API
   * server. Objects in `known.mustRead` are read from the API server; those in `known.removed` are gone.
   */
  async function observe(
    context: ActivityContext,
    stream: StreamKey,
    required: ObjectVersions = {},
    known: Pick<VersionRecord, 'unknown' | 'removed'> = { unknown: () => new Set(), removed: () => new Set() },
  ): Promise<Observation> {
    const guard = { required: () => required, mustRead: known.unknown, removed: known.removed };
    const record = recordVersions(withCache(context, stream, guard), stream);
    const observation = await observeStream({ ...context, kube: sharedReads(record.kube) }, stream);
    // An object its reads did not return (one the actions before it removed, say) keeps the version required of it:
    // the next reader of the cache must see it at least that new, never as it was before.
    const read = record.versions();
    const unread = Object.fromEntries(Object.entries(required).filter(([key]) => read[key] === undefined));
    return { ...observation, versions: shownVersions(observation, { ...unread, ...read }) };
  }

  /** A lifecycle action: when what it acts on changed since the decision it does nothing and says why. */
  async function perform<T extends Action['type']>(
    context: ActivityContext,
    stream: StreamKey,
    input: ActionOf<T>,
  ): Promise<unknown> {
    const implementation = implementations[input.type] as Implementation<T>;
    try {
      return await implementation(context, stream, input);
    } catch (error) {
      if (!(error instanceof ActionSkipped)) throw error;
      context.log.info({ reason: error.reason }, `skipped: ${error.message}`);
      return { skipped: { reason: error.reason, message: error.message } };
    }
  }

  function action<T extends Action['type']>(type: T) {
    return (stream: StreamKey, input: ActionOf<T>): Promise<unknown> =>
      run(type, stream, (context) => perform(context, stream, input));
  }

  /**
   * A decision's actions in order, then a fresh observation. It stops at an action refused for a reason no retry can
   * fix and says which; any other failure fails the call, and the whole list is retried (every action is idempotent).
   * Reads are shared within the call.
   */
  async function actThenObserve(
    context: ActivityContext,
    stream: StreamKey,
    actions: Action[],
    required?: ObjectVersions,
  ): Promise<ActResult> {
    // The actions read what the decision was made on, or newer; the observation after them shows what they wrote.
    const guard = {
      required: () => lifecycle.newest(required, seen.versions()),
      mustRead: () => seen.unknown(),
      removed: () => seen.removed(),
    };
    const seen = recordVersions(withCache(context, stream, guard), stream);
    const shared = { ...context, kube: sharedReads(seen.kube) };
    const after = () => observe(context, stream, lifecycle.newest(required, seen.versions()), seen);
    for (const [index, input] of actions.entries()) {
      try {
        await perform({ ...shared, occurrence: `${shared.occurrence}/${index}` }, stream, input);
      } catch (error) {
        const rejection = rejectionOf(activityFailure(error, context.log));
        if (!rejection) throw error;
        return { actions, rejected: { index, ...rejection }, observation: await after() };
      }
    }
    return { actions, observation: await after() };
  }

  /** One round as one call (revisions 2 and 3): the workflow records one result per round. */
  function act(stream: StreamKey, actions: Action[], required?: ObjectVersions): Promise<ActResult> {
    return run('act', stream, (context) => actThenObserve(context, stream, actions, required));
  }

  /**
   * A whole wake as one call (revision 4): observe, decide and act until the decision asks for nothing more, with the
   * same loop the workflow runs for older revisions. A round whose actions fail is retried as it stands (every action
   * is idempotent), for up to `roundRetryMs`; after that the wake stops there and hands the round back to the workflow
   * (WakeEnd.pending), which retries it as long as it takes. Any other failure (the first observation) fails the call,
   * and a retry starts the wake again: nothing was done yet.
   */
  function settle(stream: StreamKey, start: WakeStart): Promise<WakeResult> {
    return run('settle', stream, async (context) => {
      const holder: lifecycle.WakeHolder = { state: start.state, seenVersions: start.seenVersions };
      const rounds: Action[][] = [];
      const deadline = Date.now() + (options.roundRetryMs ?? ROUND_RETRY_MS);
      const end = await lifecycle.runWake(holder, start.required, start.config, {
        observe: (required) => observe(context, stream, required),
        act: (actions, seen) => {
          rounds.push(actions);
          return retryRound(() => actThenObserve(context, stream, actions, seen), deadline, context.log);
        },
        now: () => start.now,
      });
      const { state, observation, seenVersions } = holder;
      if (!observation) throw new Error('a wake ended without observing the stream');
      return { ...end, state, observation, seenVersions, rounds };
    });
  }

  return {
    /** Everything the lifecycle decides on; never a spec value or a secret. */
    observeStream: (stream: StreamKey, required?: ObjectVersions) =>
      run('observeStream', stream, (context) => observe(context, stream, required)),
    act,
    settle,
    applyStreamingJob: action('applyStreamingJob'),
    applyBackfillJob: action('applyBackfillJob'),
    deleteJob: action('deleteJob'),
    releaseJob: action('releaseJob'),
    applyCronJob: action('applyCronJob'),
    deleteCronJob: action('deleteCronJob'),
    adoptJob: action('adoptJob'),
    adoptCronJob: action('adoptCronJob'),
    createBackfillRequest: action('createBackfillRequest'),
    completeBackfillRequest: action('completeBackfillRequest'),
    refuseBackfillRequest: action('refuseBackfillRequest'),
    writeStatus: action('writeStatus'),
    recordEvent: action('recordEvent'),
    /** The `suspend` / `resume` updates: merge-patch only the suspended key of the stream's layout. */
    setSuspended: (stream: StreamKey, suspended: boolean) =>
      run('setSuspended', stream, (context) => setSuspended(context, stream, suspended)),
    /** The `backfill` update: the oldest open request, else a new one under the given deterministic name. */
    requestBackfill: (stream: StreamKey, input: BackfillInput) =>
      run('requestBackfill', stream, (context) => requestBackfill(context, stream, input)),
  };
}

/** How long a wake retries a round whose actions fail before it hands them back (the settle call may take a minute). */
const ROUND_RETRY_MS = 40_000;
const ROUND_RETRY_MAX_DELAY_MS = 10_000;

/** The delay a failure asks for (a Retry-After, a Job going away), in ms. */
function requestedDelayMs(failure: unknown): number | undefined {
  if (!(failure instanceof ApplicationFailure) || failure.nextRetryDelay == null) return undefined;
  return msToNumber(failure.nextRetryDelay);
}

/**
 * Runs a round until it succeeds, backing off as the activities' retry policy does; one that still fails at `deadline`
 * is pending (lifecycle.RoundPending). A failure no retry can fix is thrown as it is.
 */
async function retryRound(attempt: () => Promise<ActResult>, deadline: number, log: Logger): Promise<ActResult> {
  for (let backoffMs = 1_000; ; backoffMs = Math.min(backoffMs * 2, ROUND_RETRY_MAX_DELAY_MS)) {
    try {
      return await attempt();
    } catch (error) {
      const failure = activityFailure(error, log);
      if (failure instanceof ApplicationFailure && failure.nonRetryable) throw failure;
      const message = failure instanceof Error ? failure.message : String(failure);
      const waitMs = requestedDelayMs(failure) ?? backoffMs;
      if (Date.now() + waitMs > deadline) throw new lifecycle.RoundPending(message);
      log.info({ error: message, retryInMs: waitMs }, 'a round failed for now; retrying it');
      await delay(waitMs);
    }
  }
}

type Implementation<T extends Action['type']> = (
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<T>,
) => Promise<unknown>;

/** Which implementation executes each lifecycle action. */
const implementations: { [T in Action['type']]: Implementation<T> } = {
  applyStreamingJob,
  applyBackfillJob,
  deleteJob,
  releaseJob,
  applyCronJob,
  deleteCronJob,
  adoptJob,
  adoptCronJob,
  createBackfillRequest,
  completeBackfillRequest,
  refuseBackfillRequest,
  writeStatus,
  recordEvent,
};

/** An action refused for a reason no retry can fix. */
export interface ActRejection {
  /** Its position in the list; the actions after it did not run. */
  index: number;
  reason: NonRetryableReason;
  message: string;
}

export interface ActResult {
  /** The actions asked for, so the history (which keeps a local activity's result, not its input) shows them. */
  actions: Action[];
  rejected?: ActRejection;
  /** The stream as it is after the actions. */
  observation: Observation;
}

/** The versions of what the observation shows: of the requests, only those it lists. */
function shownVersions(observation: Observation, versions: ObjectVersions): ObjectVersions {
  const requests = new Set(
    observation.backfillRequests.map((request) => lifecycle.versionKey.backfillRequest(request.name)),
  );
  const prefix = lifecycle.versionKey.backfillRequest('');
  return Object.fromEntries(Object.entries(versions).filter(([key]) => !key.startsWith(prefix) || requests.has(key)));
}

function rejectionOf(failure: unknown): Omit<ActRejection, 'index'> | undefined {
  if (!(failure instanceof ApplicationFailure) || !failure.nonRetryable) return undefined;
  const reason = nonRetryableReasons.find((known) => known === failure.type);
  return reason === undefined ? undefined : { reason, message: failure.message };
}

export type StreamActivities = ReturnType<typeof createActivities>;
