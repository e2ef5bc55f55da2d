// What changed between two versions of an object, and whether a stream workflow needs to hear about it. Status-only
// updates are not forwarded: the workflow writes stream status itself, so forwarding them would be a feedback loop.
import type { WatchedObject } from '../kubernetes/informer.ts';
import {
  BACKFILLING_LABEL,
  CONFIGURATION_HASH_ANNOTATION,
  PIN_TEMPLATE_ANNOTATION,
  STREAM_CLASS_ANNOTATION,
  TEMPLATE_GENERATION_ANNOTATION,
} from '../resources/job-metadata.ts';

export interface Change {
  forward: boolean;
  /** Why, for the signal's notice or the log: `generation 2 -> 3`, `status only`. */
  reason: string;
}

// The objects the informers hand out (raw JSON: timestamps are strings), named here for the watcher's modules.
export type { WatchedObject };

const STREAM_ANNOTATIONS = [PIN_TEMPLATE_ANNOTATION];
const WORKLOAD_ANNOTATIONS = [CONFIGURATION_HASH_ANNOTATION, TEMPLATE_GENERATION_ANNOTATION];

function identityChange(previous: WatchedObject, current: WatchedObject): string | undefined {
  const before = previous.metadata ?? {};
  const after = current.metadata ?? {};
  if (before.uid !== after.uid) return `recreated (uid ${after.uid ?? '?'})`;
  if (!before.deletionTimestamp && after.deletionTimestamp) return 'deletion requested';
  if ((before.generation ?? 0) !== (after.generation ?? 0)) {
    return `generation ${before.generation ?? 0} -> ${after.generation ?? 0}`;
  }
  return undefined;
}

function annotationChange(previous: WatchedObject, current: WatchedObject, keys: string[]): string | undefined {
  for (const key of keys) {
    const before = previous.metadata?.annotations?.[key];
    const after = current.metadata?.annotations?.[key];
    if (before !== after)
      return `annotation ${key} ${JSON.stringify(before ?? null)} -> ${JSON.stringify(after ?? null)}`;
  }
  return undefined;
}

function created(current: WatchedObject): Change {
  return { forward: true, reason: `created (generation ${current.metadata?.generation ?? 0})` };
}

/** The object is gone: always worth a wake-up. */
export const deletion: Change = { forward: true, reason: 'deleted' };

const unchanged: Change = { forward: false, reason: 'status or unrelated metadata only' };

function firstChange(...reasons: (string | undefined)[]): Change {
  const reason = reasons.find((r) => r !== undefined);
  return reason === undefined ? unchanged : { forward: true, reason };
}

/** A stream: forwarded on uid, generation, deletion or the pin-template annotation. */
export function streamChange(previous: WatchedObject | undefined, current: WatchedObject): Change {
  if (!previous) return created(current);
  return firstChange(identityChange(previous, current), annotationChange(previous, current, STREAM_ANNOTATIONS));
}

/** A StreamingJobTemplate: its Job is its spec, so uid, generation and deletion say everything. */
export function templateChange(previous: WatchedObject | undefined, current: WatchedObject): Change {
  if (!previous) return created(current);
  return firstChange(identityChange(previous, current));
}

export function isCompletedRequest(request: WatchedObject | undefined): boolean {
  const spec = request?.spec as { completed?: unknown } | undefined;
  return spec?.completed === true;
}

/**
 * A BackfillRequest: forwarded when an open request appears or its spec changes. A request being marked completed is
 * not forwarded, because the workflow marked it so itself.
 */
export function backfillRequestChange(previous: WatchedObject | undefined, current: WatchedObject): Change {
  if (isCompletedRequest(current) && (previous === undefined || isCompletedRequest(previous))) {
    return { forward: false, reason: 'completed request' };
  }
  if (!previous) return created(current);
  if (isCompletedRequest(current)) return { forward: false, reason: 'request completed' };
  return firstChange(identityChange(previous, current));
}

/** Fields of a workload's observation that say when something happened, not what: not worth a wake on their own. */
const TIMES: readonly string[] = ['startTime', 'finishTime'];

/** A field's value for a reason: flags, counts and the Job's state as they are, any other text only as "changed". */
function shown(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  return typeof value === 'string' && value.length > 16 ? 'changed' : JSON.stringify(value);
}

/**
 * The first field, other than its times, in which two observations of a workload (what the lifecycle decides on)
 * differ: `state "active" -> "complete"`. The Job's pod counts, readiness and the like are not in an observation.
 */
function observedChange(before: object, after: object): string | undefined {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (TIMES.includes(key) || JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    return `${key} ${shown(a[key])} -> ${shown(b[key])}`;
  }
  return undefined;
}

/**
 * A Job or CronJob named after a stream: forwarded on its identity, our annotations and labels, or a change in how the
 * lifecycle observes it (`observe`: for a Job, whether it runs, completed or failed, is terminating or held). A Job's
 * pods starting, getting ready or going, and a CronJob's runs, change nothing the lifecycle decides on.
 */
export function workloadChange(
  previous: WatchedObject | undefined,
  current: WatchedObject,
  observe: (workload: WatchedObject) => object,
): Change {
  // A workload that names its StreamClass was made by this operator, that is by its stream's own workflow, whose
  // observation after making it already shows it: hearing that it appeared would cost the workflow a wake for nothing.
  // (A Job of the upstream operator names no class; adopting it is an update, forwarded as any other.)
  if (!previous && current.metadata?.annotations?.[STREAM_CLASS_ANNOTATION] !== undefined) {
    return { forward: false, reason: 'made by this operator' };
  }
  if (!previous) return created(current);
  const backfilling = (object: WatchedObject) => object.metadata?.labels?.[BACKFILLING_LABEL];
  return firstChange(
    identityChange(previous, current),
    annotationChange(previous, current, WORKLOAD_ANNOTATIONS),
    backfilling(previous) === backfilling(current) ? undefined : `label ${BACKFILLING_LABEL} changed`,
    observedChange(observe(previous), observe(current)),
  );
}
