// The stream workflow: one long-running workflow per stream. It registers its message handlers, waits until a signal,
// an update or a timer wakes it, runs the lifecycle loop (workflows/driver.ts) and continues as new before its
// history grows too long.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { phaseAttribute, phaseKey, streamSearchAttributes } from '../client/search-attributes.ts';
import { activities, activityOptions, LifecycleDriver } from './driver.ts';
import {
  alreadyShown,
  defaultLifecycleConfig,
  initialStreamState,
  requiredAfter,
  validateUpdate,
  type NoticeContent,
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
  LATEST_LIFECYCLE_REVISION,
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

/** The patch marker of the lifecycle's second revision (see LifecycleRevision). */
const lifecycleRevision2 = 'lifecycle-revision-2';

/** A run continues as new once its history holds more events than this (unless the input sets another limit). */
const defaultMaxHistoryEvents = 2_000;

export async function streamWorkflow(input: StreamWorkflowInput): Promise<StreamStatus> {
  const { stream } = input;
  // A run whose input names its revision decides with it. Histories recorded before revision 2 carry no patch marker,
  // so they replay with revision 1's decisions; every other run without a revision in its input records the marker
  // and decides with revision 2.
  const revision = input.lifecycleRevision ?? (patched(lifecycleRevision2) ? 2 : 1);
  const config = { ...defaultLifecycleConfig, ...input.lifecycle, revision } as const;
  const driver = new LifecycleDriver(
    stream,
    config,
    input.carried?.state ?? initialStreamState(),
    input.carried?.versions ?? {},
  );
  // A new run always looks at the cluster first. Reasons carried over from the last run say why it was woken.
  const wakes = new Wakes([...(input.carried?.wakeReasons ?? []), 'workflow started']);

  handleMessages(input, driver, wakes);
  const display = new Display(revision, driver, input.lifecycleRevision !== undefined);

  let wakeAt: number | undefined;
  for (;;) {
    const timeout = wakeAt === undefined ? undefined : Math.max(wakeAt - Date.now(), 1);
    const summary = driver.state.pendingRestart?.message ?? 'wait for the next change';
    if (timeout === undefined) await condition(() => wakes.pending());
    else await condition(() => wakes.pending(), timeout, { summary });
    const woken = wakes.take();
    // Revision 2 skips a wake whose notices all show only what the last observation already showed (mostly the
    // workflow's own writes coming back): there is nothing new to decide on, so it is not worth an observation.
    // A timer's wake has no notice, so it always decides.
    const nothingNew = woken.length > 0 && woken.every((notice) => alreadyShown(notice, driver.observation));
    if (revision === 1 || !nothingNew) {
      // The observation must show at least what the notices that woke us showed, and what was seen before.
      const required = requiredAfter(woken, driver.seenVersions);
      const outcome =
        revision === 1
          ? await driver.reconcileRevision1()
          : revision >= 4
            ? await driver.reconcileInOneActivity(required)
            : await driver.reconcile(required);
      wakeAt = outcome.wakeAt;
      display.show();
      if (outcome.done) {
        await condition(allHandlersFinished);
        return status(input, driver.state, driver.observation);
      }
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? defaultMaxHistoryEvents)) {
      await condition(allHandlersFinished);
      // Whatever woke the workflow while the handlers were finishing is carried over, so no signal is lost.
      return continueAsNew<typeof streamWorkflow>({
        ...input,
        lifecycleRevision: LATEST_LIFECYCLE_REVISION,
        carried: { state: driver.state, wakeReasons: wakes.reasons, versions: driver.seenVersions },
      });
    }
  }
}

/**
 * Why the workflow was woken since it last looked. Each reason has the content of the notice behind it, or undefined
 * when there is none (an update, the start of a run).
 */
class Wakes {
  reasons: string[];
  private notices: (NoticeContent | undefined)[];

  constructor(reasons: string[]) {
    this.reasons = reasons;
    this.notices = reasons.map(() => undefined);
  }

  add(reason: string, notice?: NoticeContent): void {
    this.reasons.push(reason);
    this.notices.push(notice);
  }

  pending(): boolean {
    return this.reasons.length > 0;
  }

  /** The notices of the wakes so far, which are then forgotten. */
  take(): (NoticeContent | undefined)[] {
    const notices = this.notices;
    this.reasons = [];
    this.notices = [];
    return notices;
  }
}

/** The signals from the watcher, the public updates and the state query. */
function handleMessages(input: StreamWorkflowInput, driver: LifecycleDriver, wakes: Wakes): void {
  const { stream } = input;
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
      wakes.add(`${signal.name}: ${notice.reason}`, {
        observed: notice.observed,
        versions: notice.versions,
        required: notice.required,
      }),
    );
  }

  const accepted = (message: string): UpdateAccepted => ({ phase: driver.state.phase, message });
  // An update the stream's current state does not allow is refused before it is accepted, so it leaves no trace in
  // the history.
  const validator =
    (update: StreamUpdate) =>
    (..._input: unknown[]) => {
      const rejection = validateUpdate(driver.state, update);
      if (rejection) throw new Error(rejection);
    };
  // suspend and resume only set the stream's spec field. Kubernetes stays the single source of truth: the workflow
  // acts on the change when it observes it, like any other change of the spec.
  for (const [update, name, suspended] of [
    [suspendUpdate, 'suspend', true],
    [resumeUpdate, 'resume', false],
  ] as const) {
    setHandler(
      update,
      async () => {
        const summary = `set spec suspended: ${suspended}`;
        await activities.setSuspended.executeWithOptions({ ...activityOptions, summary }, [stream, suspended]);
        wakes.add(`${name} update`);
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
      const result = await activities.requestBackfill.executeWithOptions({ ...activityOptions, summary }, [
        stream,
        { name, payload: request.payload },
      ]);
      wakes.add(`backfill update: ${result.name}`);
      return result;
    },
    { validator: validator('backfill') },
  );
  setHandler(
    restartUpdate,
    () => {
      driver.requestRestart();
      wakes.add('restart update');
      return accepted('restart accepted: the Job is replaced now');
    },
    { validator: validator('restart') },
  );
  setHandler(stateQuery, () => status(input, driver.state, driver.observation));
}

/**
 * Shows the stream in the Temporal UI: its identity and phase as search attributes, and its condition as the
 * workflow's current details.
 */
class Display {
  private readonly revision: number;
  private readonly driver: LifecycleDriver;
  private shownPhase: StreamState['phase'];
  private shownDetails = '';

  /**
   * `onlyMissing`: write only the attributes the run did not start with. The watcher starts a stream's workflow with
   * all four, so such a run writes none of them, and its history has no event for it. Runs whose input names no
   * lifecycle revision were recorded writing all four, and replay doing so.
   */
  constructor(revision: number, driver: LifecycleDriver, onlyMissing: boolean) {
    this.revision = revision;
    this.driver = driver;
    const { stream } = driver;
    this.shownPhase = driver.state.phase;
    const started = workflowInfo().typedSearchAttributes;
    const attributes = streamSearchAttributes(stream, driver.state.phase);
    const missing = onlyMissing ? attributes.filter(({ key, value }) => started.get(key) !== value) : attributes;
    if (missing.length > 0) upsertSearchAttributes(missing);
  }

  /** After a wake: what changed is shown. */
  show(): void {
    const { state } = this.driver;
    // Revision 1 wrote the phase on every wake. Since then only a change of phase writes it, because every write
    // costs an event in the history.
    if (this.revision === 1 || state.phase !== this.shownPhase) {
      upsertSearchAttributes([{ key: phaseKey, value: phaseAttribute(state.phase) }]);
    }
    this.shownPhase = state.phase;
    const details = `**${state.phase || 'no phase'}** ${state.condition.reason}: ${state.condition.message}`;
    if (details !== this.shownDetails) setCurrentDetails(details);
    this.shownDetails = details;
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
