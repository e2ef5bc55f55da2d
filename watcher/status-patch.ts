// The status the watcher writes (StreamClasses, BackfillRequests it cannot route): a phase and one condition of the
// standard shape, merge-patched only when something changed; other conditions are kept as they are.

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

interface ObservedStatus {
  phase?: unknown;
  conditions?: unknown;
}

/** The `status` to merge-patch, or undefined when the object already shows `desired`. */
export function statusPatch(
  current: unknown,
  desired: DesiredStatus,
  generation: number,
  now: string,
): { phase: string; conditions: Condition[] } | undefined {
  const observed = (typeof current === 'object' && current !== null ? current : {}) as ObservedStatus;
  const conditions = Array.isArray(observed.conditions) ? (observed.conditions as Condition[]) : [];
  const { type, status, reason, message } = desired.condition;
  const previous = conditions.find((condition) => condition.type === type);
  const unchanged =
    observed.phase === desired.phase &&
    previous?.status === status &&
    previous.reason === reason &&
    previous.message === message &&
    previous.observedGeneration === generation;
  if (unchanged) return undefined;
  const condition: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now,
    observedGeneration: generation,
  };
  return { phase: desired.phase, conditions: [...conditions.filter((c) => c.type !== type), condition] };
}
