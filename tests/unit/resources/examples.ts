// Example resources shaped as the API server returns them, one builder per kind, each call a fresh object.
import type { JsonObject } from '../../../resources/go-json.ts';
import type { StreamClass } from '../../../resources/stream-class.ts';
import type { Result } from '../../../resources/result.ts';
import { parseStreamingJobTemplate, type StreamingJobTemplate } from '../../../resources/streaming-job-template.ts';

export const NAMESPACE = 'streams';
export const UID = '6f1c2a4e-94b1-4b7e-9d0a-0c1f4f1e2d3c';

export function streamClass(secretRefs: string[] = []): StreamClass {
  return {
    name: 'mock-stream-v2',
    group: 'streaming.sneaksanddata.com',
    version: 'v1beta1',
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MockStreamV2',
    plural: 'mockstreamv2s',
    secretRefs,
  };
}

export function streamResource(spec: JsonObject, name = 'orders'): JsonObject {
  return {
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MockStreamV2',
    metadata: { name, namespace: NAMESPACE, uid: UID, generation: 3, resourceVersion: '42' },
    spec,
  };
}

export function v0Spec(overrides: JsonObject = {}): JsonObject {
  return {
    suspended: false,
    jobTemplateRef: { apiGroup: 'streaming.sneaksanddata.com', kind: 'StreamingJobTemplate', name: 'standard-job' },
    backfillJobTemplateRef: { name: 'large-job' },
    source: 'mssql://orders',
    ...overrides,
  };
}

export function executionSpec(execution: JsonObject, overrides: JsonObject = {}): JsonObject {
  return { execution, connectionStringRef: { name: 'sql-connection' }, source: 'mssql://orders', ...overrides };
}

export const changeCapture = { changeCaptureInterval: '15s', jobTemplateRef: { name: 'standard-job' } };
export const batch = { schedule: '*/5 * * * *', jobTemplateRef: { name: 'batch-job', namespace: 'templates' } };

export function templateResource(job: JsonObject = templateJob()): JsonObject {
  return {
    apiVersion: 'streaming.sneaksanddata.com/v1',
    kind: 'StreamingJobTemplate',
    metadata: { name: 'standard-job', namespace: NAMESPACE, generation: 7 },
    spec: job,
  };
}

const CONTAINERS: JsonObject[] = [
  {
    name: 'stream',
    image: 'ghcr.io/example/stream:1.0.0',
    env: [{ name: 'LOG_LEVEL', value: 'info' }],
    envFrom: [{ configMapRef: { name: 'stream-settings' } }],
  },
  { name: 'sidecar', image: 'ghcr.io/example/sidecar:1.0.0' },
];

/** A template Job with an init container and, unless given, a main container and a sidecar. */
export function templateJob(containers: JsonObject[] = CONTAINERS): JsonObject {
  return structuredClone({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { labels: { team: 'data' }, annotations: { 'owner.example.com/contact': 'data-team' } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { app: 'stream' } },
        spec: {
          restartPolicy: 'Never',
          initContainers: [{ name: 'init', image: 'busybox', env: [{ name: 'INIT', value: '1' }] }],
          containers,
        },
      },
    },
  });
}

export function template(job: JsonObject = templateJob()): StreamingJobTemplate {
  return unwrap(parseStreamingJobTemplate(templateResource(job)));
}

/** The value of a result the test expects to be ok; otherwise the test fails with the error. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.reason}: ${result.error.message}`);
  return result.value;
}
