// The STREAMCONTEXT__* environment plugins read (SPEC 3). Pure: no hashing here.
import type { BackfillRequest } from './backfill-request.ts';
import { goJson, type JsonObject } from './go-json.ts';

export const STREAM_ID_ENV = 'STREAMCONTEXT__STREAM_ID';
export const STREAM_KIND_ENV = 'STREAMCONTEXT__STREAM_KIND';
export const SPEC_ENV = 'STREAMCONTEXT__SPEC';
export const BACKFILL_ENV = 'STREAMCONTEXT__BACKFILL';
export const BACKFILL_ID_ENV = 'STREAMCONTEXT__BACKFILL_ID';
export const OVERRIDE_ENV = 'STREAMCONTEXT__OVERRIDE';

/** Value of STREAMCONTEXT__SPEC: the spec as Go wrote it (compact, keys sorted), so plugins see the same text. */
export function specJson(spec: JsonObject): string {
  return goJson(spec);
}

/** Value of STREAMCONTEXT__OVERRIDE: the request's spec in upstream's field order, optional fields only when set. */
export function overrideJson(
  request: Pick<BackfillRequest, 'streamClass' | 'streamId' | 'completed' | 'payload'>,
): string {
  const fields = [`"streamClass":${goJson(request.streamClass)}`, `"streamId":${goJson(request.streamId)}`];
  if (request.completed) fields.push('"completed":true');
  if (request.payload !== null) fields.push(`"payload":${goJson(request.payload)}`);
  return `{${fields.join(',')}}`;
}
