// BackfillRequest: a request to rerun a stream from scratch, and the deterministic name of the initial one.
import { z } from 'zod';
import { ARCANE_API_VERSION, BACKFILL_REQUESTS } from './api-group.ts';
import type { JsonObject } from './go-json.ts';
import { parseWith, type Result } from './result.ts';
import type { StreamKey } from './stream-key.ts';
import type { StreamRef } from './stream-ref.ts';
import { storedStatusSchema } from './stream-status.ts';

const jsonObjectSchema = z.custom<JsonObject>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be an object',
);

/** The condition reason of a request the operator refused because the stream cannot backfill. */
export const BACKFILL_NOT_SUPPORTED = 'BackfillNotSupported';

export const backfillRequestSchema = z
  .looseObject({
    metadata: z.looseObject({
      name: z.string().min(1),
      namespace: z.string().min(1),
      uid: z.string().nullish(),
      // Typed clients hand out a Date, custom object clients the RFC 3339 string.
      creationTimestamp: z.union([z.string(), z.date()]).nullish(),
    }),
    spec: z.looseObject({
      streamClass: z.string().min(1),
      streamId: z.string().min(1),
      completed: z.boolean().nullish(),
      payload: jsonObjectSchema.nullish(),
    }),
    // Only what says the operator refused the request is read from the status.
    status: storedStatusSchema,
  })
  .transform(({ metadata, spec, status }) => ({
    name: metadata.name,
    namespace: metadata.namespace,
    uid: metadata.uid ?? '',
    /** RFC 3339; open requests run oldest first. */
    createdAt:
      metadata.creationTimestamp instanceof Date
        ? metadata.creationTimestamp.toISOString()
        : (metadata.creationTimestamp ?? ''),
    streamClass: spec.streamClass,
    streamId: spec.streamId,
    completed: spec.completed ?? false,
    payload: spec.payload ?? null,
    /** The operator refused to run it (status phase Failed with reason BackfillNotSupported). */
    refused: status.phase === 'Failed' && status.conditions.some((c) => c.reason === BACKFILL_NOT_SUPPORTED),
  }));

export type BackfillRequest = z.infer<typeof backfillRequestSchema>;

export function parseBackfillRequest(resource: unknown): Result<BackfillRequest> {
  return parseWith(backfillRequestSchema, 'InvalidBackfillRequest', resource);
}

const MAX_NAME_LENGTH = 253;
const INITIAL_BACKFILL_INFIX = '-initial-backfill-';

// 32-bit FNV-1a over UTF-16 code units (a uid is ASCII): pure, so workflow code derives the same name on replay.
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** `<stream>-initial-backfill-<8 hex of the stream uid>`: one per stream incarnation, a valid DNS subdomain. */
export function initialBackfillRequestName(stream: Pick<StreamRef, 'name' | 'uid'>): string {
  const suffix = `${INITIAL_BACKFILL_INFIX}${fnv1a(stream.uid)}`;
  // Only names longer than any Job name can be cut; a label may not end in '.' or '-'.
  const prefix = stream.name.slice(0, MAX_NAME_LENGTH - suffix.length).replace(/[.-]+$/, '');
  return `${prefix}${suffix}`;
}

/** A new, open BackfillRequest for the stream, as sent to the API server: it names its stream by class and id only. */
export function newBackfillRequest(stream: StreamKey, name: string, payload?: JsonObject) {
  return {
    apiVersion: ARCANE_API_VERSION,
    kind: BACKFILL_REQUESTS.kind,
    metadata: { name, namespace: stream.namespace },
    spec: {
      streamClass: stream.streamClass,
      streamId: stream.name,
      completed: false,
      ...(payload === undefined ? {} : { payload }),
    },
  };
}
