// Whether a notice from the watcher shows anything the lifecycle's latest observation does not already show.
import type { Observation, ObservedCronJob, ObservedJob } from './types.ts';

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

/** Whether `observation` already shows the workload exactly as `notice` does. */
export function alreadyShown(notice: WorkloadNotice | undefined, observation: Observation | undefined): boolean {
  if (notice === undefined || observation === undefined) return false;
  if ('job' in notice) return sameData(notice.job ?? undefined, observation.job);
  return sameData(notice.cronJob ?? undefined, observation.cronJob);
}
