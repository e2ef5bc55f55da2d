// StreamClass status: who serves a kind, the phase that follows from the stream informer, and the Events.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseStreamClass } from '../../../resources/stream-class.ts';
import {
  assignClasses,
  classStatus,
  classTransitionEvents,
  desiredClassStatus,
  type ObservedClass,
} from '../../../watcher/stream-class-status.ts';
import { statusPatch } from '../../../watcher/status-patch.ts';

function observed(name: string, createdAt: string, spec: object): ObservedClass {
  return { name, createdAt, parsed: parseStreamClass({ metadata: { name }, spec }) };
}

const mockStream = {
  apiGroupRef: 'streaming.sneaksanddata.com',
  apiVersion: 'v1beta1',
  kindRef: 'MockStream',
  pluralName: 'mockstreams',
};

describe('which class serves a kind', () => {
  test('the older of two classes for one kind serves it; the second fails naming the first', () => {
    const assignments = assignClasses([
      observed('second', '2026-01-02T00:00:00Z', mockStream),
      observed('first', '2026-01-01T00:00:00Z', mockStream),
    ]);
    assert.ok('serves' in (assignments.get('first') ?? {}));
    assert.deepEqual(assignments.get('second'), {
      failure: {
        reason: 'KindAlreadyServed',
        message: 'kind MockStream (mockstreams.streaming.sneaksanddata.com) is already served by StreamClass first',
      },
    });
  });

  test('a class with an invalid spec fails with the field in its message', () => {
    const assignments = assignClasses([observed('broken', '2026-01-01T00:00:00Z', { ...mockStream, kindRef: '' })]);
    assert.deepEqual(assignments.get('broken'), {
      failure: { reason: 'InvalidStreamClass', message: 'spec.kindRef must not be empty' },
    });
  });

  test('a class without an API group fails: plugin kinds are custom resources', () => {
    const coreGroup = { ...mockStream, apiGroupRef: undefined };
    const assignment = assignClasses([observed('core', '2026-01-01T00:00:00Z', coreGroup)]).get('core');
    assert.ok(assignment && 'failure' in assignment);
    assert.match(assignment.failure.message, /^spec.apiGroupRef is required/);
  });
});

describe('class phase', () => {
  const serving = assignClasses([observed('mock', '2026-01-01T00:00:00Z', mockStream)]).get('mock');
  assert.ok(serving);

  test('Pending until the streams have been listed, then Ready', () => {
    assert.equal(desiredClassStatus(serving, { state: 'pending', everSynced: false }, '')?.phase, 'Pending');
    assert.deepEqual(desiredClassStatus(serving, { state: 'synced', everSynced: true }, 'Pending'), {
      phase: 'Ready',
      reason: 'StreamClassReady',
      message: 'serving kind MockStream (mockstreams.streaming.sneaksanddata.com/v1beta1)',
    });
  });

  test('Failed while the stream CRD is missing, saying which one', () => {
    const status = desiredClassStatus(
      serving,
      { state: 'failing', everSynced: false, error: { code: 404, message: '404' } },
      'Pending',
    );
    assert.equal(status?.phase, 'Failed');
    assert.equal(status?.reason, 'CustomResourceDefinitionNotFound');
    assert.match(
      status?.message ?? '',
      /does not serve mockstreams\.streaming\.sneaksanddata\.com\/v1beta1 \(kind MockStream\)/,
    );
  });

  test('an API server outage changes nothing the class shows', () => {
    const outage = { state: 'failing' as const, error: { message: 'connect ECONNREFUSED' } };
    assert.equal(desiredClassStatus(serving, { ...outage, everSynced: true }, 'Ready'), undefined);
    assert.equal(desiredClassStatus(serving, { ...outage, everSynced: false }, 'Failed'), undefined);
  });

  test('a restarted watcher that has not listed yet leaves a Ready class Ready', () => {
    assert.equal(desiredClassStatus(serving, { state: 'pending', everSynced: false }, 'Ready'), undefined);
  });
});

describe('status writes and Events', () => {
  const ready = { phase: 'Ready' as const, reason: 'StreamClassReady', message: 'serving kind MockStream' };

  test('nothing is written when the class already shows the desired status', () => {
    const patch = statusPatch({}, classStatus(ready), 3, '2026-01-01T00:00:00Z');
    assert.ok(patch);
    assert.equal(statusPatch(patch, classStatus(ready), 3, '2026-01-01T00:05:00Z'), undefined);
  });

  test('the Ready condition keeps its transition time while its status stays', () => {
    const first = statusPatch({}, classStatus(ready), 1, '2026-01-01T00:00:00Z');
    const second = statusPatch(first, classStatus({ ...ready, message: 'other' }), 2, '2026-01-02T00:00:00Z');
    assert.equal(second?.conditions[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(second?.conditions[0]?.observedGeneration, 2);
  });

  test('a new class that becomes Ready gets StreamClassCreated and StreamClassReady', () => {
    assert.deepEqual(
      classTransitionEvents('mock', '', ready).map((event) => event.reason),
      ['StreamClassCreated', 'StreamClassReady'],
    );
  });

  test('a Failed class that becomes Ready gets StreamClassRecovered', () => {
    assert.deepEqual(
      classTransitionEvents('mock', 'Failed', ready).map((event) => event.reason),
      ['StreamClassRecovered'],
    );
  });

  test('a class that fails gets a Warning with the reason', () => {
    const failed = { phase: 'Failed' as const, reason: 'KindAlreadyServed', message: 'served by first' };
    assert.deepEqual(classTransitionEvents('mock', 'Pending', failed), [
      { type: 'Warning', reason: 'StreamControllerError', message: 'KindAlreadyServed: served by first' },
    ]);
  });
});
