// Reading plugin streams: every layout and backend, suspension, secretRefs and the spec kept as stored.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonObject } from '../../../resources/go-json.ts';
import { parseStreamDefinition } from '../../../resources/stream-definition.ts';
import { templateCandidates, type Backend } from '../../../resources/stream-layout.ts';
import {
  batch,
  changeCapture,
  executionSpec,
  NAMESPACE,
  streamClass,
  streamResource,
  UID,
  unwrap,
  v0Spec,
} from './examples.ts';

function read(spec: JsonObject, secretRefs: string[] = []) {
  return unwrap(parseStreamDefinition(streamResource(spec), streamClass(secretRefs)));
}

function backendOf(spec: JsonObject): Backend {
  return read(spec).backend;
}

const standard = { name: 'standard-job', namespace: NAMESPACE };
const large = { name: 'large-job', namespace: NAMESPACE };
const batchJob = { name: 'batch-job', namespace: 'templates' };

describe('layout v0', () => {
  test('a stream without execution settings has a Job backend with refs in its namespace', () => {
    const stream = read(v0Spec());
    assert.equal(stream.layout, 'v0');
    assert.equal(stream.suspended, false);
    assert.deepEqual(stream.backend, { kind: 'job', jobTemplateRef: standard, backfillJobTemplateRef: large });
  });

  test('an empty layoutVersion is v0', () => {
    assert.equal(read(v0Spec({ execution: { layoutVersion: '' } })).layout, 'v0');
  });

  test('spec.suspended suspends the stream', () => {
    assert.equal(read(v0Spec({ suspended: true })).suspended, true);
  });

  test('a missing suspended field means running', () => {
    const spec = v0Spec();
    delete spec.suspended;
    assert.equal(read(spec).suspended, false);
  });

  test('the backfill template is looked up in its own namespace first, then in the streaming ref namespace', () => {
    const backend = backendOf(v0Spec({ jobTemplateRef: { name: 'standard-job', namespace: 'templates' } }));
    assert.equal(backend.kind, 'job');
    assert.deepEqual(backend.jobTemplateRef, { name: 'standard-job', namespace: 'templates' });
    assert.deepEqual(templateCandidates(backend.backfillJobTemplateRef), [
      { name: 'large-job', namespace: NAMESPACE },
      { name: 'large-job', namespace: 'templates' },
    ]);
  });

  test('a backfill ref with its own namespace is looked up there first', () => {
    const backend = backendOf(v0Spec({ backfillJobTemplateRef: { name: 'large-job', namespace: 'shared' } }));
    assert.equal(backend.kind, 'job');
    assert.deepEqual(templateCandidates(backend.backfillJobTemplateRef), [
      { name: 'large-job', namespace: 'shared' },
      { name: 'large-job', namespace: NAMESPACE },
    ]);
  });

  test('refs in the same namespace have one lookup', () => {
    const backend = backendOf(v0Spec());
    assert.equal(backend.kind, 'job');
    assert.deepEqual(templateCandidates(backend.backfillJobTemplateRef), [large]);
  });
});

describe('layout v1', () => {
  const v1 = (streamingBackend: JsonObject | null, extra: JsonObject = {}) =>
    executionSpec({
      layoutVersion: 'v1',
      suspended: false,
      backfillJobTemplateRef: { name: 'large-job' },
      streamingBackend,
      ...extra,
    });

  test('changeCapture is a Job backend', () => {
    const stream = read(v1({ changeCapture }));
    assert.equal(stream.layout, 'v1');
    assert.deepEqual(stream.backend, { kind: 'job', jobTemplateRef: standard, backfillJobTemplateRef: large });
  });

  test('batch is a CronJob backend with its schedule', () => {
    assert.deepEqual(backendOf(v1({ batch })), {
      kind: 'cronjob',
      schedule: '*/5 * * * *',
      jobTemplateRef: batchJob,
      backfillJobTemplateRef: large,
    });
  });

  test('batch wins when both backends are set', () => {
    assert.equal(backendOf(v1({ changeCapture, batch })).kind, 'cronjob');
  });

  test('no streamingBackend means no backend', () => {
    assert.deepEqual(backendOf(v1(null)), { kind: 'none' });
    assert.deepEqual(backendOf(v1({})), { kind: 'none' });
  });

  test('null backends count as absent', () => {
    assert.deepEqual(backendOf(v1({ changeCapture: null, batch: null })), { kind: 'none' });
    assert.equal(backendOf(v1({ changeCapture, batch: null })).kind, 'job');
  });

  test('execution.suspended suspends the stream', () => {
    assert.equal(read(v1({ changeCapture }, { suspended: true })).suspended, true);
  });

  test('a CronJob backend needs no backfill template', () => {
    const backend = backendOf(v1({ batch }, { backfillJobTemplateRef: null }));
    assert.equal(backend.kind === 'cronjob' && backend.backfillJobTemplateRef, null);
  });
});

describe('layout v2', () => {
  const v2 = (streamingBackend: JsonObject | null) =>
    executionSpec({ layoutVersion: 'v2', suspended: false, streamingBackend });
  const changeCaptureV2 = { ...changeCapture, backfillJobTemplateRef: { name: 'large-job' } };

  test('changeCapture is a Job backend with the backfill template inside it', () => {
    const stream = read(v2({ changeCapture: changeCaptureV2, batch: null }));
    assert.equal(stream.layout, 'v2');
    assert.deepEqual(stream.backend, { kind: 'job', jobTemplateRef: standard, backfillJobTemplateRef: large });
  });

  test('batch is a CronJob backend, without a backfill template when there is no changeCapture', () => {
    assert.deepEqual(backendOf(v2({ changeCapture: null, batch })), {
      kind: 'cronjob',
      schedule: '*/5 * * * *',
      jobTemplateRef: batchJob,
      backfillJobTemplateRef: null,
    });
  });

  test('batch wins when both are set and keeps the changeCapture backfill template', () => {
    const backend = backendOf(v2({ changeCapture: changeCaptureV2, batch }));
    assert.equal(backend.kind, 'cronjob');
    assert.deepEqual(backend.kind === 'cronjob' && backend.backfillJobTemplateRef, large);
  });

  test('no streamingBackend means no backend', () => {
    assert.deepEqual(backendOf(v2(null)), { kind: 'none' });
  });

  test('both backends null means no backend', () => {
    assert.deepEqual(backendOf(v2({ changeCapture: null, batch: null })), { kind: 'none' });
  });
});

describe('stream definition', () => {
  test('names the stream by class, GVK, namespace, name and uid', () => {
    assert.deepEqual(read(v0Spec()).ref, {
      streamClass: 'mock-stream-v2',
      apiVersion: 'streaming.sneaksanddata.com/v1beta1',
      kind: 'MockStreamV2',
      namespace: NAMESPACE,
      name: 'orders',
      uid: UID,
    });
  });

  test('keeps the spec object as stored, nulls and unknown fields included', () => {
    const spec = executionSpec(
      { layoutVersion: 'v2', streamingBackend: { changeCapture: null, batch } },
      { extra: { nested: null } },
    );
    const resource = streamResource(spec);
    const stream = unwrap(parseStreamDefinition(resource, streamClass()));
    assert.equal(stream.spec, resource.spec);
    assert.deepEqual(
      stream.spec,
      executionSpec(
        { layoutVersion: 'v2', streamingBackend: { changeCapture: null, batch } },
        { extra: { nested: null } },
      ),
    );
  });

  test("resolves the class's secretRefs to secret names", () => {
    const spec = executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } }, { auditRef: { name: 'audit' } });
    assert.deepEqual(read(spec, ['connectionStringRef', 'auditRef']).secretNames, ['sql-connection', 'audit']);
  });

  test('reads the last written status and the template pin', () => {
    const resource = streamResource(v0Spec());
    resource.status = { phase: 'Running', configurationHash: 'abc', conditions: [] };
    resource.metadata = {
      ...(resource.metadata as JsonObject),
      annotations: { 'arcane.sneaksanddata.com/pin-template': 'true' },
    };
    const stream = unwrap(parseStreamDefinition(resource, streamClass()));
    assert.deepEqual(stream.status, { phase: 'Running', configurationHash: 'abc' });
    assert.equal(stream.pinTemplate, true);
    assert.equal(stream.generation, 3);
  });

  test('a stream without status has an empty phase and hash', () => {
    assert.deepEqual(read(v0Spec()).status, { phase: '', configurationHash: '' });
  });

  test('a 63-character name fits a Job and a 52-character name fits a CronJob', () => {
    const klass = streamClass();
    assert.ok(parseStreamDefinition(streamResource(v0Spec(), 'j'.repeat(63)), klass).ok);
    const cron = executionSpec({ layoutVersion: 'v2', streamingBackend: { batch } });
    assert.ok(parseStreamDefinition(streamResource(cron, 'c'.repeat(52)), klass).ok);
  });

  test('a stream without a backend may have any valid name', () => {
    const spec = executionSpec({ layoutVersion: 'v2', streamingBackend: null });
    assert.ok(parseStreamDefinition(streamResource(spec, 'n'.repeat(200)), streamClass()).ok);
  });
});
