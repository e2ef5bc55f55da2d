// Suspend, resume and BackfillRequests arriving at any point of the lifecycle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide } from '../../../workflows/lifecycle.ts';
import {
  backfillJob,
  config,
  cronJob,
  effects,
  eventReasons,
  events,
  job,
  observation,
  request,
  spec,
  state,
  statusOf,
  statusWrites,
  stream,
  T0,
} from './cluster.ts';

const suspendedSpec = stream({ spec: spec({ suspended: true, configurationHash: 'hash-suspended' }) });

test('suspending a running stream deletes its Job', () => {
  const decision = decide(state(), observation({ stream: suspendedSpec, job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Suspended');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'job-1' }]);
  assert.deepEqual(eventReasons(decision), ['StreamSuspended']);
});

test('suspending a scheduled stream deletes its CronJob', () => {
  const scheduled = state({ phase: 'Scheduled', condition: { reason: 'StreamScheduled', message: 'x' } });
  const suspended = stream({ spec: spec({ suspended: true, backend: 'cronjob' }) });
  const decision = decide(scheduled, observation({ stream: suspended, cronJob: cronJob() }), config, T0);
  assert.equal(decision.state.phase, 'Suspended');
  assert.deepEqual(effects(decision), [{ type: 'deleteCronJob', uid: 'cron-1' }]);
});

test('suspending mid-backfill stops the backfill Job and leaves the request open', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'bf-a' });
  const obs = observation({ stream: suspendedSpec, job: backfillJob('bf-a'), backfillRequests: [request('bf-a')] });
  const decision = decide(backfilling, obs, config, T0);
  assert.equal(decision.state.phase, 'Suspended');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'bf-bf-a' }]);
  assert.equal(decision.state.activeBackfill, 'bf-a');
  assert.deepEqual(eventReasons(decision), ['BackfillSuspended', 'StreamSuspended']);
  assert.match(events(decision)[0]?.message ?? '', /during the backfill of request bf-a.*stays open until resume/);
});

test('suspending a streaming stream records no BackfillSuspended', () => {
  const decision = decide(state(), observation({ stream: suspendedSpec, job: job() }), config, T0);
  assert.deepEqual(eventReasons(decision), ['StreamSuspended']);
});

test('suspended stream whose backfill Job is already going away records BackfillSuspended only once', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'bf-a' });
  const stopped = decide(
    backfilling,
    observation({ stream: suspendedSpec, job: backfillJob('bf-a'), backfillRequests: [request('bf-a')] }),
    config,
    T0,
  );
  const stopping = observation({
    stream: stream({ spec: suspendedSpec.spec, status: statusOf(stopped.state) }),
    job: backfillJob('bf-a', { terminating: true }),
    backfillRequests: [request('bf-a')],
  });
  assert.deepEqual(decide(stopped.state, stopping, config, T0).actions, []);
});

test('suspended stream waits quietly once its workload is gone', () => {
  const suspended = decide(state(), observation({ stream: suspendedSpec }), config, T0).state;
  const shown = stream({ spec: suspendedSpec.spec, status: statusOf(suspended) });
  const decision = decide(suspended, observation({ stream: shown }), config, T0);
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.wakeAt, undefined);
});

test('resumed stream goes straight on to streaming, writing no interim Pending', () => {
  const suspended = state({ phase: 'Suspended', condition: { reason: 'StreamSuspended', message: 'x' } });
  const decision = decide(suspended, observation(), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob' }]);
  assert.deepEqual(eventReasons(decision), ['StreamResumed', 'StreamStarted']);
  // One status write, Running, right after the Job is made.
  assert.deepEqual(
    statusWrites(decision).map((write) => write.phase),
    ['Running'],
  );
});

test('resumed stream of the first lifecycle revision goes to Pending first (histories replay unchanged)', () => {
  const suspended = state({ phase: 'Suspended', condition: { reason: 'StreamSuspended', message: 'x' } });
  const decision = decide(suspended, observation(), { ...config, revision: 1 }, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), []);
  assert.deepEqual(eventReasons(decision), ['StreamResumed']);
  assert.equal(statusWrites(decision)[0]?.phase, 'Pending');
});

test('resumed stream announces that its interrupted backfill continues', () => {
  const suspended = state({
    phase: 'Suspended',
    condition: { reason: 'StreamSuspended', message: 'x' },
    activeBackfill: 'bf-a',
  });
  const decision = decide(suspended, observation({ backfillRequests: [request('bf-a')] }), config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a' }]);
  assert.deepEqual(eventReasons(decision), ['StreamResumed', 'BackfillInProgress', 'BackfillStarted']);
  assert.match(events(decision)[1]?.message ?? '', /bf-a was interrupted by the suspension/);
});

test('resumed stream with a request opened while suspended does not call it in progress', () => {
  const suspended = state({ phase: 'Suspended', condition: { reason: 'StreamSuspended', message: 'x' } });
  const decision = decide(suspended, observation({ backfillRequests: [request('bf-a')] }), config, T0);
  assert.deepEqual(eventReasons(decision), ['StreamResumed', 'BackfillStarted']);
});

test('resumed stream continues its open backfill', () => {
  const resumed = state({ phase: 'Pending', activeBackfill: 'bf-a' });
  const obs = observation({ backfillRequests: [request('bf-old', T0 - 5000), request('bf-a')] });
  const decision = decide(resumed, obs, config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a' }]);
});

test('resumed stream without an open backfill starts streaming', () => {
  const decision = decide(state({ phase: 'Pending' }), observation(), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob' }]);
});

test('BackfillRequest while suspended waits for resume', () => {
  const suspended = state({ phase: 'Suspended', condition: { reason: 'StreamSuspended', message: 'x' } });
  const decision = decide(
    suspended,
    observation({ stream: suspendedSpec, backfillRequests: [request('bf-a')] }),
    config,
    T0,
  );
  assert.equal(decision.state.phase, 'Suspended');
  assert.deepEqual(effects(decision), []);
});

test('BackfillRequest while streaming stops the streaming Job first', () => {
  const decision = decide(state(), observation({ job: job(), backfillRequests: [request('bf-a')] }), config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'job-1' }]);
  assert.deepEqual(eventReasons(decision), ['BackfillRequested']);
  assert.equal(decision.state.activeBackfill, 'bf-a');
});

test('BackfillRequest starts its backfill once the streaming Job is gone', () => {
  const stopping = state({ phase: 'Pending', activeBackfill: 'bf-a' });
  const decision = decide(stopping, observation({ backfillRequests: [request('bf-a')] }), config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a' }]);
});

test('backfill waits while the stopped streaming Job is still terminating', () => {
  const stopping = state({ phase: 'Pending', activeBackfill: 'bf-a' });
  const obs = observation({ job: job({ terminating: true }), backfillRequests: [request('bf-a')] });
  const decision = decide(stopping, obs, config, T0);
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.wakeAt, T0 + config.recheckMs);
});

test('BackfillRequest on a CronJob stream stops the CronJob and backfills', () => {
  const scheduled = state({ phase: 'Scheduled' });
  const obs = observation({
    stream: stream({ spec: spec({ backend: 'cronjob' }) }),
    cronJob: cronJob(),
    backfillRequests: [request('bf-a')],
  });
  const decision = decide(scheduled, obs, config, T0);
  assert.deepEqual(effects(decision), [{ type: 'deleteCronJob', uid: 'cron-1' }]);
  const next = decide(decision.state, { ...obs, cronJob: undefined }, config, T0);
  assert.deepEqual(effects(next), [{ type: 'applyBackfillJob', request: 'bf-a' }]);
});

test('request deleted mid-backfill stops that backfill', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'bf-a' });
  const decision = decide(backfilling, observation({ job: backfillJob('bf-a') }), config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'bf-bf-a' }]);
  assert.deepEqual(eventReasons(decision), ['BackfillNotRequested']);
});

test('several open requests run oldest first', () => {
  const obs = observation({ backfillRequests: [request('newer', T0 + 10), request('older', T0 - 10)] });
  const decision = decide(state({ phase: 'Pending' }), obs, config, T0);
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'older' }]);
});

test('the next open request runs after one completes', () => {
  const obs = observation({ backfillRequests: [request('older', T0 - 10, true), request('newer', T0 + 10)] });
  const decision = decide(state({ phase: 'Pending' }), obs, config, T0);
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'newer' }]);
});

test('BackfillRequest also runs on a Failed stream', () => {
  const failedJob = job({ state: 'failed', finishTime: T0 });
  const failed = state({
    phase: 'Failed',
    restartCount: 5,
    pendingRestart: { jobUid: failedJob.uid, cause: 'failed', message: 'the streaming Job failed' },
  });
  const obs = observation({ job: failedJob, backfillRequests: [request('bf-a')] });
  const stop = decide(failed, obs, config, T0);
  assert.deepEqual(effects(stop), [{ type: 'deleteJob', uid: failedJob.uid }]);
  const decision = decide(stop.state, { ...obs, job: undefined }, config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: 'bf-a' }]);
});

test('failed backfill Job is restarted after the backoff', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'bf-a' });
  const failedJob = backfillJob('bf-a', { state: 'failed', finishTime: T0 });
  const obs = observation({ job: failedJob, backfillRequests: [request('bf-a')] });
  const failed = decide(backfilling, obs, config, T0);
  assert.equal(failed.state.phase, 'Failed');
  assert.equal(failed.wakeAt, T0 + 10_000);
  assert.deepEqual(eventReasons(failed), ['StreamingJobFailed']);
  const restarted = decide(failed.state, obs, config, T0 + 10_000);
  assert.equal(restarted.state.phase, 'Backfilling');
  assert.deepEqual(effects(restarted), [{ type: 'applyBackfillJob', request: 'bf-a', replaces: failedJob.uid }]);
});

test('missing backfill template leaves the backfill Pending and retries', () => {
  const obs = observation({
    backfillRequests: [request('bf-a')],
    templates: {
      streaming: { ref: 'arcane/streaming', found: true },
      backfill: { ref: 'arcane/backfill', found: false },
    },
  });
  const decision = decide(state({ phase: 'Pending' }), obs, config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.equal(decision.state.condition.reason, 'TemplateNotFound');
  assert.match(decision.state.condition.message, /arcane\/backfill/);
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.wakeAt, T0 + config.recheckMs);
});
