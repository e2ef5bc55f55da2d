// The lifecycle loop that one wake of the stream workflow runs: observe the stream, let the pure `decide` choose
// actions, run them as activities, and repeat until the decision asks for nothing more.
import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  proxyLocalActivities,
  type ActivityFunctionWithOptions,
} from '@temporalio/workflow';
import type { StreamActivities } from '../activities/index.ts';
import { actionSummary } from './action-summary.ts';
import {
  answerRefusal,
  decide,
  maxRoundsPerWake,
  newest,
  nonRetryableReasons,
  rejectAction,
  requestRestart,
  runWake,
  type Action,
  type ActionRejection,
  type LifecycleConfig,
  type ObjectVersions,
  type Observation,
  type StreamState,
  type WakeEnd,
  type WakeHolder,
  type WakeIo,
} from './lifecycle.ts';
import type { StreamWorkflowInput } from './messages.ts';

type Stream = StreamWorkflowInput['stream'];

// Transient errors (conflicts, throttling, outages) are retried without limit: Kubernetes stays the source of truth,
// so a call that fails now is simply made again until the cluster answers. Only the reasons that no retry can fix
// (an invalid spec, say) stop the retries.
const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: [...nonRetryableReasons],
};
export const activityOptions = { startToCloseTimeout: '1 minute', retry } as const;
export const activities = proxyActivities<StreamActivities>(activityOptions);

// Revision 2 runs each lifecycle round as a local activity, with the same options. A local activity is recorded as a
// single marker in the history (a regular one takes several events), and the rounds of one wake usually fit in one
// workflow task. A local activity that keeps failing for more than a minute waits between retries on durable timers.
const local = proxyLocalActivities<StreamActivities>(activityOptions);

/** The lifecycle action of one type, as the activity of that name takes it. */
type ActionOf<T extends Action['type']> = Extract<Action, { type: T }>;

/**
 * The activity that carries out each lifecycle action, by the action's type. Written as a mapped type, so the
 * compiler checks that every action type has an activity that takes exactly that action.
 */
type ActionActivities = {
  [T in Action['type']]: ActivityFunctionWithOptions<(stream: Stream, action: ActionOf<T>) => Promise<unknown>>;
};
const actionActivities: ActionActivities = activities;

/** How a wake ended: when to wake up next without a signal, and whether the stream's lifecycle is over. */
export interface WakeOutcome {
  wakeAt?: number;
  done?: boolean;
}

/** An action that an activity refused for a reason no retry can fix. */
interface Rejected {
  action: Action;
  rejection: ActionRejection;
}

/**
 * Holds what the workflow knows of its stream (the lifecycle state, the latest observation and the object versions
 * seen) and runs the observe -> decide -> act rounds of one wake. The workflow's message handlers read the same fields.
 */
export class LifecycleDriver implements WakeHolder {
  state: StreamState;
  /** The latest observation of the stream; undefined until the first one. */
  observation: Observation | undefined;
  /**
   * The object versions every later observation must show at least. An observation may be served from a cache that
   * lags behind the cluster; asking for these versions keeps it from showing anything older than what was seen.
   */
  seenVersions: ObjectVersions;
  readonly stream: Stream;
  private readonly config: LifecycleConfig;
  /** A `settle` activity runs (revision 4), and whether a restart was accepted meanwhile. */
  private settling = false;
  private restartWhileSettling = false;

  constructor(stream: Stream, config: LifecycleConfig, state: StreamState, seenVersions: ObjectVersions) {
    this.stream = stream;
    this.config = config;
    this.state = state;
    this.seenVersions = seenVersions;
  }

  /**
   * Revisions 2 and 3: observe, then decide and act until the decision asks for nothing more. Each round's actions and
   * the observation taken right after them are one local activity (`act`), so a round costs one marker in the history.
   */
  async reconcile(required: ObjectVersions): Promise<WakeOutcome> {
    return this.ended(await runWake(this, required, this.config, this.localIo()));
  }

  /** Each observation, and each round's actions with the observation after them, as one local activity. */
  private localIo(): WakeIo {
    const { stream } = this;
    return {
      observe: (versions) =>
        local.observeStream.executeWithOptions(
          { ...activityOptions, summary: `observe ${stream.namespace}/${stream.name}` },
          [stream, versions],
        ),
      act: (actions, seen) => {
        const summary = actions.map((action) => actionSummary(stream, action)).join('; ');
        return local.act.executeWithOptions({ ...activityOptions, summary }, [stream, actions, seen]);
      },
      now: () => Date.now(),
    };
  }

  /**
   * Revision 4: the whole loop of a wake runs inside one local activity (`settle`), which returns the state and the
   * latest observation: a wake costs one marker, and the workflow one activation for it. A round whose actions keep
   * failing for now (a Job that takes long to go away) comes back pending: the workflow retries those actions as a
   * local activity of their own, as revisions 2 and 3 did, with the state that round decided, and then goes on.
   */
  async reconcileInOneActivity(required: ObjectVersions): Promise<WakeOutcome> {
    let end = await this.settle(required);
    while (end.pending) {
      const { actions, before } = end.pending;
      const seen = this.observation;
      if (!seen) throw new Error('a pending round without the observation it was decided on');
      const io = this.localIo();
      const outcome = await io.act(actions, this.seenVersions);
      if (outcome.rejected) {
        await answerRefusal(this, { before, seen, actions, outcome, config: this.config }, io);
        return {};
      }
      this.observation = outcome.observation;
      this.seenVersions = newest(this.seenVersions, outcome.observation.versions);
      end = await this.settle(this.seenVersions);
    }
    return this.ended(end);
  }

  /** One `settle` activity; a restart accepted while it runs is applied to the state it returns. */
  private async settle(required: ObjectVersions): Promise<WakeEnd> {
    const { stream } = this;
    this.restartWhileSettling = false;
    this.settling = true;
    try {
      const start = {
        state: this.state,
        seenVersions: this.seenVersions,
        required,
        config: this.config,
        now: Date.now(),
      };
      const result = await local.settle.executeWithOptions(
        { ...activityOptions, summary: `settle ${stream.namespace}/${stream.name}` },
        [stream, start],
      );
      this.state = this.restartWhileSettling ? requestRestart(result.state) : result.state;
      this.observation = result.observation;
      this.seenVersions = result.seenVersions;
      return result;
    } finally {
      this.settling = false;
    }
  }

  /** An accepted `restart`: the next decision replaces the Job (see reconcileInOneActivity for one that runs). */
  requestRestart(): void {
    this.state = requestRestart(this.state);
    if (this.settling) this.restartWhileSettling = true;
  }

  private ended(end: WakeEnd): WakeOutcome {
    if (end.unsettled) this.warnUnsettled();
    return { wakeAt: end.wakeAt, done: end.done };
  }

  private warnUnsettled(): void {
    log.warn('the lifecycle did not settle; trying again after the re-check interval', {
      stream: this.stream,
      state: this.state,
    });
  }

  /**
   * Revision 1's loop, kept so that histories recorded with it still replay: one regular activity per observation
   * and one per action.
   */
  async reconcileRevision1(): Promise<WakeOutcome> {
    const { stream } = this;
    for (let round = 0; round < maxRoundsPerWake; round++) {
      const seen = await activities.observeStream.executeWithOptions(
        { ...activityOptions, summary: `observe ${stream.namespace}/${stream.name}` },
        [stream],
      );
      this.observation = seen;
      const before = this.state;
      const decision = decide(before, seen, this.config, Date.now());
      this.state = decision.state;
      if (decision.actions.length === 0) return { wakeAt: decision.wakeAt, done: decision.done };
      const rejected = await this.act(decision.actions);
      if (!rejected) continue;
      await this.recordRejection(before, seen, rejected);
      return {};
    }
    this.warnUnsettled();
    return { wakeAt: Date.now() + this.config.recheckMs };
  }

  /** Revision 1: runs the actions in order, and stops at the first one refused for a reason no retry can fix. */
  private async act(actions: Action[]): Promise<Rejected | undefined> {
    for (const action of actions) {
      try {
        await this.execute(action.type, action);
      } catch (error) {
        const rejection = rejectionOf(error);
        if (!rejection) throw error;
        return { action, rejection };
      }
    }
    return undefined;
  }

  /** Revision 1's answer to a refused action; the same rule as `recordRefusal`, with one activity per action. */
  private async recordRejection(before: StreamState, seen: Observation, rejected: Rejected): Promise<void> {
    // Only building a workload is ever refused, and building one needs the stream, so the stream was observed.
    if (!seen.stream) return;
    const input = { observation: seen, stream: seen.stream, config: this.config, now: Date.now() };
    const failed = rejectAction(before, rejected.action, rejected.rejection, input);
    this.state = failed.state;
    await this.act(failed.actions);
  }

  /** Runs one action as the activity of its type. */
  private execute<T extends Action['type']>(type: T, action: ActionOf<T>): Promise<unknown> {
    const summary = actionSummary(this.stream, action);
    return actionActivities[type].executeWithOptions({ ...activityOptions, summary }, [this.stream, action]);
  }
}

/** The reason and message of an activity failure that no retry can fix; undefined for any other error. */
function rejectionOf(error: unknown): ActionRejection | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  const reason = nonRetryableReasons.find((known) => cause instanceof ApplicationFailure && known === cause.type);
  return reason === undefined || cause === undefined ? undefined : { reason, message: cause.message };
}
