// The stream workflow's message API: signals from the watcher, public updates and the state query (SPEC 5).
// Clients import these same definitions; see client/ for typed helpers.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { StreamKey } from '../resources/stream-key.ts';
import type {
  LifecycleConfig,
  LifecycleRevision,
  ObjectVersions,
  StreamPhase,
  StreamState,
  Transition,
  WorkloadNotice,
} from './lifecycle.ts';

/** The lifecycle revision new runs decide with: what the watcher and continue-as-new put in a run's input. */
export const LATEST_LIFECYCLE_REVISION: LifecycleRevision = 5;

export interface StreamWorkflowInput {
  stream: StreamKey;
  /**
   * The lifecycle revision the run decides with, fixed by whoever starts it: the watcher, and continue-as-new, name
   * the latest. Runs started without it (before it existed, or by another client) find their revision in their
   * history instead: a patch marker, which costs every such run a marker and a search attribute write.
   */
  lifecycleRevision?: LifecycleRevision;
  /** Overrides of the lifecycle tunables (tests use short backoffs). */
  lifecycle?: Partial<LifecycleConfig>;
  /** Continue-as-new past this many history events even if the server does not suggest it. */
  maxHistoryEvents?: number;
  /** State carried over by continue-as-new. */
  carried?: CarriedState;
}

export interface CarriedState {
  state: StreamState;
  /** Inputs received but not yet handled when the previous run continued as new. */
  wakeReasons: string[];
  ended?: 'deleted' | 'detached';
  /** The versions the previous run's last observation was read at: the next run's observations show at least these. */
  versions?: ObjectVersions;
}

/** Why the watcher woke the workflow; the workflow re-observes the cluster unless the notice shows nothing new. */
export interface Notice {
  /** e.g. `stream ADDED generation 3`, `job MODIFIED`, `template MODIFIED generation 2` */
  reason: string;
  /** The workload as the watcher saw it (null: gone), observed as the lifecycle observes it. When the workflow's
   * latest observation already shows exactly this (its own write coming back, say), it need not look again. */
  observed?: ObservedWorkload;
  /** The resourceVersion of each object the notice is about (keys: `versionKey`), as the watcher saw it. When the
   * latest observation was read at these or newer, it need not look again; a cached read must be at least this new. */
  versions?: ObjectVersions;
  /** Versions the workflow's next observation must be at least as new as, without saying that nothing else changed
   * (a resync: something the watcher did not see may have). A cache that is behind them is not read. */
  required?: ObjectVersions;
}

/** The stream's Job or CronJob as one notice shows it. */
export type ObservedWorkload = WorkloadNotice;

// Watcher -> workflow.
export const streamObservedSignal = defineSignal<[Notice]>('streamObserved');
export const resyncSignal = defineSignal<[Notice]>('resync');
export const jobObservedSignal = defineSignal<[Notice]>('jobObserved');
export const backfillRequestObservedSignal = defineSignal<[Notice]>('backfillRequestObserved');
export const templateObservedSignal = defineSignal<[Notice]>('templateObserved');
/** The stream object is gone: the workflow looks, deletes its workloads and completes. */
export const deletedSignal = defineSignal<[Notice]>('deleted');
/** The stream's StreamClass is gone or serves another kind: the workflow looks, and when the class no longer serves
 * the kind it first saw the stream as, completes without touching anything. */
export const detachedSignal = defineSignal<[Notice]>('detached');

/** What a `suspend`, `resume` or `restart` update answers once accepted. */
export interface UpdateAccepted {
  phase: StreamPhase;
  message: string;
}

export interface BackfillUpdateInput {
  /** Kept as `spec.payload` of the BackfillRequest. */
  payload?: Record<string, unknown>;
}

export interface BackfillUpdateResult {
  /** The BackfillRequest that will run. */
  name: string;
  /** False when an open request already existed and is returned instead. */
  created: boolean;
}

export const suspendUpdate = defineUpdate<UpdateAccepted>('suspend');
export const resumeUpdate = defineUpdate<UpdateAccepted>('resume');
export const backfillUpdate = defineUpdate<BackfillUpdateResult, [BackfillUpdateInput]>('backfill');
export const restartUpdate = defineUpdate<UpdateAccepted>('restart');

/** The `state` query: what a person or a service wants to know about the stream. */
export interface StreamStatus {
  stream: StreamKey;
  phase: StreamPhase;
  reason: string;
  message: string;
  configurationHash: string;
  job?: { name: string; uid: string; backfilling: boolean; state: string };
  cronJob?: { name: string; uid: string };
  openBackfillRequests: string[];
  restartCount: number;
  nextRestartAt?: string;
  lastError?: { reason: string; message: string; at: string };
  transitions: Transition[];
  ended?: 'deleted' | 'detached';
}

export const stateQuery = defineQuery<StreamStatus>('state');
