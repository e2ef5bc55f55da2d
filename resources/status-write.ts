// Whether a status write would change what the API server stores: one rule for the lifecycle's decision, the status
// activity that writes a stream's status, and the watcher's writes (StreamClasses, BackfillRequests). Pure, so
// workflow code may import it.

/** One condition as stored; a field is absent when the stored object lacks it. */
export interface ShownCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

/** The part of a stored status a write sets. */
export interface ShownStatus {
  phase?: string;
  configurationHash?: string;
  /** The condition the write would replace; the caller picks it (see statusShows). */
  condition?: ShownCondition;
}

/** What one write sets: the phase, the configuration hash (streams only) and one condition. */
export interface StatusWrite {
  phase: string;
  configurationHash?: string;
  /** A field left undefined is not part of this comparison (the lifecycle's observation has no condition status). */
  condition: { type: string; status?: string; reason: string; message: string; observedGeneration: number };
}

export type ConditionField = 'status' | 'reason' | 'message' | 'observedGeneration';

/**
 * The condition fields a plugin's status schema may drop: production plugins keep only type, status and message of a
 * condition (and the phase), and the API server prunes the rest.
 */
export const PRUNED_BY_PLUGINS: readonly ConditionField[] = ['reason', 'observedGeneration'];

const conditionFields: readonly ConditionField[] = ['status', 'reason', 'message', 'observedGeneration'];

/**
 * Whether `shown` already shows `write`, so writing it would change nothing the API server keeps.
 *
 * `prunable` names the condition fields the object's schema may drop. When the stored condition lacks one of those,
 * the schema pruned it: writing it stores nothing new, so it is not compared (comparing it would rewrite the status
 * forever). Any other field the stored object lacks counts as different. Streams of plugins pass PRUNED_BY_PLUGINS;
 * the watcher passes none, since the operator's own CRDs keep every field.
 *
 * `shown.condition` is the condition the write replaces: the lifecycle passes the stream's first condition, the
 * status activity the only one (its merge patch replaces the whole list, so any other condition is a change), the
 * watcher the one of the written type (its patch keeps the others).
 */
export function statusShows(shown: ShownStatus, write: StatusWrite, prunable: readonly ConditionField[]): boolean {
  const { condition } = shown;
  if (shown.phase !== write.phase || condition?.type !== write.condition.type) return false;
  if (write.configurationHash !== undefined && (shown.configurationHash ?? '') !== write.configurationHash) {
    return false;
  }
  return conditionFields.every((field) => {
    const wanted = write.condition[field];
    const stored = condition[field];
    return wanted === undefined || stored === wanted || (stored === undefined && prunable.includes(field));
  });
}

/** As meta.SetStatusCondition: a condition's transition time moves only when its status does. */
export function transitionTime(
  previous: (ShownCondition & { lastTransitionTime?: string }) | undefined,
  status: string,
  now: string,
): string {
  return previous?.status === status && previous.lastTransitionTime !== undefined ? previous.lastTransitionTime : now;
}
