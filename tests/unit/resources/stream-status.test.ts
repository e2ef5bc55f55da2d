// A stored status is read leniently: whoever wrote it, a garbled field reads as absent and reading never fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readStoredStatus } from '../../../resources/stream-status.ts';

describe('stored status', () => {
  test('reads the phase, the configuration hash and every condition field', () => {
    const condition = {
      type: 'Ready',
      status: 'True',
      reason: 'Running',
      message: 'the streaming Job runs',
      observedGeneration: 3,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    assert.deepEqual(readStoredStatus({ phase: 'Running', configurationHash: 'abc', conditions: [condition] }), {
      phase: 'Running',
      configurationHash: 'abc',
      conditions: [condition],
    });
  });

  test('a missing or garbled status reads as one without conditions', () => {
    for (const status of [undefined, null, 'Running', 7, [], { conditions: 'Ready' }]) {
      const read = readStoredStatus(status);
      assert.deepEqual(read.conditions, [], JSON.stringify(status));
      assert.equal(read.phase, undefined);
    }
  });

  test('a field of the wrong type reads as absent; the other fields stay', () => {
    const read = readStoredStatus({
      phase: 3,
      configurationHash: 'abc',
      conditions: [{ type: 'Ready', status: true, reason: 'Running', message: null, observedGeneration: '3' }],
    });
    assert.equal(read.phase, undefined);
    assert.equal(read.configurationHash, 'abc');
    const [condition] = read.conditions;
    assert.equal(condition?.type, 'Ready');
    assert.equal(condition.reason, 'Running');
    assert.equal(condition.status, undefined);
    assert.equal(condition.message, undefined);
    assert.equal(condition.observedGeneration, undefined);
  });

  test('a condition that is not an object says nothing, and the others keep their places', () => {
    const read = readStoredStatus({ conditions: [null, 'Ready', { type: 'Ready' }] });
    assert.deepEqual(
      read.conditions.map((condition) => condition.type),
      [undefined, undefined, 'Ready'],
    );
  });

  test('fields of a condition it does not know are kept, so rewriting the list loses nothing', () => {
    const read = readStoredStatus({ conditions: [{ type: 'Ready', severity: 'Info' }] });
    assert.equal(read.conditions[0]?.severity, 'Info');
  });
});
