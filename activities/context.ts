// What every activity implementation runs with, and how it names the action it executes.
import type { Logger } from 'pino';
import type { Action } from '../workflows/lifecycle.ts';
import type { KubernetesApi } from './kubernetes.ts';

export interface ActivityContext {
  kube: KubernetesApi;
  /** A child logger carrying the stream's identity and the activity name. */
  log: Logger;
  /** Identifies this invocation across its retries (workflow run and activity id); '' outside a Temporal worker. */
  occurrence: string;
}

/** The lifecycle action an activity of the same name executes. */
export type ActionOf<T extends Action['type']> = Extract<Action, { type: T }>;
