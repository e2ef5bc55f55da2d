// The three spec layouts of plugin streams (SPEC 1), each read into one backend: Job, CronJob or none.
import { z } from 'zod';
import { fail, ok, parseWith, type Result } from './result.ts';

/** A StreamingJobTemplate to look up, namespace resolved. */
export interface TemplateRef {
  name: string;
  namespace: string;
  /** Where to look when `namespace` has no such template (v0 backfill templates, as upstream looked there). */
  fallbackNamespace?: string;
}

export type Backend =
  | { kind: 'job'; jobTemplateRef: TemplateRef; backfillJobTemplateRef: TemplateRef }
  | { kind: 'cronjob'; schedule: string; jobTemplateRef: TemplateRef; backfillJobTemplateRef: TemplateRef | null }
  | { kind: 'none' };

export type Layout = 'v0' | 'v1' | 'v2';

export interface StreamExecution {
  layout: Layout;
  suspended: boolean;
  backend: Backend;
}

/** Namespaces to search for the template, in order. */
export function templateCandidates(ref: TemplateRef): { name: string; namespace: string }[] {
  const candidates = [{ name: ref.name, namespace: ref.namespace }];
  if (ref.fallbackNamespace !== undefined) candidates.push({ name: ref.name, namespace: ref.fallbackNamespace });
  return candidates;
}

const objectReference = z.looseObject({ name: z.string().min(1), namespace: z.string().nullish() });
type ObjectReference = z.infer<typeof objectReference>;

const suspended = z.boolean().nullish();
const batchBackend = z.looseObject({ schedule: z.string().min(1), jobTemplateRef: objectReference }).nullish();

// Each schema reads the whole object so error paths start at `spec`.
const layoutSchema = z.looseObject({
  spec: z.looseObject({
    execution: z.looseObject({ layoutVersion: z.enum(['', 'v1', 'v2']).nullish() }).nullish(),
  }),
});

const v0Schema = z.looseObject({
  spec: z.looseObject({ suspended, jobTemplateRef: objectReference, backfillJobTemplateRef: objectReference }),
});

const v1Schema = z.looseObject({
  spec: z.looseObject({
    execution: z.looseObject({
      suspended,
      backfillJobTemplateRef: objectReference.nullish(),
      streamingBackend: z
        .looseObject({
          changeCapture: z.looseObject({ jobTemplateRef: objectReference }).nullish(),
          batch: batchBackend,
        })
        .nullish(),
    }),
  }),
});

const v2Schema = z.looseObject({
  spec: z.looseObject({
    execution: z.looseObject({
      suspended,
      streamingBackend: z
        .looseObject({
          changeCapture: z
            .looseObject({ jobTemplateRef: objectReference, backfillJobTemplateRef: objectReference.nullish() })
            .nullish(),
          batch: batchBackend,
        })
        .nullish(),
    }),
  }),
});

function resolve(ref: ObjectReference, namespace: string): TemplateRef {
  return { name: ref.name, namespace: ref.namespace || namespace };
}

function fromV0(stream: unknown, namespace: string): Result<StreamExecution> {
  const parsed = parseWith(v0Schema, 'InvalidSpec', stream);
  if (!parsed.ok) return parsed;
  const spec = parsed.value.spec;
  const jobTemplateRef = resolve(spec.jobTemplateRef, namespace);
  const backfillJobTemplateRef = resolve(spec.backfillJobTemplateRef, namespace);
  if (backfillJobTemplateRef.namespace !== jobTemplateRef.namespace) {
    backfillJobTemplateRef.fallbackNamespace = jobTemplateRef.namespace;
  }
  return ok({
    layout: 'v0',
    suspended: spec.suspended ?? false,
    backend: { kind: 'job', jobTemplateRef, backfillJobTemplateRef },
  });
}

interface BackendRefs {
  changeCapture: { jobTemplateRef: ObjectReference } | null;
  batch: { schedule: string; jobTemplateRef: ObjectReference } | null;
  backfill: ObjectReference | null;
  /** Where a Job backend's backfill template belongs in this layout. */
  backfillField: string;
}

// Batch wins when both backends are set; a null backend counts as absent.
function chooseBackend(refs: BackendRefs, namespace: string): Result<Backend> {
  const backfillJobTemplateRef = refs.backfill && resolve(refs.backfill, namespace);
  if (refs.batch) {
    const { schedule, jobTemplateRef } = refs.batch;
    return ok({
      kind: 'cronjob',
      schedule,
      jobTemplateRef: resolve(jobTemplateRef, namespace),
      backfillJobTemplateRef,
    });
  }
  if (refs.changeCapture) {
    if (!backfillJobTemplateRef)
      return fail('InvalidSpec', refs.backfillField, 'is required for a changeCapture backend');
    return ok({
      kind: 'job',
      jobTemplateRef: resolve(refs.changeCapture.jobTemplateRef, namespace),
      backfillJobTemplateRef,
    });
  }
  return ok({ kind: 'none' });
}

function fromV1(stream: unknown, namespace: string): Result<StreamExecution> {
  const parsed = parseWith(v1Schema, 'InvalidSpec', stream);
  if (!parsed.ok) return parsed;
  const execution = parsed.value.spec.execution;
  const backend = chooseBackend(
    {
      changeCapture: execution.streamingBackend?.changeCapture ?? null,
      batch: execution.streamingBackend?.batch ?? null,
      backfill: execution.backfillJobTemplateRef ?? null,
      backfillField: 'spec.execution.backfillJobTemplateRef',
    },
    namespace,
  );
  return backend.ok ? ok({ layout: 'v1', suspended: execution.suspended ?? false, backend: backend.value }) : backend;
}

function fromV2(stream: unknown, namespace: string): Result<StreamExecution> {
  const parsed = parseWith(v2Schema, 'InvalidSpec', stream);
  if (!parsed.ok) return parsed;
  const execution = parsed.value.spec.execution;
  const changeCapture = execution.streamingBackend?.changeCapture ?? null;
  const backend = chooseBackend(
    {
      changeCapture,
      batch: execution.streamingBackend?.batch ?? null,
      backfill: changeCapture?.backfillJobTemplateRef ?? null,
      backfillField: 'spec.execution.streamingBackend.changeCapture.backfillJobTemplateRef',
    },
    namespace,
  );
  return backend.ok ? ok({ layout: 'v2', suspended: execution.suspended ?? false, backend: backend.value }) : backend;
}

/** Reads layout, suspension and backend from a stream resource (`{spec}` at least) in `namespace`. */
export function parseStreamExecution(stream: unknown, namespace: string): Result<StreamExecution> {
  const layout = parseWith(layoutSchema, 'InvalidSpec', stream);
  if (!layout.ok) return layout;
  switch (layout.value.spec.execution?.layoutVersion) {
    case 'v1':
      return fromV1(stream, namespace);
    case 'v2':
      return fromV2(stream, namespace);
    default:
      return fromV0(stream, namespace);
  }
}
