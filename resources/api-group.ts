// Where the Arcane resources live in the Kubernetes API (SPEC 1).
export const ARCANE_GROUP = 'streaming.sneaksanddata.com';
export const ARCANE_VERSION = 'v1';
export const ARCANE_API_VERSION = `${ARCANE_GROUP}/${ARCANE_VERSION}`;

export const STREAM_CLASSES = { kind: 'StreamClass', plural: 'streamclasses' } as const;
export const STREAMING_JOB_TEMPLATES = { kind: 'StreamingJobTemplate', plural: 'streamingjobtemplates' } as const;
export const BACKFILL_REQUESTS = { kind: 'BackfillRequest', plural: 'backfillrequests' } as const;
