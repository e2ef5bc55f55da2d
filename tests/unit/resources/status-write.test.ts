// The one rule for whether a status write changes what the API server stores, and the condition's transition time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  PRUNED_BY_PLUGINS,
  statusShows,
  transitionTime,
  type ShownCondition,
  type StatusWrite,
} from '../../../resources/status-write.ts';

const write: StatusWrite = {
  phase: 'Running',
  configurationHash: 'abc',
  condition: { type: 'Ready', status: 'True', reason: 'Running', message: 'runs', observedGeneration: 2 },
};

const stored: ShownCondition = {
  type: 'Ready',
  status: 'True',
  reason: 'Running',
  message: 'runs',
  observedGeneration: 2,
};

function shows(condition: ShownCondition | undefined, prunable = PRUNED_BY_PLUGINS, phase = 'Running'): boolean {
  return statusShows({ phase, configurationHash: 'abc', condition }, write, prunable);
}

describe('status write', () => {
  test('a status that shows every written field needs no write', () => {
    assert.equal(shows(stored), true);
    assert.equal(shows(stored, []), true);
  });

  test('a different phase, hash, condition type or field value needs a write', () => {
    assert.equal(shows(stored, PRUNED_BY_PLUGINS, 'Pending'), false);
    assert.equal(statusShows({ phase: 'Running', configurationHash: 'old', condition: stored }, write, []), false);
    assert.equal(statusShows({ phase: 'Running', condition: stored }, write, []), false);
    assert.equal(shows(undefined), false);
    assert.equal(shows({ ...stored, type: 'Error' }), false);
    for (const field of ['status', 'reason', 'message', 'observedGeneration'] as const) {
      assert.equal(shows({ ...stored, [field]: field === 'observedGeneration' ? 1 : 'other' }), false, field);
    }
  });

  test("fields a plugin's schema pruned are not compared: writing them would store nothing", () => {
    assert.equal(shows({ type: 'Ready', status: 'True', message: 'runs' }), true);
  });

  test('a lacking field the schema keeps is written', () => {
    assert.equal(shows({ type: 'Ready', reason: 'Running', message: 'runs', observedGeneration: 2 }), false);
    assert.equal(shows({ type: 'Ready', status: 'True', reason: 'Running', observedGeneration: 2 }), false);
  });

  test("with the operator's own CRDs, which keep every field, a lacking field is written", () => {
    assert.equal(shows({ type: 'Ready', status: 'True', message: 'runs' }, []), false);
  });

  test('a field the write leaves out is not compared', () => {
    const withoutStatus = { ...write, condition: { ...write.condition, status: undefined } };
    const shown = { phase: 'Running', configurationHash: 'abc', condition: { ...stored, status: 'False' } };
    assert.equal(statusShows(shown, withoutStatus, []), true);
    const withoutHash = { ...withoutStatus, configurationHash: undefined };
    assert.equal(statusShows({ ...shown, configurationHash: 'old' }, withoutHash, []), true);
  });

  test("a condition's transition time moves only when its status does", () => {
    const previous = { status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' };
    assert.equal(transitionTime(previous, 'True', '2026-02-01T00:00:00Z'), '2026-01-01T00:00:00Z');
    assert.equal(transitionTime(previous, 'False', '2026-02-01T00:00:00Z'), '2026-02-01T00:00:00Z');
    assert.equal(transitionTime({ status: 'True' }, 'True', '2026-02-01T00:00:00Z'), '2026-02-01T00:00:00Z');
    assert.equal(transitionTime(undefined, 'True', '2026-02-01T00:00:00Z'), '2026-02-01T00:00:00Z');
  });
});
