/** Identity of one stream: the resource a workflow is about. */
export interface StreamRef {
  /** Name of the StreamClass serving the stream's kind. */
  streamClass: string;
  /** `group/version` of the stream resource. */
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}
