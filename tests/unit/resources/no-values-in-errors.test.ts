// A credential pasted into the wrong field never leaves in an error: every kind of bad field is rejected with a
// message naming the field and its expected shape, and the value appears nowhere in what is reported or recorded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { rejected } from '../../../activities/errors.ts';
import { parseBackfillRequest } from '../../../resources/backfill-request.ts';
import type { JsonObject, JsonValue } from '../../../resources/go-json.ts';
import { buildStreamingJob } from '../../../resources/job-builder.ts';
import { parseWith, type Result } from '../../../resources/result.ts';
import { parseStreamClass } from '../../../resources/stream-class.ts';
import { parseStreamDefinition } from '../../../resources/stream-definition.ts';
import { STREAM_ID_ENV } from '../../../resources/stream-context.ts';
import { parseStreamingJobTemplate } from '../../../resources/streaming-job-template.ts';
import {
  batch,
  executionSpec,
  streamClass,
  streamResource,
  template,
  templateJob,
  templateResource,
  v0Spec,
} from './examples.ts';

/** Shaped like a real token, so a leak through any formatting (quoted, escaped, cut) would still show its core. */
const MARKER = 'sk-live-7Hq2MARKERx9Zt';
const MARKER_CORE = 'MARKER';
/** A numeric credential (a PIN, an account number) in a number field. */
const NUMERIC_MARKER = 731_904_258_613;

interface BadField {
  name: string;
  parse: () => Result<unknown>;
  /** The field the error must name. */
  field: string;
}

function stream(spec: JsonObject, secretRefs: string[] = []) {
  return () => parseStreamDefinition(streamResource(spec), streamClass(secretRefs));
}

function streamMetadata(change: (metadata: JsonObject) => void) {
  return () => {
    const resource = streamResource(v0Spec());
    change(resource.metadata as JsonObject);
    return parseStreamDefinition(resource, streamClass());
  };
}

/** The template Job with `value` at `path` (object keys and array indexes). */
function templateWith(path: (string | number)[], value: JsonValue) {
  return () => {
    const job = templateJob();
    let node = job as Record<string | number, JsonValue>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, JsonValue>;
    node[path.at(-1) as string | number] = value;
    return parseStreamingJobTemplate(templateResource(job));
  };
}

function streamClassWith(spec: JsonObject) {
  return () => parseStreamClass({ metadata: { name: 'sql' }, spec: { apiVersion: 'v1', pluralName: 's', ...spec } });
}

function requestWith(spec: JsonObject, metadata: JsonObject = {}) {
  return () =>
    parseBackfillRequest({
      metadata: { name: 'r', namespace: 'streams', ...metadata },
      spec: { streamClass: 'sql', streamId: 'orders', ...spec },
    });
}

const badFields: BadField[] = [
  // Stream specs (InvalidSpec): the value of a field the operator reads.
  {
    name: 'layoutVersion outside its enum',
    parse: stream(executionSpec({ layoutVersion: MARKER })),
    field: 'spec.execution.layoutVersion',
  },
  {
    name: 'layoutVersion that is an object',
    parse: stream(executionSpec({ layoutVersion: { token: MARKER } })),
    field: 'spec.execution.layoutVersion',
  },
  { name: 'suspended that is a string', parse: stream(v0Spec({ suspended: MARKER })), field: 'spec.suspended' },
  { name: 'execution that is a string', parse: stream(v0Spec({ execution: MARKER })), field: 'spec.execution' },
  {
    name: 'spec that is a string',
    parse: () => parseStreamDefinition({ ...streamResource({}), spec: MARKER }, streamClass()),
    field: 'spec',
  },
  {
    name: 'jobTemplateRef that is a string',
    parse: stream(v0Spec({ jobTemplateRef: MARKER })),
    field: 'spec.jobTemplateRef',
  },
  {
    name: 'template name that is a list',
    parse: stream(v0Spec({ jobTemplateRef: { name: [MARKER] } })),
    field: 'spec.jobTemplateRef.name',
  },
  {
    name: 'template namespace that is an object',
    parse: stream(
      executionSpec({
        layoutVersion: 'v2',
        streamingBackend: { batch: { schedule: '@hourly', jobTemplateRef: { name: 'b', namespace: { MARKER } } } },
      }),
    ),
    field: 'spec.execution.streamingBackend.batch.jobTemplateRef.namespace',
  },
  {
    name: 'schedule that is a number',
    parse: stream(
      executionSpec({ layoutVersion: 'v2', streamingBackend: { batch: { ...batch, schedule: NUMERIC_MARKER } } }),
    ),
    field: 'spec.execution.streamingBackend.batch.schedule',
  },
  {
    name: 'secretRef field holding the secret itself',
    parse: stream(executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } }, { auth: MARKER }), ['auth']),
    field: 'spec.auth',
  },
  {
    name: 'secretRef name that is a list',
    parse: stream(executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } }, { auth: { name: [MARKER] } }), [
      'auth',
    ]),
    field: 'spec.auth.name',
  },
  {
    name: 'annotation that is an object',
    parse: streamMetadata((metadata) => (metadata.annotations = { note: { value: MARKER } })),
    field: 'metadata.annotations.note',
  },
  {
    name: 'generation that is a string',
    parse: streamMetadata((metadata) => (metadata.generation = MARKER)),
    field: 'metadata.generation',
  },
  {
    name: 'generation that is not whole',
    parse: streamMetadata((metadata) => (metadata.generation = NUMERIC_MARKER + 0.5)),
    field: 'metadata.generation',
  },
  {
    name: 'name too long for a Job',
    parse: streamMetadata((metadata) => (metadata.name = MARKER.repeat(4))),
    field: 'metadata.name',
  },
  {
    name: 'kind that is a list',
    parse: () => parseStreamDefinition({ ...streamResource(v0Spec()), kind: [MARKER] }, streamClass()),
    field: 'kind',
  },
  { name: 'a stream that is a string', parse: () => parseStreamDefinition(MARKER, streamClass()), field: '' },
  // StreamingJobTemplates (InvalidTemplate).
  { name: 'template kind', parse: templateWith(['kind'], MARKER), field: 'spec.kind' },
  { name: 'template apiVersion', parse: templateWith(['apiVersion'], MARKER), field: 'spec.apiVersion' },
  {
    name: 'template labels that are a string',
    parse: templateWith(['metadata', 'labels'], MARKER),
    field: 'spec.metadata.labels',
  },
  {
    name: 'template label that is a number',
    parse: templateWith(['metadata', 'labels', 'team'], NUMERIC_MARKER),
    field: 'spec.metadata.labels.team',
  },
  {
    name: 'pod template spec that is a string',
    parse: templateWith(['spec', 'template', 'spec'], MARKER),
    field: 'spec.spec.template.spec',
  },
  {
    name: 'containers that are a string',
    parse: templateWith(['spec', 'template', 'spec', 'containers'], MARKER),
    field: 'spec.spec.template.spec.containers',
  },
  {
    name: 'container env that is a string',
    parse: templateWith(['spec', 'template', 'spec', 'containers', 0, 'env'], MARKER),
    field: 'spec.spec.template.spec.containers[0].env',
  },
  {
    name: 'env name that is an object',
    parse: templateWith(['spec', 'template', 'spec', 'containers', 0, 'env', 0, 'name'], { MARKER }),
    field: 'spec.spec.template.spec.containers[0].env[0].name',
  },
  {
    name: 'envFrom entry that is a string',
    parse: templateWith(['spec', 'template', 'spec', 'containers', 0, 'envFrom', 0], MARKER),
    field: 'spec.spec.template.spec.containers[0].envFrom[0]',
  },
  {
    name: 'a reserved variable set by the template',
    parse: () => {
      const job = templateJob([{ name: 'stream', image: 'busybox', env: [{ name: STREAM_ID_ENV, value: MARKER }] }]);
      const input = {
        stream: { streamClass: 'c', apiVersion: 'v1', kind: 'K', namespace: 'n', name: 'orders', uid: 'u' },
      };
      return buildStreamingJob({ ...input, spec: {}, template: template(job), secretNames: [] });
    },
    field: 'spec.spec.template.spec.containers[0].env[0]',
  },
  // StreamClasses and BackfillRequests.
  {
    name: 'secretRefs that is a string',
    parse: streamClassWith({ kindRef: 'K', secretRefs: MARKER }),
    field: 'spec.secretRefs',
  },
  {
    name: 'secretRefs entry that is an object',
    parse: streamClassWith({ kindRef: 'K', secretRefs: [{ MARKER }] }),
    field: 'spec.secretRefs[0]',
  },
  { name: 'kindRef that is a list', parse: streamClassWith({ kindRef: [MARKER] }), field: 'spec.kindRef' },
  { name: 'completed that is a string', parse: requestWith({ completed: MARKER }), field: 'spec.completed' },
  { name: 'payload that is a string', parse: requestWith({ payload: MARKER }), field: 'spec.payload' },
  { name: 'streamId that is a list', parse: requestWith({ streamId: [MARKER] }), field: 'spec.streamId' },
  {
    name: 'creationTimestamp that is an object (a union of string and date)',
    parse: requestWith({}, { creationTimestamp: { MARKER } }),
    field: 'metadata.creationTimestamp',
  },
  // Issue kinds the resource schemas do not raise today, so a schema that starts to raise them stays safe.
  {
    name: 'an unknown field of a strict object',
    parse: () => parseWith(z.strictObject({ a: z.string() }), 'InvalidSpec', { a: 'x', [MARKER]: MARKER }),
    field: '',
  },
  {
    name: 'a string that does not match its pattern',
    parse: () => parseWith(z.object({ a: z.string().regex(/^[a-z]+$/) }), 'InvalidSpec', { a: MARKER }),
    field: 'a',
  },
  {
    name: 'a string that is too long',
    parse: () => parseWith(z.object({ a: z.string().max(8) }), 'InvalidSpec', { a: MARKER }),
    field: 'a',
  },
  {
    name: 'a number that is too large',
    parse: () => parseWith(z.object({ a: z.number().max(8) }), 'InvalidSpec', { a: NUMERIC_MARKER }),
    field: 'a',
  },
  {
    name: 'a number that is no multiple',
    parse: () => parseWith(z.object({ a: z.number().multipleOf(2) }), 'InvalidSpec', { a: NUMERIC_MARKER }),
    field: 'a',
  },
  {
    name: 'a map key of the wrong shape',
    parse: () =>
      parseWith(z.object({ a: z.record(z.string().regex(/^[a-z]+$/), z.string()) }), 'InvalidSpec', {
        a: { [MARKER]: 'x' },
      }),
    field: 'a',
  },
];

/** Everything an error could carry into a condition, an Event, a log line or workflow history, as text. */
function everythingSaid(result: Result<unknown>): string {
  assert.equal(result.ok, false, 'the bad field was accepted');
  if (result.ok) return '';
  const failure = rejected(result.error);
  return [
    JSON.stringify(result),
    failure.message,
    failure.stack,
    JSON.stringify(failure.details),
    String(failure),
  ].join('\n');
}

describe('a value in a bad field is never repeated in the error', () => {
  for (const input of badFields) {
    test(`${input.name}: the error names ${input.field || 'the resource'} and not the value`, () => {
      const result = input.parse();
      const said = everythingSaid(result);
      assert.ok(!said.includes(MARKER_CORE), `the value leaked:\n${said}`);
      assert.ok(!said.includes(String(NUMERIC_MARKER).slice(0, 6)), `the number leaked:\n${said}`);
      assert.ok(!result.ok && result.error.field === input.field, `names ${input.field}: ${said}`);
      assert.ok(!result.ok && result.error.message.startsWith(input.field || 'the resource'));
    });
  }
});

describe('the error still says what the field must be', () => {
  const messages: [string, () => Result<unknown>, string][] = [
    [
      'an enum lists what it accepts',
      stream(executionSpec({ layoutVersion: MARKER })),
      'spec.execution.layoutVersion must be one of "", "v1", "v2", not this string',
    ],
    [
      'a secretRef field says it holds a name',
      stream(executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } }, { auth: MARKER }), ['auth']),
      'spec.auth must be an object, not a string (StreamClass mock-stream-v2 lists it in secretRefs as a field holding {name: <secret>})',
    ],
    [
      'a pattern is shown',
      badFields.find((f) => f.name.includes('pattern'))?.parse ?? assert.fail(),
      'a must match /^[a-z]+$/',
    ],
    [
      'a union lists its types',
      requestWith({}, { creationTimestamp: { MARKER } }),
      'metadata.creationTimestamp must be a string or a date, not an object',
    ],
    [
      'a length limit is in characters',
      badFields.find((f) => f.name === 'a string that is too long')?.parse ?? assert.fail(),
      'a must be at most 8 characters long',
    ],
    [
      'a number limit is a bound',
      badFields.find((f) => f.name.includes('too large'))?.parse ?? assert.fail(),
      'a must be at most 8',
    ],
    [
      'a map key says its shape',
      badFields.find((f) => f.name.includes('map key'))?.parse ?? assert.fail(),
      'a has a key that must match /^[a-z]+$/',
    ],
    [
      'an unknown field is counted',
      badFields.find((f) => f.name.includes('unknown'))?.parse ?? assert.fail(),
      'the resource has a field its schema does not define',
    ],
  ];
  for (const [name, parse, message] of messages) {
    test(name, () => {
      const result = parse();
      assert.equal(result.ok ? undefined : result.error.message, message);
    });
  }
});
