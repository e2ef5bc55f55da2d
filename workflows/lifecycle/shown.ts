// Whether a notice from the watcher shows anything the lifecycle's latest observation does not already show.
import type { Observation, ObservedCronJob, ObservedJob } from './types.ts';
import { covers, newest, type ObjectVersions } from './versions.ts';

/** What a notice says the stream's Job or CronJob is now (null: gone). */
export type WorkloadNotice = { job: ObservedJob | null } | { cronJob: ObservedCronJob | null };

/** Equal as JSON values (key order aside): observations are plain data. */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((key) => (a as Record<string, unknown>)[key] !== undefined);
  const keysB = Object.keys(b).filter((key) => (b as Record<string, unknown>)[key] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** What one notice showed the workflow: the workload as the watcher saw it, and the versions of what changed. */
export interface NoticeContent {
  observed?: WorkloadNotice;
  versions?: ObjectVersions;
  /** Versions the next observation must be at least as new as; they say nothing about what is shown. */
  required?: ObjectVersions;
}

/** Whether `observation` already shows the workload exactly as `notice` does. */
function workloadShown(notice: WorkloadNotice, observation: Observation): boolean {
  if ('job' in notice) return sameData(notice.job ?? undefined, observation.job);
  return sameData(notice.cronJob ?? undefined, observation.cronJob);
}

/**
 * Whether `observation` already shows what the notice is about: the workload exactly as the notice shows it, or every
 * object it names at the version the notice saw or a newer one (the workflow's own writes coming back, mostly). A
 * notice that says neither (a timer, an update, a resync) always needs a look.
 */
export function alreadyShown(notice: NoticeContent | undefined, observation: Observation | undefined): boolean {
  if (notice === undefined || observation === undefined) return false;
  if (notice.observed !== undefined && workloadShown(notice.observed, observation)) return true;
  const { versions } = notice;
  return versions !== undefined && Object.keys(versions).length > 0 && covers(observation.versions, versions);
}

/** The versions an observation after these notices must be at least as new as: what was seen before, what each notice
 * showed and what each required. */
export function requiredAfter(notices: readonly (NoticeContent | undefined)[], seen: ObjectVersions): ObjectVersions {
  return notices.reduce((versions, notice) => newest(newest(versions, notice?.versions), notice?.required), seen);
}
