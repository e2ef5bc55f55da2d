// StreamingJobTemplate: a complete batch/v1 Job that a stream's Jobs are built from.
import { z } from 'zod';
import { parseWith, type Result } from './result.ts';

const stringMap = z.record(z.string(), z.string()).nullish();
const metadataSchema = z.looseObject({ labels: stringMap, annotations: stringMap }).nullish();

const envVarSchema = z.looseObject({ name: z.string().min(1) });

// Unknown fields are kept: the Job is passed to the API server as the plugin wrote it.
const containerSchema = z.looseObject({
  name: z.string().min(1),
  env: z.array(envVarSchema).nullish(),
  envFrom: z.array(z.looseObject({})).nullish(),
});

export const templateJobSchema = z.looseObject({
  apiVersion: z.literal('batch/v1'),
  // Upstream ignored the case of kind and its own examples say `job`; keep those templates working.
  kind: z.string().refine((kind) => kind.toLowerCase() === 'job', 'must be "Job"'),
  metadata: metadataSchema,
  spec: z.looseObject({
    template: z.looseObject({
      metadata: metadataSchema,
      spec: z.looseObject({ containers: z.array(containerSchema).min(1) }),
    }),
  }),
});

/** The Job inside a StreamingJobTemplate. */
export type TemplateJob = z.infer<typeof templateJobSchema>;
export type TemplateContainer = z.infer<typeof containerSchema>;
export type TemplateEnvVar = z.infer<typeof envVarSchema>;

export const streamingJobTemplateSchema = z
  .looseObject({
    metadata: z.looseObject({
      name: z.string().min(1),
      namespace: z.string().min(1),
      generation: z.number().int().nullish(),
    }),
    spec: templateJobSchema,
  })
  .transform(({ metadata, spec }) => ({
    name: metadata.name,
    namespace: metadata.namespace,
    /** Recorded on each Job so a template change rolls out (SPEC 2.9). */
    generation: metadata.generation ?? 0,
    job: spec,
  }));

export type StreamingJobTemplate = z.infer<typeof streamingJobTemplateSchema>;

export function parseStreamingJobTemplate(resource: unknown): Result<StreamingJobTemplate> {
  return parseWith(streamingJobTemplateSchema, 'InvalidTemplate', resource);
}
