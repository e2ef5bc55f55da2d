// The full identity of one stream object, as Jobs built for it need it (owner reference, labels).
import type { StreamKey } from './stream-key.ts';

/** A stream's key together with what the stored object says about its kind and incarnation. */
export interface StreamRef extends StreamKey {
  /** `group/version` of the stream resource. */
  apiVersion: string;
  kind: string;
  uid: string;
}
