// Decisions applied to a simulated cluster settle: each scenario reaches a decision with no actions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, INITIAL, job, MINUTE, observation, request, spec, state, statusOf, stream, T0 } from './cluster.ts';

test('new stream converges to Running through its initial backfill', () => {
  const cluster = new Cluster(observation());
  const backfilling = cluster.converge();
  assert.equal(cluster.state.phase, 'Backfilling');
  assert.equal(backfilling.wakeAt, undefined);
  cluster.finishJob('complete', 5 * MINUTE);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.stream.status.phase, 'Running');
  assert.deepEqual(cluster.observation.backfillRequests, [request(INITIAL, T0, true)]);
  assert.equal(cluster.job()?.backfilling, false);
  assert.deepEqual(
    cluster.recorded.map((event) => event.reason),
    ['StreamCreated', 'BackfillStarted', 'BackfillCompleted', 'StreamStarted'],
  );
  assert.deepEqual(
    cluster.state.transitions.map((t) => t.to),
    ['Pending', 'Backfilling', 'Pending', 'Running'],
  );
});

test('failing Job converges at every wake and stays Failed after the last restart', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  const delays: number[] = [];
  for (let failure = 1; failure <= 6; failure++) {
    cluster.finishJob('failed', 5000);
    const failed = cluster.converge();
    assert.equal(cluster.state.phase, 'Failed');
    if (failed.wakeAt === undefined) break;
    delays.push(failed.wakeAt - cluster.now);
    cluster.wakeAt(failed.wakeAt);
    cluster.converge();
    assert.equal(cluster.state.phase, 'Running');
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000]);
  assert.equal(cluster.state.phase, 'Failed');
  assert.equal(cluster.state.restartCount, 5);
  assert.equal(cluster.recorded.filter((event) => event.reason === 'StreamingJobFailed').length, 6);
  assert.equal(cluster.stream.status.condition?.type, 'Error');
});

test('briefly completing Job is restarted with a growing backoff and never Failed', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  const delays: number[] = [];
  for (let completion = 1; completion <= 3; completion++) {
    cluster.finishJob('complete', 5000);
    const waiting = cluster.converge();
    assert.equal(cluster.state.phase, 'Pending');
    assert.ok(waiting.wakeAt !== undefined);
    delays.push(waiting.wakeAt - cluster.now);
    cluster.wakeAt(waiting.wakeAt);
    cluster.converge();
    assert.equal(cluster.state.phase, 'Running');
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000]);
  assert.ok(!cluster.state.transitions.some((t) => t.to === 'Failed'));
});

test('BackfillRequest during streaming converges back to Running', () => {
  const running = state();
  const cluster = new Cluster(observation({ job: job(), stream: stream({ status: statusOf(running) }) }), running);
  cluster.observation.backfillRequests.push(request('manual-1', T0 + MINUTE));
  cluster.converge();
  assert.equal(cluster.state.phase, 'Backfilling');
  assert.equal(cluster.job()?.backfillId, 'manual-1');
  cluster.finishJob('complete', MINUTE);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.job()?.backfilling, false);
  assert.deepEqual(cluster.observation.backfillRequests, [request('manual-1', T0 + MINUTE, true)]);
});

test('suspend and resume converge', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  cluster.changeSpec({ suspended: true, configurationHash: 'hash-suspended' });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Suspended');
  assert.equal(cluster.job(), undefined);
  cluster.changeSpec({ suspended: false, configurationHash: 'hash-v1' });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.deepEqual(
    cluster.state.transitions.map((t) => t.to),
    ['Suspended', 'Running'],
  );
  // Resuming goes straight on: one status write per settled state, no interim Pending.
  assert.deepEqual(
    cluster.statusWrites.map((write) => write.phase),
    ['Suspended', 'Running'],
  );
});

test('backend swaps from Job to CronJob and back converge', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  cluster.changeSpec({ backend: 'cronjob', configurationHash: 'hash-batch' });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Scheduled');
  assert.equal(cluster.job(), undefined);
  assert.equal(cluster.cronJob()?.configurationHash, 'hash-batch');
  cluster.changeSpec({ backend: 'job', configurationHash: 'hash-cdc' });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.cronJob(), undefined);
  assert.equal(cluster.job()?.configurationHash, 'hash-cdc');
});

test('spec change during a backfill converges to streaming with the newest spec', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'manual-1' });
  const cluster = new Cluster(observation({ backfillRequests: [request('manual-1')] }), backfilling);
  cluster.converge();
  cluster.changeSpec({ configurationHash: 'hash-v2' });
  cluster.converge();
  assert.equal(cluster.job()?.backfilling, true);
  cluster.changeSpec({ configurationHash: 'hash-v3' });
  cluster.finishJob('complete', MINUTE);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.job()?.configurationHash, 'hash-v3');
  assert.equal(cluster.stream.status.configurationHash, 'hash-v3');
});

test('adopted stream converges without replacing its Job', () => {
  const adopted = stream({ status: { phase: 'Running', configurationHash: 'hash-v1' } });
  const cluster = new Cluster(observation({ stream: adopted, job: job({ uid: 'upstream', labelled: false }) }));
  cluster.converge();
  assert.equal(cluster.job()?.uid, 'upstream');
  assert.equal(cluster.job()?.labelled, true);
  assert.equal(cluster.state.phase, 'Running');
  assert.deepEqual(cluster.observation.backfillRequests, []);
});

test('stream created suspended converges to Running on resume without a backfill', () => {
  const cluster = new Cluster(observation({ stream: stream({ spec: spec({ suspended: true }) }) }));
  cluster.converge();
  assert.equal(cluster.state.phase, 'Suspended');
  cluster.changeSpec({ suspended: false, configurationHash: 'hash-v2' });
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.deepEqual(cluster.observation.backfillRequests, []);
});

test('deleted stream converges to done', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  delete cluster.observation.stream;
  const last = cluster.converge();
  assert.equal(last.done, true);
  assert.equal(cluster.job(), undefined);
});

test('transitions stay bounded however long the stream lives', () => {
  const cluster = new Cluster(observation({ job: job() }), state());
  for (let cycle = 0; cycle < 15; cycle++) {
    cluster.changeSpec({ suspended: true, configurationHash: `suspended-${cycle}` });
    cluster.converge();
    cluster.changeSpec({ suspended: false, configurationHash: `running-${cycle}` });
    cluster.converge();
  }
  assert.equal(cluster.state.transitions.length, 20);
  assert.equal(cluster.state.transitions.at(-1)?.to, 'Running');
});

test('BackfillRequest on a CronJob stream converges back to Scheduled', () => {
  const cluster = new Cluster(observation({ stream: stream({ spec: spec({ backend: 'cronjob' }) }) }));
  cluster.converge();
  assert.equal(cluster.state.phase, 'Scheduled');
  cluster.observation.backfillRequests.push(request('manual-1', T0 + MINUTE));
  cluster.converge();
  assert.equal(cluster.state.phase, 'Backfilling');
  assert.equal(cluster.cronJob(), undefined);
  cluster.finishJob('complete', MINUTE);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Scheduled');
  assert.equal(cluster.job(), undefined);
  assert.ok(cluster.cronJob());
});

test('missing template converges to Pending and recovers when it appears', () => {
  const cluster = new Cluster(observation(), state({ phase: 'Pending' }));
  cluster.observation.templates.streaming = { ref: 'arcane/streaming', found: false };
  const waiting = cluster.converge();
  assert.equal(cluster.state.condition.reason, 'TemplateNotFound');
  cluster.observation.templates.streaming = { ref: 'arcane/streaming', found: true, generation: 1 };
  cluster.wakeAt(waiting.wakeAt);
  cluster.converge();
  assert.equal(cluster.state.phase, 'Running');
  assert.equal(cluster.stream.status.condition?.reason, 'StreamRunning');
});
