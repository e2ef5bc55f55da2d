// The stream workflow: a thin driver around the pure lifecycle decision (observe -> decide -> act, until steady).
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { StreamActivities } from '../activities/index.ts';
import { namespaceKey, phaseKey, streamClassKey, streamNameKey } from '../client/search-attributes.ts';
import { actionSummary } from './action-summary.ts';
import {
  decide,
  defaultLifecycleConfig,
  alreadyShown,
  initialStreamState,
  newest,
  nonRetryableReasons,
  rejectAction,
  requestRestart,
  validateUpdate,
  type Action,
  type ActionRejection,
  type NoticeContent,
  type ObjectVersions,
  type Observation,
  type StreamState,
  type StreamUpdate,
} from './lifecycle.ts';
import {
  backfillRequestObservedSignal,
  backfillUpdate,
  deletedSignal,
  detachedSignal,
  jobObservedSignal,
  restartUpdate,
  resumeUpdate,
  resyncSignal,
  stateQuery,
  streamObservedSignal,
  suspendUpdate,
  templateObservedSignal,
  type BackfillUpdateInput,
  type StreamStatus,
  type StreamWorkflowInput,
  type UpdateAccepted,
} from './messages.ts';

// Transient errors (conflicts, throttling, outages) are retried without limit: Kubernetes stays the truth.
const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: [...nonRetryableReasons],
};
const options = { startToCloseTimeout: '1 minute', retry } as const;
const activities = proxyActivities<StreamActivities>(options);
// The lifecycle's rounds run as local activities, with the same options: each is one marker in the history, and a
// wake's rounds usually fit in one workflow task. Retries past a minute wait on durable timers.
const local = proxyLocalActivities<StreamActivities>(options);

/** The patch marker of the lifecycle's second revision (see LifecycleRevision). */
const lifecycleRevision2 = 'lifecycle-revision-2';

// Decisions that keep producing actions are cut off here and retried after the re-check interval.
const maxRoundsPerWake = 25;
const defaultMaxHistoryEvents = 2_000;

export async function streamWorkflow(input: StreamWorkflowInput): Promise<StreamStatus> {
  const { stream } = input;
  // Histories recorded before revision 2 have no marker and replay with revision 1's decisions; every new run (a
  // continued one too) records the marker and decides with revision 2.
  const revision = patched(lifecycleRevision2) ? 2 : 1;
  const config = { ...defaultLifecycleConfig, ...input.lifecycle, revision } as const;
  let state: StreamState = input.carried?.state ?? initialStreamState();
  // A new run always looks at the cluster first; reasons carried over say why the last run was woken.
  let wakeReasons: string[] = [...(input.carried?.wakeReasons ?? []), 'workflow started'];
  // What the notices behind the wake reasons showed; a wake whose notices all show nothing new skips its round.
  let notices: (NoticeContent | undefined)[] = wakeReasons.map(() => undefined);
  let observation: Observation | undefined;
  // The versions every later observation must show at least (a cache may lag): the latest observation's, carried over.
  let seenVersions: ObjectVersions = input.carried?.versions ?? {};
  let wakeAt: number | undefined;

  const wake = (reason: string, notice?: NoticeContent): void => {
    wakeReasons.push(reason);
    notices.push(notice);
  };
  for (const signal of [
    streamObservedSignal,
    resyncSignal,
    jobObservedSignal,
    backfillRequestObservedSignal,
    templateObservedSignal,
    deletedSignal,
    detachedSignal,
  ]) {
    setHandler(signal, (notice) =>
      wake(`${signal.name}: ${notice.reason}`, { observed: notice.observed, versions: notice.versions }),
    );
  }

  const accepted = (message: string): UpdateAccepted => ({ phase: state.phase, message });
  const validator =
    (update: StreamUpdate) =>
    (..._input: unknown[]) => {
      const rejection = validateUpdate(state, update);
      if (rejection) throw new Error(rejection);
    };
  // suspend and resume only set the field: Kubernetes stays the single source of truth, the change comes back as input
  for (const [update, name, suspended] of [
    [suspendUpdate, 'suspend', true],
    [resumeUpdate, 'resume', false],
  ] as const) {
    setHandler(
      update,
      async () => {
        const summary = `set spec suspended: ${suspended}`;
        await activities.setSuspended.executeWithOptions({ ...options, summary }, [stream, suspended]);
        wake(`${name} update`);
        return accepted(`${name} requested: spec.suspended is now ${suspended}`);
      },
      { validator: validator(name) },
    );
  }
  setHandler(
    backfillUpdate,
    async (request: BackfillUpdateInput) => {
      const name = `${stream.name}-backfill-${uuid4().slice(0, 8)}`;
      const summary = `open BackfillRequest ${stream.namespace}/${name} unless one is open`;
      const result = await activities.requestBackfill.executeWithOptions({ ...options, summary }, [
        stream,
        { name, payload: request.payload },
      ]);
      wake(`backfill update: ${result.name}`);
      return result;
    },
    { validator: validator('backfill') },
  );
  setHandler(
    restartUpdate,
    () => {
      state = requestRestart(state);
      wake('restart update');
      return accepted('restart accepted: the Job is replaced now');
    },
    { validator: validator('restart') },
  );
  setHandler(stateQuery, () => status(input, state, observation));

  upsertSearchAttributes([
    { key: streamClassKey, value: stream.streamClass },
    { key: namespaceKey, value: stream.namespace },
    { key: streamNameKey, value: stream.name },
    { key: phaseKey, value: state.phase || 'None' },
  ]);
  let shownPhase = state.phase;
  let shownDetails = '';
  /** The phase as a search attribute and the condition as the workflow's current details, in the Temporal UI. */
  const show = (): void => {
    // Revision 1 upserted the phase on every wake; since then only a change of phase costs a history event.
    if (revision === 1 || state.phase !== shownPhase) {
      upsertSearchAttributes([{ key: phaseKey, value: state.phase || 'None' }]);
    }
    shownPhase = state.phase;
    const details = `**${state.phase || 'no phase'}** ${state.condition.reason}: ${state.condition.message}`;
    if (details !== shownDetails) setCurrentDetails(details);
    shownDetails = details;
  };

  for (;;) {
    const timeout = wakeAt === undefined ? undefined : Math.max(wakeAt - Date.now(), 1);
    const summary = state.pendingRestart?.message ?? 'wait for the next change';
    if (timeout === undefined) await condition(() => wakeReasons.length > 0);
    else await condition(() => wakeReasons.length > 0, timeout, { summary });
    const woken = notices;
    wakeReasons = [];
    notices = [];
    // Revision 2: a wake by notices that all show what the last observation showed (the workflow's own writes coming
    // back, mostly) has nothing to decide on, so it costs no observation. A timer's wake has no notice: it decides.
    const nothingNew = woken.length > 0 && woken.every((notice) => alreadyShown(notice, observation));
    if (revision === 1 || !nothingNew) {
      const required = woken.reduce((versions, notice) => newest(versions, notice?.versions), seenVersions);
      const steady = revision === 1 ? await reconcileRevision1() : await reconcile(required);
      wakeAt = steady.wakeAt;
      show();
      if (steady.done) {
        await condition(allHandlersFinished);
        return status(input, state, observation);
      }
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? defaultMaxHistoryEvents)) {
      await condition(allHandlersFinished);
      // Anything that woke us while handlers finished is carried over, so no signal is lost.
      return continueAsNew<typeof streamWorkflow>({
        ...input,
        carried: { state, wakeReasons, versions: seenVersions },
      });
    }
  }

  /**
   * Observe, then decide and act until the decision asks for nothing more. Each round's actions and the observation
   * after them are one local activity.
   */
  async function reconcile(required: ObjectVersions): Promise<{ wakeAt?: number; done?: boolean }> {
    let seen = await local.observeStream.executeWithOptions(
      { ...options, summary: `observe ${stream.namespace}/${stream.name}` },
      [stream, required],
    );
    for (let round = 0; round < maxRoundsPerWake; round++) {
      observation = seen;
      seenVersions = newest(seenVersions, seen.versions);
      const before = state;
      const decision = decide(before, seen, config, Date.now());
      state = decision.state;
      if (decision.actions.length === 0) return { wakeAt: decision.wakeAt, done: decision.done };
      const result = await actThenObserve(decision.actions);
      if (result.rejected) {
        await recordRefusal(before, seen, decision.actions[result.rejected.index], result.rejected);
        return {};
      }
      seen = result.observation;
    }
    log.warn('the lifecycle did not settle; trying again after the re-check interval', { stream, state });
    return { wakeAt: Date.now() + config.recheckMs };
  }

  /** The round is undone: Failed is recorded from the state before it, so a repeated failure repeats nothing. */
  async function recordRefusal(
    before: StreamState,
    seen: Observation,
    refused: Action | undefined,
    rejection: ActionRejection,
  ): Promise<void> {
    // Only building a workload is ever refused, and that needs the stream: it was observed.
    if (!refused || !seen.stream) return;
    const input = { observation: seen, stream: seen.stream, config, now: Date.now() };
    const failed = rejectAction(before, refused, rejection, input);
    state = failed.state;
    if (failed.actions.length === 0) return;
    observation = (await actThenObserve(failed.actions)).observation;
    seenVersions = newest(seenVersions, observation.versions);
  }

  function actThenObserve(actions: Action[]) {
    const summary = actions.map((action) => actionSummary(stream, action)).join('; ');
    return local.act.executeWithOptions({ ...options, summary }, [stream, actions, seenVersions]);
  }

  /** Revision 1's driver, kept so that histories recorded with it replay: one activity per observation and action. */
  async function reconcileRevision1(): Promise<{ wakeAt?: number; done?: boolean }> {
    for (let round = 0; round < maxRoundsPerWake; round++) {
      const seen = await activities.observeStream.executeWithOptions(
        { ...options, summary: `observe ${stream.namespace}/${stream.name}` },
        [stream],
      );
      observation = seen;
      const before = state;
      const decision = decide(before, seen, config, Date.now());
      state = decision.state;
      if (decision.actions.length === 0) return { wakeAt: decision.wakeAt, done: decision.done };
      const rejected = await act(decision.actions);
      if (!rejected) continue;
      await recordRejection(before, seen, rejected);
      return {};
    }
    log.warn('the lifecycle did not settle; trying again after the re-check interval', { stream, state });
    return { wakeAt: Date.now() + config.recheckMs };
  }

  /** Runs the actions in order; stops at one refused for a reason no retry can fix and returns it. */
  async function act(actions: Action[]): Promise<Rejected | undefined> {
    for (const action of actions) {
      try {
        await execute(action);
      } catch (error) {
        const rejection = rejectionOf(error);
        if (!rejection) throw error;
        return { action, rejection };
      }
    }
    return undefined;
  }

  /** The round is undone: Failed is recorded from the state before it, so a repeated failure repeats nothing. */
  async function recordRejection(before: StreamState, seen: Observation, rejected: Rejected): Promise<void> {
    // Only building a workload is ever rejected, and that needs the stream: it was observed.
    if (!seen.stream) return;
    const input = { observation: seen, stream: seen.stream, config, now: Date.now() };
    const failed = rejectAction(before, rejected.action, rejected.rejection, input);
    state = failed.state;
    await act(failed.actions);
  }

  function execute(action: Action): Promise<unknown> {
    const run = activities[action.type] as { executeWithOptions(o: object, args: unknown[]): Promise<unknown> };
    return run.executeWithOptions({ ...options, summary: actionSummary(stream, action) }, [stream, action]);
  }
}

/** An action an activity refused for good. */
interface Rejected {
  action: Action;
  rejection: ActionRejection;
}

/** The reason and message of an activity failure no retry can fix, else undefined. */
function rejectionOf(error: unknown): ActionRejection | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  const reason = nonRetryableReasons.find((known) => cause instanceof ApplicationFailure && known === cause.type);
  return reason === undefined || cause === undefined ? undefined : { reason, message: cause.message };
}

function status(input: StreamWorkflowInput, state: StreamState, observation: Observation | undefined): StreamStatus {
  const job = observation?.job;
  const cronJob = observation?.cronJob;
  return {
    stream: input.stream,
    phase: state.phase,
    reason: state.condition.reason,
    message: state.condition.message,
    configurationHash: state.configurationHash,
    job: job && { name: input.stream.name, uid: job.uid, backfilling: job.backfilling, state: job.state },
    cronJob: cronJob && { name: input.stream.name, uid: cronJob.uid },
    openBackfillRequests: (observation?.backfillRequests ?? []).filter((r) => !r.completed).map((r) => r.name),
    restartCount: state.restartCount,
    nextRestartAt:
      state.pendingRestart?.dueAt !== undefined ? new Date(state.pendingRestart.dueAt).toISOString() : undefined,
    lastError: state.lastError && { ...state.lastError, at: new Date(state.lastError.at).toISOString() },
    transitions: state.transitions,
    ended: state.ended,
  };
}
