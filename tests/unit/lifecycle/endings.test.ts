// The end of a lifecycle: the stream deleted, or its StreamClass deleted or serving another kind (detached).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, initialStreamState } from '../../../workflows/lifecycle.ts';
import { config, cronJob, effects, job, KIND, observation, request, state, stream, T0 } from './cluster.ts';

const otherKind = { group: 'streaming.sneaksanddata.com', kind: 'MockStreamV2', plural: 'mockstreamv2s' };

test('deleted stream has its Job deleted before the lifecycle completes', () => {
  const decision = decide(state(), observation({ stream: undefined, job: job() }), config, T0);
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'job-1' }]);
  assert.equal(decision.done, undefined);
  const finished = decide(decision.state, observation({ stream: undefined }), config, T0);
  assert.deepEqual(finished.actions, []);
  assert.equal(finished.done, true);
  assert.equal(finished.state.ended, 'deleted');
  assert.equal(finished.state.phase, 'Running');
});

test('deleted stream has its CronJob deleted', () => {
  const decision = decide(
    state({ phase: 'Scheduled' }),
    observation({ stream: undefined, cronJob: cronJob() }),
    config,
    T0,
  );
  assert.deepEqual(decision.actions, [{ type: 'deleteCronJob', uid: 'cron-1' }]);
});

test('stream being deleted completes once its Job is terminating, writing no status', () => {
  const decision = decide(
    state(),
    observation({ stream: stream({ deleting: true }), job: job({ terminating: true }) }),
    config,
    T0,
  );
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.done, true);
});

test('stream whose StreamClass is deleted completes detached without deleting anything', () => {
  const why = 'StreamClass mock-stream no longer exists';
  const obs = observation({ kind: undefined, detached: why, job: job(), backfillRequests: [request('bf-a')] });
  const decision = decide(state(), obs, config, T0);
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.done, true);
  assert.equal(decision.state.ended, 'detached');
  assert.equal(decision.state.condition.message, why);
});

test("a detached stream's Job keeps running, released from the operator's finalizer before the lifecycle ends", () => {
  const why = 'StreamClass mock-stream no longer exists';
  for (const detachedObservation of [
    observation({ kind: undefined, detached: why, job: job({ held: true }) }),
    observation({ kind: otherKind, stream: undefined, job: job({ held: true }), cronJob: cronJob() }),
  ]) {
    const decision = decide(state(), detachedObservation, config, T0);
    assert.deepEqual(decision.actions, [{ type: 'releaseJob', uid: 'job-1' }], 'released, not deleted');
    assert.equal(decision.done, undefined);
    assert.equal(decision.state.ended, 'detached');
    const released = { ...detachedObservation, job: job({ held: false }) };
    const finished = decide(decision.state, released, config, T0);
    assert.deepEqual(finished.actions, []);
    assert.equal(finished.done, true);
    assert.equal(finished.state.ended, 'detached');
    // Revision 4 left the finalizer on: its histories replay as they were recorded.
    const revision4 = decide(state(), detachedObservation, { ...config, revision: 4 }, T0);
    assert.deepEqual(revision4.actions, []);
    assert.equal(revision4.done, true);
  }
});

test('stream whose StreamClass now serves another kind is detached, its Job and CronJob kept', () => {
  // Read under the new kind the stream is not found: that must not read as "deleted".
  const obs = observation({ kind: otherKind, stream: undefined, job: job(), cronJob: cronJob() });
  const decision = decide(state(), obs, config, T0);
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.done, true);
  assert.equal(decision.state.ended, 'detached');
  assert.equal(decision.state.phase, 'Running');
  assert.match(
    decision.state.condition.message,
    /now serves MockStreamV2 \(mockstreamv2s\.streaming\.sneaksanddata\.com\), no longer MockStream/,
  );
});

test('stream whose class now serves another kind with an object of the same name is detached too', () => {
  const obs = observation({ kind: otherKind, job: job() });
  const decision = decide(state(), obs, config, T0);
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.state.ended, 'detached');
});

test('the kind is the one the class served when the lifecycle first saw the stream', () => {
  const first = decide(initialStreamState(), observation(), config, T0);
  assert.deepEqual(first.state.kind, KIND);
  const retargeted = decide(first.state, observation({ kind: otherKind, stream: undefined, job: job() }), config, T0);
  assert.equal(retargeted.state.ended, 'detached');
  assert.deepEqual(effects(retargeted), []);
});

test('a lifecycle that never recorded its kind takes the current one and goes on', () => {
  const carried = state({ kind: undefined });
  const decision = decide(carried, observation({ kind: otherKind, job: job() }), config, T0);
  assert.equal(decision.state.ended, undefined);
  assert.deepEqual(decision.state.kind, otherKind);
});
