// Job failures and completions, automatic restarts with backoff, and the manual ways out of Failed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, requestRestart, type PendingRestart } from '../../../workflows/lifecycle.ts';
import {
  config,
  cronJob,
  effects,
  eventReasons,
  events,
  job,
  MINUTE,
  observation,
  spec,
  state,
  statusWrites,
  stream,
  T0,
} from './cluster.ts';

const failedAt = T0 + 2 * MINUTE;
const failedJob = job({ state: 'failed', finishTime: failedAt, failureMessage: 'BackoffLimitExceeded' });

function failedState(restartCount: number, pending: Partial<PendingRestart> = {}) {
  return state({
    phase: 'Failed',
    condition: { reason: 'StreamFailed', message: 'the streaming Job failed' },
    restartCount,
    pendingRestart: { jobUid: failedJob.uid, cause: 'failed', message: 'the streaming Job failed', ...pending },
  });
}

test('failed streaming Job moves the stream to Failed at once with restart 1 of 5', () => {
  const decision = decide(state(), observation({ job: failedJob }), config, failedAt);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.state.restartCount, 1);
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.wakeAt, failedAt + 10_000);
  const [event] = events(decision);
  assert.equal(event?.eventType, 'Warning');
  assert.equal(event?.reason, 'StreamingJobFailed');
  assert.equal(
    event?.message,
    'the streaming Job failed (BackoffLimitExceeded); restart 1 of 5 at 2025-03-01T12:02:10.000Z',
  );
  assert.equal(statusWrites(decision)[0]?.conditionType, 'Error');
  assert.equal(statusWrites(decision)[0]?.message, event?.message);
});

test('a failure is counted once however often it is observed', () => {
  const failed = decide(state(), observation({ job: failedJob }), config, failedAt);
  const again = decide(failed.state, observation({ job: failedJob }), config, failedAt + 3000);
  assert.equal(again.state.restartCount, 1);
  assert.deepEqual(eventReasons(again), []);
  assert.deepEqual(effects(again), []);
  assert.equal(again.wakeAt, failedAt + 10_000);
});

test('restart after the backoff brings the stream back to Running', () => {
  const failed = decide(state(), observation({ job: failedJob }), config, failedAt);
  const decision = decide(failed.state, observation({ job: failedJob }), config, failedAt + 10_000);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: failedJob.uid }]);
  assert.deepEqual(eventReasons(decision), ['StreamRestarting']);
  assert.match(events(decision)[0]?.message ?? '', /^restart 1 of 5/);
  assert.equal(decision.state.pendingRestart, undefined);
});

test('restart backoff doubles with each restart', () => {
  const decision = decide(state({ restartCount: 3 }), observation({ job: failedJob }), config, failedAt);
  assert.equal(decision.state.restartCount, 4);
  assert.equal(decision.wakeAt, failedAt + 80_000);
  assert.match(decision.state.condition.message, /restart 4 of 5/);
});

test('restart backoff is capped', () => {
  const patient = { ...config, maxRestarts: 20 };
  const decision = decide(state({ restartCount: 12 }), observation({ job: failedJob }), patient, failedAt);
  assert.equal(decision.wakeAt, failedAt + patient.restartBackoffCapMs);
});

test('after the restart limit the stream stays Failed and says why', () => {
  const decision = decide(state({ restartCount: 5 }), observation({ job: failedJob }), config, failedAt);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.wakeAt, undefined);
  assert.deepEqual(effects(decision), []);
  assert.match(events(decision)[0]?.message ?? '', /all 5 automatic restarts since the last stable run are used/);
  const later = decide(decision.state, observation({ job: failedJob }), config, failedAt + 60 * MINUTE);
  assert.deepEqual(effects(later), []);
  assert.equal(later.wakeAt, undefined);
});

test('exhausted stream stays Failed when its failed Job is deleted by hand', () => {
  const decision = decide(failedState(5), observation(), config, failedAt);
  assert.equal(decision.state.phase, 'Failed');
  assert.deepEqual(effects(decision), []);
});

test('maxRestarts 0 keeps upstream behaviour: Failed without restarts', () => {
  const upstream = { ...config, maxRestarts: 0 };
  const decision = decide(state(), observation({ job: failedJob }), upstream, failedAt);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.wakeAt, undefined);
  assert.match(events(decision)[0]?.message ?? '', /automatic restarts are off/);
});

test('restart count resets after the Job ran for the stable period', () => {
  const restarted = state({ restartCount: 3, lastJobStart: T0 });
  const early = decide(restarted, observation({ job: job({ startTime: T0 }) }), config, T0 + MINUTE);
  assert.equal(early.state.restartCount, 3);
  assert.equal(early.wakeAt, T0 + config.stablePeriodMs);
  const stable = decide(early.state, observation({ job: job({ startTime: T0 }) }), config, T0 + config.stablePeriodMs);
  assert.equal(stable.state.restartCount, 0);
  assert.equal(stable.wakeAt, undefined);
});

test('failure after a stable run counts as the first restart again', () => {
  const longRun = job({ state: 'failed', startTime: T0, finishTime: T0 + 2 * config.stablePeriodMs });
  const decision = decide(
    state({ restartCount: 5 }),
    observation({ job: longRun }),
    config,
    T0 + 2 * config.stablePeriodMs,
  );
  assert.equal(decision.state.restartCount, 1);
  assert.match(decision.state.condition.message, /restart 1 of 5/);
});

test('completed streaming Job that ran the stable period starts again at once', () => {
  const completed = job({ state: 'complete', startTime: T0, finishTime: T0 + 3 * config.stablePeriodMs });
  const decision = decide(state(), observation({ job: completed }), config, T0 + 3 * config.stablePeriodMs);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: completed.uid }]);
  assert.deepEqual(eventReasons(decision), ['StreamRestarting']);
});

test('completed streaming Job that ran briefly waits the backoff and is not Failed', () => {
  const completed = job({ state: 'complete', startTime: T0, finishTime: T0 + 30_000 });
  const decision = decide(state(), observation({ job: completed }), config, T0 + 30_000);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.wakeAt, T0 + 40_000);
  assert.match(decision.state.condition.message, /completed after 30s, within the stable period of 10m/);
  assert.equal(decision.state.restartCount, 0);
});

test('briefly completed Job starts again once the backoff elapsed', () => {
  const completed = job({ state: 'complete', startTime: T0, finishTime: T0 + 30_000 });
  const waiting = decide(state(), observation({ job: completed }), config, T0 + 30_000);
  const decision = decide(waiting.state, observation({ job: completed }), config, T0 + 40_000);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: completed.uid }]);
});

test('streaming Job deleted by hand is recreated', () => {
  const decision = decide(state(), observation(), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob' }]);
  assert.deepEqual(eventReasons(decision), ['StreamingContinued']);
  assert.match(events(decision)[0]?.message ?? '', /deleted outside the operator/);
});

test('CronJob deleted by hand is recreated', () => {
  const cronStream = stream({ spec: spec({ backend: 'cronjob' }) });
  const decision = decide(state({ phase: 'Scheduled' }), observation({ stream: cronStream }), config, T0);
  assert.deepEqual(effects(decision), [{ type: 'applyCronJob' }]);
  assert.match(events(decision)[0]?.message ?? '', /deleted outside the operator/);
});

test('restart request replaces the Job now and clears Failed', () => {
  const requested = requestRestart(failedState(5));
  const decision = decide(requested, observation({ job: failedJob }), config, failedAt);
  assert.equal(decision.state.phase, 'Running');
  assert.equal(decision.state.restartCount, 0);
  assert.equal(decision.state.restartRequested, false);
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: failedJob.uid }]);
  assert.match(events(decision)[0]?.message ?? '', /restart requested through the restart update/);
});

test('restart request replaces a running Job', () => {
  const decision = decide(requestRestart(state()), observation({ job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: 'job-1' }]);
  assert.deepEqual(eventReasons(decision), ['StreamRestarting']);
});

test('spec change leaves Failed and starts a Job from the new spec', () => {
  const obs = observation({ stream: stream({ spec: spec({ configurationHash: 'hash-v2' }) }), job: failedJob });
  const decision = decide(failedState(5), obs, config, failedAt);
  assert.equal(decision.state.phase, 'Running');
  assert.equal(decision.state.restartCount, 0);
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: failedJob.uid }]);
});

test('suspend and resume leaves Failed', () => {
  const suspendedSpec = stream({ spec: spec({ suspended: true, configurationHash: 'hash-s' }) });
  const suspended = decide(failedState(5), observation({ stream: suspendedSpec, job: failedJob }), config, failedAt);
  assert.equal(suspended.state.phase, 'Suspended');
  assert.deepEqual(effects(suspended), [{ type: 'deleteJob', uid: failedJob.uid }]);
  assert.equal(suspended.state.restartCount, 0);
  assert.equal(suspended.state.pendingRestart, undefined);
  const resumed = decide(suspended.state, observation(), config, failedAt);
  const running = decide(resumed.state, observation(), config, failedAt);
  assert.equal(running.state.phase, 'Running');
  assert.deepEqual(effects(running), [{ type: 'applyStreamingJob' }]);
});

test('restart request on a CronJob stream that raced the validator changes nothing', () => {
  const cronStream = stream({ spec: spec({ backend: 'cronjob' }) });
  const decision = decide(
    requestRestart(state({ phase: 'Scheduled' })),
    observation({ stream: cronStream, cronJob: cronJob() }),
    config,
    T0,
  );
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.state.restartRequested, false);
});

test('failed Job deleted during its backoff is created when the backoff elapses', () => {
  const waiting = failedState(1, { dueAt: failedAt + 10_000 });
  const early = decide(waiting, observation(), config, failedAt + 5000);
  assert.deepEqual(effects(early), []);
  assert.equal(early.wakeAt, failedAt + 10_000);
  const due = decide(waiting, observation(), config, failedAt + 10_000);
  assert.equal(due.state.phase, 'Running');
  assert.deepEqual(effects(due), [{ type: 'applyStreamingJob' }]);
});

test('spec change restarts an exhausted backfill Job at once', () => {
  const failedBackfill = job({ uid: 'bf-job', backfilling: true, backfillId: 'bf-a', state: 'failed', finishTime: T0 });
  const halted = state({
    phase: 'Failed',
    activeBackfill: 'bf-a',
    restartCount: 5,
    pendingRestart: { jobUid: 'bf-job', backfillRequest: 'bf-a', cause: 'failed', message: 'the backfill Job failed' },
  });
  const obs = observation({
    stream: stream({ spec: spec({ configurationHash: 'hash-v2' }) }),
    job: failedBackfill,
    backfillRequests: [{ name: 'bf-a', createdAt: T0, completed: false }],
  });
  const decision = decide(halted, obs, config, T0 + MINUTE);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.equal(decision.state.restartCount, 0);
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a', replaces: 'bf-job' }]);
  assert.match(events(decision)[0]?.message ?? '', /configuration changed/);
});

test('restart request restarts an exhausted backfill Job', () => {
  const failedBackfill = job({ uid: 'bf-job', backfilling: true, backfillId: 'bf-a', state: 'failed', finishTime: T0 });
  const halted = state({
    phase: 'Failed',
    activeBackfill: 'bf-a',
    restartCount: 5,
    pendingRestart: { jobUid: 'bf-job', backfillRequest: 'bf-a', cause: 'failed', message: 'the backfill Job failed' },
  });
  const obs = observation({
    job: failedBackfill,
    backfillRequests: [{ name: 'bf-a', createdAt: T0, completed: false }],
  });
  const decision = decide(requestRestart(halted), obs, config, T0 + MINUTE);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a', replaces: 'bf-job' }]);
});
