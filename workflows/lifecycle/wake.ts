// One wake of a stream's lifecycle: observe, let `decide` choose actions, carry them out with an observation right
// after, and repeat until the decision asks for nothing more. Pure but for the reads and writes it is given, so the
// same loop runs in the workflow (each read and write a local activity) and inside one activity (revision 4).
import { decide } from './decide.ts';
import { rejectAction, type ActionRejection } from './rejected-action.ts';
import type { Action, LifecycleConfig, Observation, StreamState } from './types.ts';
import { newest, type ObjectVersions } from './versions.ts';

/** A decision that keeps asking for actions round after round is cut off after this many rounds. */
export const maxRoundsPerWake = 25;

/** What one round's actions came to: the stream observed after them, and the action refused, if one was. */
export interface ActOutcome {
  /** An action refused for a reason no retry can fix; the actions after it did not run. */
  rejected?: ActionRejection & { index: number };
  observation: Observation;
}

/** The reads and writes a wake is given, and its clock. */
export interface WakeIo {
  /** The stream, at least as new as `required`. */
  observe(required: ObjectVersions): Promise<Observation>;
  /** The actions in order, then the stream observed at least as new as `seen` and what the actions wrote. */
  act(actions: Action[], seen: ObjectVersions): Promise<ActOutcome>;
  now(): number;
}

/**
 * What a wake reads and moves forward as it goes: the lifecycle state, the latest observation and the versions every
 * later observation must show. The wake updates it after every round, so whoever holds it (the workflow, whose message
 * handlers read and change the state between rounds) always sees the latest.
 */
export interface WakeHolder {
  state: StreamState;
  observation?: Observation;
  seenVersions: ObjectVersions;
}

/** Where a wake that runs elsewhere (the `settle` activity) starts: what the workflow holds, and its tunables. */
export interface WakeStart {
  state: StreamState;
  seenVersions: ObjectVersions;
  /** What the first observation must show at least. */
  required: ObjectVersions;
  config: LifecycleConfig;
  /**
   * The workflow's time when the wake began: the wake decides with it, as a wake run by the workflow does (its time
   * stands still within a workflow task), so due times and the timers set for them agree.
   */
  now: number;
}

/** What such a wake leaves; `rounds` lists the actions each round asked for, so the history shows them. */
export interface WakeResult extends WakeEnd {
  state: StreamState;
  observation: Observation;
  seenVersions: ObjectVersions;
  rounds: Action[][];
}

/** How a wake ended: when to wake up next without a notice, and whether the stream's lifecycle is over. */
export interface WakeEnd {
  wakeAt?: number;
  done?: boolean;
  /** The decision never settled within `maxRoundsPerWake`; `wakeAt` is the re-check. */
  unsettled?: boolean;
  /**
   * The wake stopped at a round whose actions keep failing for now (a Job still going away, an API server that does
   * not answer): the state holds that round's decision, and these actions are to be retried until they succeed, as
   * they stand, before the wake goes on. `before` is the state the round decided from, should one of them be refused.
   */
  pending?: { actions: Action[]; before: StreamState };
}

/** Thrown by `WakeIo.act` when a round's actions keep failing for now: the wake stops there (see WakeEnd.pending). */
export class RoundPending extends Error {
  constructor(cause: string) {
    super(`the round's actions keep failing for now: ${cause}`);
    this.name = 'RoundPending';
  }
}

export async function runWake(
  holder: WakeHolder,
  required: ObjectVersions,
  config: LifecycleConfig,
  io: WakeIo,
): Promise<WakeEnd> {
  let seen = await io.observe(required);
  for (let round = 0; round < maxRoundsPerWake; round++) {
    holder.observation = seen;
    holder.seenVersions = newest(holder.seenVersions, seen.versions);
    const before = holder.state;
    const decision = decide(before, seen, config, io.now());
    holder.state = decision.state;
    if (decision.actions.length === 0) return { wakeAt: decision.wakeAt, done: decision.done };
    let outcome: ActOutcome;
    try {
      outcome = await io.act(decision.actions, holder.seenVersions);
    } catch (error) {
      if (error instanceof RoundPending) return { pending: { actions: decision.actions, before } };
      throw error;
    }
    if (outcome.rejected) {
      await answerRefusal(holder, { before, seen, actions: decision.actions, outcome, config }, io);
      return {};
    }
    seen = outcome.observation;
  }
  return { wakeAt: io.now() + config.recheckMs, unsettled: true };
}

export interface Refusal {
  /** The state the refused round decided from, and what it saw. */
  before: StreamState;
  seen: Observation;
  /** The round's actions, and what carrying them out came to (a refusal). */
  actions: Action[];
  outcome: ActOutcome;
  config: LifecycleConfig;
}

/**
 * The answer to a refused action. The refused round is dropped: Failed is decided from the state before that round,
 * not from the state the round produced. So if the same action is refused again later, the lifecycle reaches the same
 * Failed state and runs no action twice.
 */
export async function answerRefusal(holder: WakeHolder, refusal: Refusal, io: WakeIo): Promise<void> {
  const { before, seen, actions, outcome, config } = refusal;
  const rejected = outcome.rejected;
  const action = rejected && actions[rejected.index];
  // Only building a workload is ever refused, and building one needs the stream, so the stream was observed; the check
  // keeps a refusal without a stream (which cannot happen today) from deciding on nothing.
  if (!rejected || !action || !seen.stream) return;
  const input = { observation: seen, stream: seen.stream, config, now: io.now() };
  const failed = rejectAction(before, action, rejected, input);
  holder.state = failed.state;
  if (failed.actions.length === 0) return;
  holder.observation = (await io.act(failed.actions, holder.seenVersions)).observation;
  holder.seenVersions = newest(holder.seenVersions, holder.observation.versions);
}
