// What production plugins do that our own test plugin did not: status schemas that prune condition fields, Jobs that
// vanish a second after they finish, suspension of a stream whose spec is broken, batch streams without backfills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, initialStreamState, type InvalidSpec } from '../../../workflows/lifecycle.ts';
import { releases } from '../../../workflows/lifecycle/job-removal.ts';
import {
  backfillJob,
  Cluster,
  config,
  cronJob,
  effects,
  INITIAL,
  job,
  MINUTE,
  observation,
  request,
  spec,
  state,
  stream,
  T0,
} from './cluster.ts';

const pruning = { prunes: true };

function newStreamToRunning(options = pruning): Cluster {
  const cluster = new Cluster(observation(), initialStreamState(), T0, options);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Backfilling');
  cluster.finishJob('complete', MINUTE);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  return cluster;
}

for (const prunes of [false, true]) {
  const schema = prunes ? 'a pruning status schema' : 'a schema that keeps every condition field';
  test(`a new stream writes its status once per settled state, on ${schema}`, () => {
    const cluster = newStreamToRunning({ prunes });
    assert.deepEqual(
      cluster.statusWrites.map((write) => write.phase),
      ['Backfilling', 'Running'],
    );
  });

  test(`a Running stream decides nothing more once its status is written, on ${schema}`, () => {
    const cluster = newStreamToRunning({ prunes });
    const calls = cluster.calls;
    const again = cluster.converge();
    assert.equal(again.rounds, 1);
    assert.deepEqual(again.actions, []);
    assert.equal(again.wakeAt, undefined);
    assert.equal(cluster.calls, calls);
  });
}

test('a backfill Job deleted by its TTL before it was seen completed still completes its request, once', () => {
  const cluster = new Cluster(observation(), initialStreamState(), T0, pruning);
  cluster.converge();
  cluster.finishJob('complete', MINUTE);
  cluster.deleteJob();
  assert.equal(cluster.job()?.terminating, true);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.deepEqual(cluster.observation.backfillRequests, [request(INITIAL, T0, true)]);
  assert.equal(cluster.job()?.backfilling, false);
  assert.equal(cluster.recorded.filter((event) => event.reason === 'BackfillStarted').length, 1);
  assert.equal(cluster.recorded.filter((event) => event.reason === 'BackfillCompleted').length, 1);
});

test('a finished Job still held by the finalizer is released once its outcome is read', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: INITIAL });
  const done = backfillJob(INITIAL, { state: 'complete', terminating: true, held: true, finishTime: T0 });
  const decision = decide(backfilling, observation({ job: done, backfillRequests: [request(INITIAL)] }), config, T0);
  // deleteJob releases the Job too: the request is marked completed first.
  assert.deepEqual(effects(decision), [
    { type: 'completeBackfillRequest', name: INITIAL },
    // Its pods have finished, so it may go at once, without waiting for them.
    { type: 'deleteJob', uid: done.uid, completed: true },
  ]);
});

test('a Job its TTL deleted is released; a completed one is let go at once, a failed one after its pods', () => {
  // The TTL controller deletes in the foreground: the Job would stay until its pods are gone.
  const deleted = { terminating: true, held: true, finishTime: T0 };
  const complete = job({ ...deleted, state: 'complete' });
  const failed = job({ ...deleted, state: 'failed' });
  assert.deepEqual(releases(observation({ job: complete }), []), [
    { type: 'releaseJob', uid: complete.uid, completed: true },
  ]);
  // A failed Job's pods may still be stopping: it goes after them, so a new Job of that name never runs beside them.
  assert.deepEqual(releases(observation({ job: failed }), []), [{ type: 'releaseJob', uid: failed.uid }]);
  // Not held, or not deleted: nothing to release.
  assert.deepEqual(releases(observation({ job: job({ ...deleted, state: 'complete', held: false }) }), []), []);
  assert.deepEqual(releases(observation({ job: job({ state: 'complete', held: true }) }), []), []);
  // An action that removes the Job releases it itself.
  assert.deepEqual(releases(observation({ job: complete }), [{ type: 'deleteJob', uid: complete.uid }]), []);
});

test('a streaming Job that failed and was deleted by its TTL goes through Failed and its backoff', () => {
  const cluster = newStreamToRunning();
  cluster.finishJob('failed', 2 * MINUTE);
  cluster.deleteJob();
  const failed = cluster.converge();
  assert.equal(cluster.state.phase, 'Failed');
  assert.equal(cluster.job(), undefined, 'released once the failure was recorded');
  assert.equal(cluster.state.restartCount, 1);
  assert.ok(cluster.recorded.some((event) => event.reason === 'StreamingJobFailed'));
  assert.equal(cluster.statusWrites.at(-1)?.phase, 'Failed');
  // Nothing comes back before the backoff is over.
  assert.deepEqual(cluster.converge().actions, []);
  assert.equal(cluster.job(), undefined);
  cluster.wakeAt(failed.wakeAt);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.job()?.state, 'active');
});

const brokenSecret: InvalidSpec = {
  valid: false,
  reason: 'InvalidSpec',
  field: 'spec.streamConfigurationSecretRef',
  message: 'spec.streamConfigurationSecretRef: required, an object with a name',
};

test('stop stops a stream whose spec is invalid', () => {
  const decision = decide(
    state(),
    observation({ stream: stream({ spec: { ...brokenSecret, suspended: true } }), job: job() }),
    config,
    T0,
  );
  assert.equal(decision.state.phase, 'Suspended');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'job-1' }]);
});

test('an invalid spec that does not ask to suspend still fails and leaves the Job alone', () => {
  const decision = decide(
    state(),
    observation({ stream: stream({ spec: { ...brokenSecret, suspended: false } }), job: job() }),
    config,
    T0,
  );
  assert.equal(decision.state.phase, 'Failed');
  assert.deepEqual(effects(decision), []);
});

const brokenBackfillTemplate = {
  streaming: { ref: 'arcane/streaming', found: true, generation: 1 },
  backfill: { ref: 'arcane/backfill', found: true, generation: 1, problem: 'spec.kind: must be Job' },
};

test('a broken backfill template does not fail a stream that needs no backfill', () => {
  const decision = decide(state(), observation({ templates: brokenBackfillTemplate, job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), []);
});

test('a backfill with a broken backfill template fails before anything is stopped', () => {
  const obs = observation({ templates: brokenBackfillTemplate, job: job(), backfillRequests: [request('bf-a')] });
  const decision = decide(state(), obs, config, T0);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.state.condition.reason, 'InvalidTemplate');
  assert.deepEqual(effects(decision), []);
});

test('a batch stream without a backfill template refuses a backfill request and keeps its CronJob', () => {
  const batch = stream({ spec: spec({ backend: 'cronjob' }) });
  const templates = { streaming: { ref: 'arcane/streaming', found: true, generation: 1 } };
  const cluster = new Cluster(
    observation({ stream: batch, templates, cronJob: cronJob(), backfillRequests: [request('bf-a')] }),
    state({ phase: 'Scheduled', condition: { reason: 'StreamScheduled', message: 'x' } }),
  );
  cluster.converge();
  assert.equal(cluster.state.phase, 'Scheduled');
  assert.equal(cluster.cronJob()?.uid, 'cron-1');
  assert.equal(cluster.observation.backfillRequests[0]?.refused, true);
  assert.equal(cluster.observation.backfillRequests[0]?.completed, false);
  assert.deepEqual(
    cluster.recorded.map((event) => event.reason),
    ['BackfillNotRequested'],
  );
});

test('a stream taken over in Failed stays Failed until suspend and resume', () => {
  const upstreamFailed = stream({
    status: { phase: 'Failed', configurationHash: 'hash-v1', condition: { type: 'Error', message: 'job failed' } },
  });
  const failedJob = job({ state: 'failed', labelled: false });
  const cluster = new Cluster(observation({ stream: upstreamFailed, job: failedJob }), initialStreamState());
  const decision = cluster.converge();
  assert.equal(cluster.state.phase, 'Failed');
  assert.equal(decision.wakeAt, undefined);
  assert.equal(cluster.job()?.uid, failedJob.uid, 'the failed Job is not restarted');
  cluster.changeSpec({ suspended: true });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Suspended');
  cluster.changeSpec({ suspended: false });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
});

test('a backfill that completed as the stream was suspended is not run again on resume', () => {
  const cluster = new Cluster(observation(), initialStreamState());
  cluster.converge();
  cluster.finishJob('complete', MINUTE);
  cluster.changeSpec({ suspended: true });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Suspended');
  assert.deepEqual(cluster.observation.backfillRequests, [request(INITIAL, T0, true)]);
  cluster.changeSpec({ suspended: false });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.recorded.filter((event) => event.reason === 'BackfillStarted').length, 1);
});
