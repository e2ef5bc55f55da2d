// The data the stream lifecycle decides on and produces: plain, JSON-serialisable, carried through continue-as-new.
import type { ObjectVersions } from './versions.ts';

/** A lifecycle phase as written to `status.phase`; '' is a stream that has none yet (new, or no valid backend). */
export type StreamPhase = '' | 'Pending' | 'Backfilling' | 'Running' | 'Scheduled' | 'Suspended' | 'Failed';

/** Where the stream's streaming workload runs: a Job (changeCapture / v0), a CronJob (batch) or nowhere. */
export type Backend = 'job' | 'cronjob' | 'none';

/** A spec the resource model could parse and hash. */
export interface ValidSpec {
  valid: true;
  /** `spec.suspended` or `spec.execution.suspended`. */
  suspended: boolean;
  backend: Backend;
  /** Hex md5 of the spec as Go serialises it; equal to the `configuration-hash` annotation of up-to-date workloads. */
  configurationHash: string;
}

/** The only failures no retry can fix: an activity refuses with one of these and the lifecycle records phase Failed. */
export const nonRetryableReasons = ['InvalidSpec', 'InvalidTemplate'] as const;
export type NonRetryableReason = (typeof nonRetryableReasons)[number];

/** A spec (or the template it names) the resource model rejected. */
export interface InvalidSpec {
  valid: false;
  reason: NonRetryableReason;
  /** JSON path of the offending field, e.g. `spec.execution.layoutVersion`. */
  field: string;
  /** What is wrong, starting with the field, as the resource model words it. */
  message: string;
  /** Whether the spec asks to be suspended, when that much can be read from it: suspension wins over a bad spec. */
  suspended?: boolean;
}

/** The condition as last written to the stream's status (the one this operator maintains). */
export interface ObservedCondition {
  type: string;
  /** Absent when the plugin's status schema prunes it (production plugins keep only type, status, message, phase). */
  reason?: string;
  message: string;
  observedGeneration?: number;
}

/** The stream object as read from the cluster. */
export interface ObservedStream {
  uid: string;
  generation: number;
  /** `metadata.deletionTimestamp` is set: the stream is going away. */
  deleting: boolean;
  /** `metadata.annotations["arcane.sneaksanddata.com/pin-template"] === "true"`: no template rollouts. */
  pinTemplate: boolean;
  /** `status.phase` ('' when absent), `status.configurationHash` and our condition, to adopt and to skip no-op writes. */
  status: { phase: string; configurationHash?: string; condition?: ObservedCondition };
  spec: ValidSpec | InvalidSpec;
}

/** A StreamingJobTemplate the spec refers to; `ref` is `<namespace>/<name>` for messages. */
export interface ObservedTemplate {
  ref: string;
  found: boolean;
  /** `metadata.generation`, when found. */
  generation?: number;
  /** Why the found template cannot build this stream's workload (not a Job, a reserved env var); absent when it can. */
  problem?: string;
}

/** The Job named after the stream (streaming or backfill). */
export interface ObservedJob {
  uid: string;
  /** Label `arcane/backfilling="true"`. */
  backfilling: boolean;
  /** The BackfillRequest a backfill Job runs (`STREAMCONTEXT__BACKFILL_ID`); absent when unknown (adopted Jobs). */
  backfillId?: string;
  /** Annotation `configuration-hash`. */
  configurationHash?: string;
  /** Annotation `arcane.sneaksanddata.com/template-generation`; absent on Jobs adopted from upstream. */
  templateGeneration?: number;
  state: 'active' | 'complete' | 'failed';
  /** Why the Job failed (its Failed condition's reason and message), for the event. */
  failureMessage?: string;
  /** `metadata.deletionTimestamp` is set. */
  terminating: boolean;
  /** Carries the operator's outcome finalizer, so it stays readable (terminating) until the operator releases it.
   * Absent in observations recorded before the finalizer existed. */
  held?: boolean;
  /** Carries our labels; false for a Job adopted from upstream that we must label so the watcher sees it. */
  labelled: boolean;
  /** `status.startTime` / `status.completionTime` (or failure time), epoch ms. */
  startTime?: number;
  finishTime?: number;
}

/** The CronJob named after the stream. */
export interface ObservedCronJob {
  uid: string;
  configurationHash?: string;
  templateGeneration?: number;
  terminating: boolean;
  labelled: boolean;
}

/** A BackfillRequest matching the stream's namespace, class and id. */
export interface ObservedBackfillRequest {
  name: string;
  /** `metadata.creationTimestamp`, epoch ms: open requests run oldest first. */
  createdAt: number;
  completed: boolean;
  /** The request was refused (`status.phase` Failed): it is not run. */
  refused?: boolean;
}

/** What a StreamClass serves streams as; the version may change, as one object is served in several versions. */
export interface StreamKind {
  group: string;
  kind: string;
  plural: string;
}

/** Everything a decision is made from, read fresh before each decision. */
export interface Observation {
  /** What the stream's StreamClass serves now; absent when detached. */
  kind?: StreamKind;
  /** Absent when the stream object no longer exists. */
  stream?: ObservedStream;
  /** The template the streaming Job or CronJob is built from, and the one backfill Jobs are built from; absent when
   * the spec names none. */
  templates: { streaming?: ObservedTemplate; backfill?: ObservedTemplate };
  job?: ObservedJob;
  cronJob?: ObservedCronJob;
  backfillRequests: ObservedBackfillRequest[];
  /** Deterministic name for the initial BackfillRequest (`<stream>-initial-backfill-<suffix>`). */
  initialBackfillName: string;
  /** Why the lifecycle must let go of the stream without touching it (its StreamClass is gone, or the API server no
   * longer serves its kind); absent while the stream is managed. */
  detached?: string;
  /** The resourceVersion each object shown was read at (observations recorded before these were kept lack it). */
  versions?: ObjectVersions;
}

/** The condition this operator keeps on the stream; its type follows from the phase. */
export interface Condition {
  reason: string;
  message: string;
}

/** One phase change, for the `state` query and the history. */
export interface Transition {
  at: number;
  from: StreamPhase;
  to: StreamPhase;
  reason: string;
}

/** A restart the lifecycle owes a finished Job: after a failure, a short completion, a spec change or a request. */
export interface PendingRestart {
  /** The finished (or to-be-replaced) Job; a newer Job under the same name makes this restart stale. */
  jobUid: string;
  /** The BackfillRequest the Job ran; absent for the streaming Job. */
  backfillRequest?: string;
  cause: 'failed' | 'completed' | 'configuration' | 'requested';
  /** When to replace the Job; absent when automatic restarts are exhausted and only a person can restart it. */
  dueAt?: number;
  /** The condition message while the restart is owed. */
  message: string;
}

/** How the initial backfill was settled: not yet looked at, to be decided once the spec allows, or done with. */
export type InitialBackfill = 'unseen' | 'undecided' | 'requested' | 'skipped';

/** What the workflow remembers between decisions. */
export interface StreamState {
  /** The kind the StreamClass served when this lifecycle first saw it; a class serving another kind lets it go. */
  kind?: StreamKind;
  /** The uid of the stream object this state is about; another object under the same name starts afresh. */
  streamUid?: string;
  phase: StreamPhase;
  condition: Condition;
  /** Hash of the newest valid spec acted on; written to `status.configurationHash`. */
  configurationHash: string;
  initialBackfill: InitialBackfill;
  /** The BackfillRequest being backfilled, kept across suspend so resume continues it. */
  activeBackfill?: string;
  /** Automatic restarts after failures since the last stable run or manual intervention. */
  restartCount: number;
  /** Consecutive completions shorter than the stable period, which set the restart backoff. */
  quickCompletions: number;
  pendingRestart?: PendingRestart;
  /** When this lifecycle last created a Job, epoch ms, for when the Job reports no start time yet. */
  lastJobStart?: number;
  /** Set by the `restart` update; consumed by the next decision. */
  restartRequested: boolean;
  lastError?: Condition & { at: number };
  /** The most recent phase changes, oldest first, at most `maxTransitions`. */
  transitions: Transition[];
  /** Why the lifecycle ended, once it has. */
  ended?: 'deleted' | 'detached';
}

/** Event reasons: upstream's for the same transitions, ours for what is new. */
export type EventReason =
  | 'StreamCreated'
  | 'BackfillRequested'
  | 'BackfillStarted'
  | 'BackfillInProgress'
  | 'BackfillCompleted'
  | 'BackfillSuspended'
  | 'BackfillNotRequested'
  | 'StreamingContinued'
  | 'StreamingScheduled'
  | 'StreamScheduled'
  | 'StreamStarted'
  | 'StreamSuspended'
  | 'StreamResumed'
  | 'StreamingJobFailed'
  | 'NoValidBackend'
  | 'FailedCreateJob'
  | 'StreamRestarting'
  | 'InvalidSpec'
  | 'InvalidTemplate'
  | 'TemplateNotFound'
  | 'TemplateRollout';

/** A Kubernetes Event on the stream; the message always says why. */
export interface EventNote {
  eventType: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

/** One idempotent side effect, executed by an activity in list order. */
export type Action =
  /** Create the BackfillRequest with this deterministic name unless it exists. */
  | { type: 'createBackfillRequest'; name: string; initial: true }
  /** Set `spec.completed: true` on the request. */
  | { type: 'completeBackfillRequest'; name: string }
  /** Build the streaming Job from the current spec and template: create it when no Job exists, replace the existing one
   * only when its uid is `replaces` (so a retry after the replacement changes nothing), else leave it. */
  | { type: 'applyStreamingJob'; replaces?: string }
  /** Build the backfill Job for `request`, created or replacing as for the streaming Job. */
  | { type: 'applyBackfillJob'; request: string; replaces?: string }
  /**
   * Delete the Job with this uid (a precondition, so a newer Job is never deleted). A Job that `completed` has no pod
   * left running, so it goes at once instead of after its pods.
   */
  | { type: 'deleteJob'; uid: string; completed?: true }
  /**
   * Remove the operator's outcome finalizer from the Job with this uid: its outcome is recorded, it may go. A Job that
   * `completed` is deleted again in the Background, so that it goes at once even if it was deleted in the foreground.
   */
  | { type: 'releaseJob'; uid: string; completed?: true }
  /** Mark the request refused (`status.phase` Failed with this reason and message); it stays not completed. */
  | { type: 'refuseBackfillRequest'; name: string; reason: 'BackfillNotSupported'; message: string }
  /** Build the CronJob, created or replacing as for the streaming Job. */
  | { type: 'applyCronJob'; replaces?: string }
  | { type: 'deleteCronJob'; uid: string }
  /** Add our labels to a workload adopted from upstream (metadata only). */
  | { type: 'adoptJob'; uid: string }
  | { type: 'adoptCronJob'; uid: string }
  /** Write `status.phase`, `status.configurationHash` and the condition, all three. */
  | {
      type: 'writeStatus';
      phase: StreamPhase;
      configurationHash: string;
      conditionType: string;
      reason: string;
      message: string;
      observedGeneration: number;
    }
  | ({ type: 'recordEvent' } & EventNote);

/** What to do now: run `actions` in order, observe again and decide again until no actions, then sleep. */
export interface Decision {
  state: StreamState;
  actions: Action[];
  /** Epoch ms for a durable timer (restart backoff, re-checks); absent means wait for the next signal. */
  wakeAt?: number;
  /** The lifecycle is over (stream deleted or detached); only set together with no actions. */
  done?: boolean;
}

/** Tunables of the lifecycle; all durations in ms. */
export interface LifecycleConfig {
  /** First restart delay after a failure or a short completion. */
  restartBackoffInitialMs: number;
  restartBackoffFactor: number;
  restartBackoffCapMs: number;
  /** Automatic restarts after failures before the stream stays Failed; 0 keeps upstream's behaviour. */
  maxRestarts: number;
  /** A Job that ran this long resets the restart count. */
  stablePeriodMs: number;
  /** Re-observe after this long when waiting on something the watcher should also report (a template, a Job going away). */
  recheckMs: number;
  /** How many phase transitions the state keeps. */
  maxTransitions: number;
  /** Which revision of the lifecycle's behaviour decides: a workflow replays the histories of older revisions with the
   * revision they were recorded with (see the stream workflow's patch markers). */
  revision: LifecycleRevision;
}

/**
 * 1: the first release. 2: status written once per settled state and compared with what the stored object can show,
 * finished Jobs' outcomes read while they terminate, suspension wins over an invalid spec, a stream taken over in
 * Failed stays Failed, batch streams refuse backfills they cannot run, broken backfill templates fail only backfills.
 * 3: the step that starts the workload a phase runs writes that phase's status in the same round, right after it.
 * 4: the same decisions as 3; a wake's whole observe, decide and act loop runs inside one local activity.
 * 5: as 4, and a detached stream's Job is released from the operator's finalizer before the lifecycle ends.
 */
export type LifecycleRevision = 1 | 2 | 3 | 4 | 5;

export const defaultLifecycleConfig: LifecycleConfig = {
  restartBackoffInitialMs: 10_000,
  restartBackoffFactor: 2,
  restartBackoffCapMs: 600_000,
  maxRestarts: 5,
  stablePeriodMs: 600_000,
  recheckMs: 30_000,
  maxTransitions: 20,
  revision: 5,
};
