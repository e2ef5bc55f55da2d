// The resourceVersions behind an observation and behind a notice. A notice about nothing newer than what the latest
// observation was read at shows nothing new; a read from a cache must be at least as new as what the workflow has seen.
// Pure: used by the workflow, the activities and the watcher.

/** An object's resourceVersion by `versionKey`, for the objects of one stream. */
export type ObjectVersions = Record<string, string>;

/** How each object a stream is made of is named in ObjectVersions. */
export const versionKey = {
  streamClass: 'streamClass',
  stream: 'stream',
  job: 'job',
  cronJob: 'cronJob',
  template: (namespace: string, name: string) => `template/${namespace}/${name}`,
  backfillRequest: (name: string) => `backfillRequest/${name}`,
} as const;

const DECIMAL = /^[1-9]\d{0,30}$/;

/**
 * How two resourceVersions of one resource compare (negative, 0, positive), or undefined when either is not the
 * decimal an etcd-backed API server writes: then nothing can be said, and whoever asks must look for themselves.
 */
export function compareVersions(a: string, b: string): number | undefined {
  if (!DECIMAL.test(a) || !DECIMAL.test(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `version` is `required` or newer. */
export function atLeast(version: string | undefined, required: string): boolean {
  if (version === undefined) return false;
  const order = compareVersions(version, required);
  return order !== undefined && order >= 0;
}

/** Whether `seen` holds every object of `required` at its version or newer (nothing required: yes). */
export function covers(seen: ObjectVersions | undefined, required: ObjectVersions | undefined): boolean {
  return Object.entries(required ?? {}).every(([key, version]) => atLeast(seen?.[key], version));
}

/** Each object's newer version of the two (of two that cannot be compared, the later argument's). */
export function newest(older: ObjectVersions | undefined, newer: ObjectVersions | undefined): ObjectVersions {
  const merged: ObjectVersions = { ...older };
  for (const [key, version] of Object.entries(newer ?? {})) {
    if (!atLeast(merged[key], version)) merged[key] = version;
  }
  return merged;
}
