// The stream workflow: a thin driver around the pure lifecycle decision (observe -> decide -> act, until steady).
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
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
  initialStreamState,
  requestRestart,
  validateRestart,
  type Action,
  type Observation,
  type StreamState,
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

/** Errors no retry can fix: the workflow records them as phase Failed instead. */
export const nonRetryableReasons = ['InvalidSpec', 'InvalidTemplate'];

// Transient errors (conflicts, throttling, outages) are retried without limit: Kubernetes stays the truth.
const options = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: nonRetryableReasons,
  },
} as const;
const activities = proxyActivities<StreamActivities>(options);

// Decisions that keep producing actions are cut off here and retried after the re-check interval.
const maxRoundsPerWake = 25;
const defaultMaxHistoryEvents = 2_000;

export async function streamWorkflow(input: StreamWorkflowInput): Promise<StreamStatus> {
  const { stream } = input;
  const config = { ...defaultLifecycleConfig, ...input.lifecycle };
  let state: StreamState = input.carried?.state ?? initialStreamState();
  // A new run always looks at the cluster first; reasons carried over say why the last run was woken.
  let wakeReasons: string[] = [...(input.carried?.wakeReasons ?? []), 'workflow started'];
  let observation: Observation | undefined;
  let wakeAt: number | undefined;

  const wake = (reason: string): void => {
    wakeReasons.push(reason);
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
    setHandler(signal, (notice) => wake(`${signal.name}: ${notice.reason}`));
  }

  const accepted = (message: string): UpdateAccepted => ({ phase: state.phase, message });
  const rejectIfEnded = () => {
    if (state.ended) throw new Error(`the stream was ${state.ended}; its workflow is finishing`);
  };
  // suspend and resume only set the field: Kubernetes stays the single source of truth, the change comes back as input
  for (const [update, suspended] of [
    [suspendUpdate, true],
    [resumeUpdate, false],
  ] as const) {
    setHandler(
      update,
      async () => {
        const summary = `set spec suspended: ${suspended}`;
        await activities.setSuspended.executeWithOptions({ ...options, summary }, [stream, suspended]);
        wake(`${update.name} update`);
        return accepted(`${update.name} requested: spec.suspended is now ${suspended}`);
      },
      { validator: rejectIfEnded },
    );
  }
  setHandler(
    backfillUpdate,
    async (request: BackfillUpdateInput) => {
      const name = `${stream.name}-backfill-${uuid4().slice(0, 8)}`;
      const result = await activities.requestBackfill(stream, { name, payload: request.payload });
      wake(`backfill update: ${result.name}`);
      return result;
    },
    { validator: (_request: BackfillUpdateInput) => rejectIfEnded() },
  );
  setHandler(
    restartUpdate,
    () => {
      state = requestRestart(state);
      wake('restart update');
      return accepted('restart accepted: the Job is replaced now');
    },
    {
      validator: () => {
        const rejection = validateRestart(state);
        if (rejection) throw new Error(rejection);
      },
    },
  );
  setHandler(stateQuery, () => status(input, state, observation));

  upsertSearchAttributes([
    { key: streamClassKey, value: stream.streamClass },
    { key: namespaceKey, value: stream.namespace },
    { key: streamNameKey, value: stream.name },
    { key: phaseKey, value: state.phase || 'None' },
  ]);

  for (;;) {
    const timeout = wakeAt === undefined ? undefined : Math.max(wakeAt - Date.now(), 1);
    const summary = state.pendingRestart?.message ?? 'wait for the next change';
    if (timeout === undefined) await condition(() => wakeReasons.length > 0);
    else await condition(() => wakeReasons.length > 0, timeout, { summary });
    wakeReasons = [];

    const steady = await reconcile();
    wakeAt = steady.wakeAt;
    upsertSearchAttributes([{ key: phaseKey, value: state.phase || 'None' }]);
    setCurrentDetails(`**${state.phase || 'no phase'}** ${state.condition.reason}: ${state.condition.message}`);
    if (steady.done) {
      await condition(allHandlersFinished);
      return status(input, state, observation);
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? defaultMaxHistoryEvents)) {
      await condition(allHandlersFinished);
      // Anything that woke us while handlers finished is carried over, so no signal is lost.
      return continueAsNew<typeof streamWorkflow>({ ...input, carried: { state, wakeReasons } });
    }
  }

  /** Observe and decide until the decision asks for nothing more. */
  async function reconcile(): Promise<{ wakeAt?: number; done?: boolean }> {
    for (let round = 0; round < maxRoundsPerWake; round++) {
      observation = await activities.observeStream.executeWithOptions(
        { ...options, summary: `observe ${stream.namespace}/${stream.name}` },
        [stream],
      );
      const decision = decide(state, observation, config, Date.now());
      state = decision.state;
      if (decision.actions.length === 0) return { wakeAt: decision.wakeAt, done: decision.done };
      const failure = await act(decision.actions);
      if (failure) return {};
    }
    log.warn('the lifecycle did not settle; trying again after the re-check interval', { stream, state });
    return { wakeAt: Date.now() + config.recheckMs };
  }

  /** Runs the actions in order; an input no retry can fix ends the round as phase Failed. */
  async function act(actions: Action[]): Promise<boolean> {
    for (const action of actions) {
      try {
        await execute(action);
      } catch (error) {
        const cause = error instanceof ActivityFailure ? error.cause : undefined;
        if (!(cause instanceof ApplicationFailure) || !cause.type || !nonRetryableReasons.includes(cause.type))
          throw error;
        await recordInvalidInput(cause.type, cause.message);
        return true;
      }
    }
    return false;
  }

  async function recordInvalidInput(reason: string, message: string): Promise<void> {
    const generation = observation?.stream?.generation ?? 0;
    const previous = state.phase;
    state = {
      ...state,
      phase: 'Failed',
      condition: { reason, message },
      lastError: { reason, message, at: Date.now() },
      transitions: [...state.transitions, { at: Date.now(), from: previous, to: 'Failed' as const, reason }].slice(
        -config.maxTransitions,
      ),
    };
    await execute({
      type: 'writeStatus',
      phase: 'Failed',
      configurationHash: state.configurationHash,
      conditionType: 'Error',
      reason,
      message,
      observedGeneration: generation,
    });
    await execute({ type: 'recordEvent', eventType: 'Warning', reason: reason as 'InvalidSpec', message });
  }

  function execute(action: Action): Promise<unknown> {
    const run = activities[action.type] as { executeWithOptions(o: object, args: unknown[]): Promise<unknown> };
    return run.executeWithOptions({ ...options, summary: actionSummary(stream, action) }, [stream, action]);
  }
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
