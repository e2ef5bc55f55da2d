// StreamClass: which plugin kind is a stream, and which of its spec fields name secrets for the Job.
import { z } from 'zod';
import { parseWith, type Result } from './result.ts';

export const streamClassSchema = z
  .looseObject({
    metadata: z.looseObject({ name: z.string().min(1) }),
    spec: z.looseObject({
      apiGroupRef: z.string().nullish(),
      apiVersion: z.string().min(1),
      kindRef: z.string().min(1),
      pluralName: z.string().min(1),
      secretRefs: z.array(z.string().min(1)).nullish(),
    }),
  })
  .transform(({ metadata, spec }) => {
    const group = spec.apiGroupRef ?? '';
    return {
      name: metadata.name,
      group,
      version: spec.apiVersion,
      /** `group/version` as it appears in a stream's apiVersion. */
      apiVersion: group === '' ? spec.apiVersion : `${group}/${spec.apiVersion}`,
      kind: spec.kindRef,
      plural: spec.pluralName,
      /** Names of stream spec fields holding `{name: <secret>}`. */
      secretRefs: spec.secretRefs ?? [],
    };
  });

export type StreamClass = z.infer<typeof streamClassSchema>;

export function parseStreamClass(resource: unknown): Result<StreamClass> {
  return parseWith(streamClassSchema, 'InvalidStreamClass', resource);
}
