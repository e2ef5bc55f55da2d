// Bad input is an error value naming the field and saying what is wrong (SPEC 6), never an exception.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBackfillRequest } from '../../../resources/backfill-request.ts';
import type { JsonObject } from '../../../resources/go-json.ts';
import type { ErrorReason, Result } from '../../../resources/result.ts';
import { parseStreamClass } from '../../../resources/stream-class.ts';
import { parseStreamDefinition } from '../../../resources/stream-definition.ts';
import { parseStreamingJobTemplate } from '../../../resources/streaming-job-template.ts';
import {
  batch,
  changeCapture,
  executionSpec,
  streamClass,
  streamResource,
  templateJob,
  templateResource,
  v0Spec,
} from './examples.ts';

interface BrokenInput {
  name: string;
  parse: () => Result<unknown>;
  reason: ErrorReason;
  field: string;
  message: string;
}

const SECRET_HINT = '(StreamClass mock-stream-v2 lists it in secretRefs as a field holding {name: <secret>})';

function stream(spec: JsonObject, name?: string, secretRefs: string[] = []) {
  return () => parseStreamDefinition(streamResource(spec, name), streamClass(secretRefs));
}

function v1(streamingBackend: JsonObject, extra: JsonObject = {}) {
  return executionSpec({
    layoutVersion: 'v1',
    backfillJobTemplateRef: { name: 'large-job' },
    streamingBackend,
    ...extra,
  });
}

function v2(streamingBackend: JsonObject, extra: JsonObject = {}) {
  return executionSpec({ layoutVersion: 'v2', streamingBackend, ...extra });
}

function job(change: (job: JsonObject) => void) {
  const value = templateJob();
  change(value);
  return () => parseStreamingJobTemplate(templateResource(value));
}

function streamClassResource(spec: JsonObject) {
  return () => parseStreamClass({ apiVersion: 'streaming.sneaksanddata.com/v1', metadata: { name: 'sql' }, spec });
}

function backfillRequest(spec: JsonObject) {
  return () => parseBackfillRequest({ metadata: { name: 'r', namespace: 'streams' }, spec });
}

const broken: BrokenInput[] = [
  {
    name: 'unknown layoutVersion',
    parse: stream(executionSpec({ layoutVersion: 'v3' })),
    reason: 'InvalidSpec',
    field: 'spec.execution.layoutVersion',
    message: 'spec.execution.layoutVersion must be one of "", "v1", "v2", not this string',
  },
  {
    name: 'layoutVersion that is not a string',
    parse: stream(executionSpec({ layoutVersion: 2 })),
    reason: 'InvalidSpec',
    field: 'spec.execution.layoutVersion',
    message: 'spec.execution.layoutVersion must be one of "", "v1", "v2", not a number',
  },
  {
    name: 'execution that is not an object',
    parse: stream(v0Spec({ execution: 'v2' })),
    reason: 'InvalidSpec',
    field: 'spec.execution',
    message: 'spec.execution must be an object, not a string',
  },
  {
    name: 'spec that is not an object',
    parse: () => parseStreamDefinition({ ...streamResource({}), spec: ['a'] }, streamClass()),
    reason: 'InvalidSpec',
    field: 'spec',
    message: 'spec must be an object, not an array',
  },
  {
    name: 'v0 stream without jobTemplateRef',
    parse: stream(v0Spec({ jobTemplateRef: null })),
    reason: 'InvalidSpec',
    field: 'spec.jobTemplateRef',
    message: 'spec.jobTemplateRef must be an object, not null',
  },
  {
    name: 'v0 stream without backfillJobTemplateRef',
    parse: () => {
      const spec = v0Spec();
      delete spec.backfillJobTemplateRef;
      return parseStreamDefinition(streamResource(spec), streamClass());
    },
    reason: 'InvalidSpec',
    field: 'spec.backfillJobTemplateRef',
    message: 'spec.backfillJobTemplateRef is required',
  },
  {
    name: 'template ref with an empty name',
    parse: stream(v0Spec({ jobTemplateRef: { name: '' } })),
    reason: 'InvalidSpec',
    field: 'spec.jobTemplateRef.name',
    message: 'spec.jobTemplateRef.name must not be empty',
  },
  {
    name: 'suspended that is not a boolean',
    parse: stream(v0Spec({ suspended: 'yes' })),
    reason: 'InvalidSpec',
    field: 'spec.suspended',
    message: 'spec.suspended must be a boolean, not a string',
  },
  {
    name: 'execution.suspended that is not a boolean',
    parse: stream(v2({ changeCapture: null, batch }, { suspended: 1 })),
    reason: 'InvalidSpec',
    field: 'spec.execution.suspended',
    message: 'spec.execution.suspended must be a boolean, not a number',
  },
  {
    name: 'changeCapture backend without jobTemplateRef',
    parse: stream(v1({ changeCapture: { changeCaptureInterval: '15s' } })),
    reason: 'InvalidSpec',
    field: 'spec.execution.streamingBackend.changeCapture.jobTemplateRef',
    message: 'spec.execution.streamingBackend.changeCapture.jobTemplateRef is required',
  },
  {
    name: 'v1 changeCapture backend without a backfill template',
    parse: stream(v1({ changeCapture }, { backfillJobTemplateRef: null })),
    reason: 'InvalidSpec',
    field: 'spec.execution.backfillJobTemplateRef',
    message: 'spec.execution.backfillJobTemplateRef is required for a changeCapture backend',
  },
  {
    name: 'v2 changeCapture backend without a backfill template',
    parse: stream(v2({ changeCapture, batch: null })),
    reason: 'InvalidSpec',
    field: 'spec.execution.streamingBackend.changeCapture.backfillJobTemplateRef',
    message:
      'spec.execution.streamingBackend.changeCapture.backfillJobTemplateRef is required for a changeCapture backend',
  },
  {
    name: 'batch backend without schedule',
    parse: stream(v2({ batch: { jobTemplateRef: { name: 'batch-job' } } })),
    reason: 'InvalidSpec',
    field: 'spec.execution.streamingBackend.batch.schedule',
    message: 'spec.execution.streamingBackend.batch.schedule is required',
  },
  {
    name: 'template ref namespace that is not a string',
    parse: stream(v2({ batch: { schedule: '@hourly', jobTemplateRef: { name: 'batch-job', namespace: 7 } } })),
    reason: 'InvalidSpec',
    field: 'spec.execution.streamingBackend.batch.jobTemplateRef.namespace',
    message: 'spec.execution.streamingBackend.batch.jobTemplateRef.namespace must be a string, not a number',
  },
  {
    name: 'missing secretRef field',
    parse: stream(v2({ batch }), undefined, ['auditRef']),
    reason: 'InvalidSpec',
    field: 'spec.auditRef',
    message: `spec.auditRef is required ${SECRET_HINT}`,
  },
  {
    name: 'secretRef field that is a string',
    parse: stream(v2({ batch }), undefined, ['source']),
    reason: 'InvalidSpec',
    field: 'spec.source',
    message: `spec.source must be an object, not a string ${SECRET_HINT}`,
  },
  {
    name: 'secretRef field without a name',
    parse: () =>
      parseStreamDefinition(
        streamResource(
          executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } }, { 'connection-string': {} }),
        ),
        streamClass(['connection-string']),
      ),
    reason: 'InvalidSpec',
    field: 'spec["connection-string"].name',
    message: `spec["connection-string"].name is required ${SECRET_HINT}`,
  },
  {
    name: 'stream name too long for a Job',
    parse: stream(v0Spec(), 'a'.repeat(64)),
    reason: 'InvalidSpec',
    field: 'metadata.name',
    message:
      'metadata.name is 64 characters long; a stream with a Job backend needs a name of at most 63 ' +
      '(the pod label job-name must fit)',
  },
  {
    name: 'stream name too long for a CronJob',
    parse: stream(v2({ batch }), 'b'.repeat(53)),
    reason: 'InvalidSpec',
    field: 'metadata.name',
    message:
      'metadata.name is 53 characters long; a stream with a CronJob backend needs a name of at most 52 ' +
      '(the CronJob controller appends an 11-character suffix)',
  },
  {
    name: 'stream without uid',
    parse: () => {
      const resource = streamResource(v0Spec());
      delete (resource.metadata as JsonObject).uid;
      return parseStreamDefinition(resource, streamClass());
    },
    reason: 'InvalidSpec',
    field: 'metadata.uid',
    message: 'metadata.uid is required',
  },
  {
    name: 'template that is not a Job',
    parse: job((value) => (value.kind = 'Deployment')),
    reason: 'InvalidTemplate',
    field: 'spec.kind',
    message: 'spec.kind must be "Job", not this string',
  },
  {
    name: 'template Job of another API version',
    parse: job((value) => (value.apiVersion = 'apps/v1')),
    reason: 'InvalidTemplate',
    field: 'spec.apiVersion',
    message: 'spec.apiVersion must be one of "batch/v1", not this string',
  },
  {
    name: 'template whose spec is a bare JobSpec',
    parse: () => parseStreamingJobTemplate(templateResource((templateJob().spec as JsonObject) ?? {})),
    reason: 'InvalidTemplate',
    field: 'spec.apiVersion',
    message: 'spec.apiVersion is required',
  },
  {
    name: 'template without containers',
    parse: () => parseStreamingJobTemplate(templateResource(templateJob([]))),
    reason: 'InvalidTemplate',
    field: 'spec.spec.template.spec.containers',
    message: 'spec.spec.template.spec.containers must have at least 1 item',
  },
  {
    name: 'template container without a name',
    parse: () => parseStreamingJobTemplate(templateResource(templateJob([{ image: 'busybox' }]))),
    reason: 'InvalidTemplate',
    field: 'spec.spec.template.spec.containers[0].name',
    message: 'spec.spec.template.spec.containers[0].name is required',
  },
  {
    name: 'template env that is not a list',
    parse: () =>
      parseStreamingJobTemplate(templateResource(templateJob([{ name: 'stream', env: { LOG_LEVEL: 'info' } }]))),
    reason: 'InvalidTemplate',
    field: 'spec.spec.template.spec.containers[0].env',
    message: 'spec.spec.template.spec.containers[0].env must be an array, not an object',
  },
  {
    name: 'StreamClass without kindRef',
    parse: streamClassResource({ apiVersion: 'v1beta1', pluralName: 'sqlstreams' }),
    reason: 'InvalidStreamClass',
    field: 'spec.kindRef',
    message: 'spec.kindRef is required',
  },
  {
    name: 'StreamClass with secretRefs that is not a list',
    parse: streamClassResource({
      apiVersion: 'v1',
      kindRef: 'Sql',
      pluralName: 'sqls',
      secretRefs: 'connectionStringRef',
    }),
    reason: 'InvalidStreamClass',
    field: 'spec.secretRefs',
    message: 'spec.secretRefs must be an array, not a string',
  },
  {
    name: 'BackfillRequest without streamId',
    parse: backfillRequest({ streamClass: 'sql' }),
    reason: 'InvalidBackfillRequest',
    field: 'spec.streamId',
    message: 'spec.streamId is required',
  },
  {
    name: 'BackfillRequest with completed that is not a boolean',
    parse: backfillRequest({ streamClass: 'sql', streamId: 'orders', completed: 'yes' }),
    reason: 'InvalidBackfillRequest',
    field: 'spec.completed',
    message: 'spec.completed must be a boolean, not a string',
  },
  {
    name: 'BackfillRequest with a payload that is not an object',
    parse: backfillRequest({ streamClass: 'sql', streamId: 'orders', payload: [1] }),
    reason: 'InvalidBackfillRequest',
    field: 'spec.payload',
    message: 'spec.payload must be an object, not an array',
  },
];

describe('broken input is rejected with the field and the problem', () => {
  for (const input of broken) {
    test(input.name, () => {
      const result = input.parse();
      assert.deepEqual(result, {
        ok: false,
        error: { reason: input.reason, field: input.field, message: input.message },
      });
    });
  }
});

describe('input that is not an object at all', () => {
  for (const value of [undefined, null, 42, 'text', []]) {
    test(`${JSON.stringify(value) ?? 'undefined'} is an error, not an exception`, () => {
      for (const result of [
        parseStreamDefinition(value, streamClass()),
        parseStreamingJobTemplate(value),
        parseStreamClass(value),
        parseBackfillRequest(value),
      ]) {
        assert.equal(result.ok, false);
      }
    });
  }
});
