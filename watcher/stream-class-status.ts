// StreamClass status as a pure decision: which class serves which kind, the phase and condition that follow from
// its informer's health, the status patch (none when nothing changed) and the Events for each transition.
import type { SourceHealth } from '../kubernetes/informer.ts';
import type { Result } from '../resources/result.ts';
import type { StreamClass } from '../resources/stream-class.ts';
import type { DesiredStatus } from './status-patch.ts';

export interface ObservedClass {
  name: string;
  /** RFC 3339 creation time: the older of two classes for one kind keeps it. */
  createdAt: string;
  parsed: Result<StreamClass>;
}

export interface ClassFailure {
  reason: string;
  message: string;
}

export type ClassAssignment = { serves: StreamClass } | { failure: ClassFailure };

// What serving a class's kind looks like to its informer.
export type { SourceHealth };

export type ClassPhase = 'Pending' | 'Ready' | 'Failed';

export interface DesiredClassStatus {
  phase: ClassPhase;
  reason: string;
  message: string;
}

export function resourceName(streamClass: StreamClass): string {
  return `${streamClass.plural}.${streamClass.group}`;
}

function validate(observed: ObservedClass): Result<StreamClass> {
  if (!observed.parsed.ok) return observed.parsed;
  if (observed.parsed.value.group === '') {
    const message = 'spec.apiGroupRef is required: stream kinds are custom resources in an API group';
    return { ok: false, error: { reason: 'InvalidStreamClass', field: 'spec.apiGroupRef', message } };
  }
  return observed.parsed;
}

/**
 * Each class either serves its kind or fails. When two classes name the same kind (or the same resource), the older
 * class serves it and the newer one fails, so creating a second class never takes streams away from the first.
 */
export function assignClasses(classes: readonly ObservedClass[]): Map<string, ClassAssignment> {
  const assignments = new Map<string, ClassAssignment>();
  const owners = new Map<string, string>();
  const ordered = [...classes].sort((a, b) =>
    a.createdAt === b.createdAt ? a.name.localeCompare(b.name) : a.createdAt.localeCompare(b.createdAt),
  );
  for (const observed of ordered) {
    const parsed = validate(observed);
    if (!parsed.ok) {
      assignments.set(observed.name, { failure: { reason: 'InvalidStreamClass', message: parsed.error.message } });
      continue;
    }
    const streamClass = parsed.value;
    const claims = [`kind ${streamClass.group}/${streamClass.kind}`, `resource ${resourceName(streamClass)}`];
    const owner = claims.map((claim) => owners.get(claim)).find((name) => name !== undefined);
    if (owner !== undefined) {
      const message = `kind ${streamClass.kind} (${resourceName(streamClass)}) is already served by StreamClass ${owner}`;
      assignments.set(observed.name, { failure: { reason: 'KindAlreadyServed', message } });
      continue;
    }
    for (const claim of claims) owners.set(claim, observed.name);
    assignments.set(observed.name, { serves: streamClass });
  }
  return assignments;
}

/**
 * The status a class should show, or undefined while its informer cannot tell. It cannot tell during an outage, and
 * while its first list is still running for a class that already shows a phase: a restarted watcher must not turn
 * Ready classes back to Pending just because it has not listed yet.
 */
export function desiredClassStatus(
  assignment: ClassAssignment,
  health: SourceHealth | undefined,
  shownPhase: string,
): DesiredClassStatus | undefined {
  if ('failure' in assignment) return { phase: 'Failed', ...assignment.failure };
  const served = assignment.serves;
  const resource = `${resourceName(served)}/${served.version}`;
  if (health?.state === 'failing') {
    const code = health.error?.code;
    if (code === 404) {
      return {
        phase: 'Failed',
        reason: 'CustomResourceDefinitionNotFound',
        message: `the API server does not serve ${resource} (kind ${served.kind}): install the plugin's CRD; checking again with backoff`,
      };
    }
    if (code === 403) {
      return {
        phase: 'Failed',
        reason: 'Forbidden',
        message: `the watcher may not list and watch ${resourceName(served)}: grant its ServiceAccount "list" and "watch" on "${served.plural}"`,
      };
    }
    return undefined;
  }
  if (health?.everSynced) {
    return { phase: 'Ready', reason: 'StreamClassReady', message: `serving kind ${served.kind} (${resource})` };
  }
  if (shownPhase !== '') return undefined;
  return { phase: 'Pending', reason: 'StreamClassPending', message: `waiting for the first list of ${resource}` };
}

/** The class's phase and Ready condition as the status to write. */
export function classStatus(desired: DesiredClassStatus): DesiredStatus {
  const status = desired.phase === 'Ready' ? 'True' : 'False';
  return {
    phase: desired.phase,
    condition: { type: 'Ready', status, reason: desired.reason, message: desired.message },
  };
}

export interface ClassEvent {
  type: 'Normal' | 'Warning';
  reason: 'StreamClassCreated' | 'StreamClassReady' | 'StreamClassRecovered' | 'StreamControllerError';
  message: string;
}

/** Events for the move from the phase the class shows to the desired one (upstream's reasons). */
export function classTransitionEvents(
  className: string,
  previousPhase: string,
  desired: DesiredClassStatus,
): ClassEvent[] {
  const events: ClassEvent[] = [];
  if (previousPhase === '') {
    events.push({ type: 'Normal', reason: 'StreamClassCreated', message: `StreamClass ${className} is handled` });
  }
  if (desired.phase === 'Ready' && previousPhase !== 'Ready') {
    events.push(
      previousPhase === 'Failed'
        ? { type: 'Normal', reason: 'StreamClassRecovered', message: `recovered: ${desired.message}` }
        : { type: 'Normal', reason: 'StreamClassReady', message: desired.message },
    );
  }
  if (desired.phase === 'Failed' && previousPhase !== 'Failed') {
    events.push({ type: 'Warning', reason: 'StreamControllerError', message: `${desired.reason}: ${desired.message}` });
  }
  return events;
}
