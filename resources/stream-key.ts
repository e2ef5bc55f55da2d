// The name of one stream (its StreamClass, namespace and name): workflow ids, activities and the watcher start from it.

/** Which stream something is about; the stream workflow's id is derived from it (client/stream-id.ts). */
export interface StreamKey {
  /** Name of the StreamClass serving the stream's kind. */
  streamClass: string;
  namespace: string;
  name: string;
}
