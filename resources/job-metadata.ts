// Labels and annotations that tie Jobs and CronJobs to their stream (SPEC 3); plugins and clients rely on them.
export const STREAM_ID_LABEL = 'arcane/stream-id';
export const STREAM_KIND_LABEL = 'arcane/stream-kind';
export const BACKFILLING_LABEL = 'arcane/backfilling';

export const CONFIGURATION_HASH_ANNOTATION = 'configuration-hash';
// An annotation, not a label: class names can exceed the 63-character label value limit.
export const STREAM_CLASS_ANNOTATION = 'arcane.sneaksanddata.com/stream-class';
export const TEMPLATE_GENERATION_ANNOTATION = 'arcane.sneaksanddata.com/template-generation';
/** On the Jobs the operator runs: holds a finished Job (deleted by its TTL, say) until its outcome is recorded. */
export const OUTCOME_FINALIZER = 'arcane.sneaksanddata.com/outcome';
/** On a stream: `"true"` keeps its Job on the template generation it was built from. */
export const PIN_TEMPLATE_ANNOTATION = 'arcane.sneaksanddata.com/pin-template';

// The Job controller copies the Job name into the pod label job-name, and label values are at most 63 characters.
export const MAX_JOB_NAME_LENGTH = 63;
// The CronJob controller appends an 11-character suffix to name each Job it starts.
export const MAX_CRON_JOB_NAME_LENGTH = 52;
