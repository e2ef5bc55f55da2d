// The status the watcher writes (StreamClasses, BackfillRequests it cannot route): a phase and one condition of the
// standard shape, merge-patched only when something changed; other conditions are kept as they are.
import { statusShows, transitionTime } from '../resources/status-write.ts';
import { readStoredStatus, type StoredCondition } from '../resources/stream-status.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface DesiredStatus {
  phase: string;
  condition: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;
}

/**
 * The `status` to merge-patch, or undefined when the object already shows `desired`. The operator's own CRDs keep
 * every condition field, so a field the stored condition lacks is one to write.
 */
export function statusPatch(
  current: unknown,
  desired: DesiredStatus,
  generation: number,
  now: string,
): { phase: string; conditions: (StoredCondition | Condition)[] } | undefined {
  const { phase, conditions } = readStoredStatus(current);
  const { type, status, reason, message } = desired.condition;
  const previous = conditions.find((condition) => condition.type === type);
  const write = { phase: desired.phase, condition: { ...desired.condition, observedGeneration: generation } };
  if (statusShows({ phase, condition: previous }, write, [])) return undefined;
  const condition: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime: transitionTime(previous, status, now),
    observedGeneration: generation,
  };
  return { phase: desired.phase, conditions: [...conditions.filter((c) => c.type !== type), condition] };
}
