// What every activity implementation runs with, and how it names the action it executes.
import type { Logger } from 'pino';
import type { StreamKey } from '../resources/stream-key.ts';
import type { Action } from '../workflows/lifecycle.ts';
import type { KubernetesApi } from './kubernetes.ts';

export interface ActivityContext {
  kube: KubernetesApi;
  /** A child logger carrying the stream's identity and the activity name. */
  log: Logger;
  /** Identifies this invocation across its retries (workflow run and activity id); '' outside a Temporal worker. */
  occurrence: string;
  /**
   * Resolves true once the worker's cache sees the stream's workload of this resource (`jobs.batch`, `cronjobs.batch`)
   * and uid go, false if it is still there after a while (ActivityOptions.workloadGoneWaitMs). Waiting on it costs no
   * API call. Absent without a cache.
   */
  workloadGone?(resource: string, stream: StreamKey, uid: string): Promise<boolean>;
}

/** The lifecycle action an activity of the same name executes. */
export type ActionOf<T extends Action['type']> = Extract<Action, { type: T }>;
