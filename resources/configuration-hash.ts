// The configuration hash of a stream's spec. md5 needs node:crypto, which workflow code may not use, so this module is
// kept out of the workflows: the activities compute the hash.
import { createHash } from 'node:crypto';
import { goJson, type JsonObject } from './go-json.ts';

/** Hex md5 of the spec as Go's encoding/json writes it: equal to the hash the upstream operator recorded. */
export function configurationHash(spec: JsonObject): string {
  return createHash('md5').update(goJson(spec), 'utf8').digest('hex');
}
