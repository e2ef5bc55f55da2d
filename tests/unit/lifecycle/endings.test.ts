// The end of a lifecycle: the stream deleted, or its StreamClass deleted (detached).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide } from '../../../workflows/lifecycle.ts';
import { config, cronJob, effects, job, observation, request, state, stream, T0 } from './cluster.ts';

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

test('detached stream completes without deleting anything', () => {
  const obs = observation({ detached: true, job: job(), backfillRequests: [request('bf-a')] });
  const decision = decide(state(), obs, config, T0);
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.done, true);
  assert.equal(decision.state.ended, 'detached');
});
