// New and adopted streams: the initial backfill, the backends, and takeover from upstream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, initialStreamState } from '../../../workflows/lifecycle.ts';
import {
  backfillJob,
  config,
  cronJob,
  effects,
  eventReasons,
  events,
  INITIAL,
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

const fresh = initialStreamState();

test('new stream requests its initial backfill before streaming', () => {
  const decision = decide(fresh, observation(), config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), [{ type: 'createBackfillRequest', name: INITIAL, initial: true }]);
  assert.deepEqual(eventReasons(decision), ['StreamCreated']);
  // Nothing is written while the request is being made: the status follows once the backfill runs.
  assert.deepEqual(statusWrites(decision), []);
  assert.equal(decision.wakeAt, undefined);
});

test('initial backfill request runs as a backfill Job', () => {
  const pending = decide(fresh, observation(), config, T0).state;
  const decision = decide(pending, observation({ backfillRequests: [request(INITIAL)] }), config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: INITIAL }]);
  assert.deepEqual(eventReasons(decision), ['BackfillStarted']);
  // The Backfilling status follows the Job's start in the same round.
  assert.deepEqual(
    decision.actions.map((action) => action.type),
    ['applyBackfillJob', 'writeStatus', 'recordEvent'],
  );
  assert.equal(statusWrites(decision)[0]?.phase, 'Backfilling');
  assert.equal(statusWrites(decision)[0]?.conditionType, 'Ready');
  // Once the Job and the status show, nothing is left to do.
  const written = statusWrites(decision)[0]!;
  const settledStream = stream({
    status: {
      phase: 'Backfilling',
      configurationHash: written.configurationHash,
      condition: { type: 'Ready', reason: written.reason, message: written.message, observedGeneration: 1 },
    },
  });
  const started = observation({
    stream: settledStream,
    backfillRequests: [request(INITIAL)],
    job: backfillJob(INITIAL),
  });
  assert.deepEqual(decide(decision.state, started, config, T0).actions, []);
});

test('revision 2 wrote the Backfilling status a round after starting the backfill Job', () => {
  const revision2 = { ...config, revision: 2 as const };
  const pending = decide(fresh, observation(), revision2, T0).state;
  const decision = decide(pending, observation({ backfillRequests: [request(INITIAL)] }), revision2, T0);
  assert.deepEqual(statusWrites(decision), []);
  const started = observation({ backfillRequests: [request(INITIAL)], job: backfillJob(INITIAL) });
  const settled = decide(decision.state, started, revision2, T0);
  assert.deepEqual(effects(settled), []);
  assert.equal(statusWrites(settled)[0]?.phase, 'Backfilling');
});

test('completed initial backfill is marked completed before its Job is removed', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: INITIAL });
  const done = backfillJob(INITIAL, { state: 'complete', finishTime: T0 + 60_000 });
  const decision = decide(backfilling, observation({ job: done, backfillRequests: [request(INITIAL)] }), config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), [
    { type: 'completeBackfillRequest', name: INITIAL },
    // Its pods have finished, so it may go at once, without waiting for them.
    { type: 'deleteJob', uid: done.uid, completed: true },
  ]);
  assert.deepEqual(eventReasons(decision), ['BackfillCompleted']);
  assert.equal(decision.state.activeBackfill, undefined);
});

test('streaming Job starts once the initial backfill is completed', () => {
  const afterBackfill = state({ phase: 'Pending' });
  const decision = decide(afterBackfill, observation({ backfillRequests: [request(INITIAL, T0, true)] }), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob' }]);
  assert.deepEqual(eventReasons(decision), ['StreamStarted']);
});

test('stream created suspended skips the initial backfill', () => {
  const decision = decide(fresh, observation({ stream: stream({ spec: spec({ suspended: true }) }) }), config, T0);
  assert.equal(decision.state.phase, 'Suspended');
  assert.equal(decision.state.initialBackfill, 'skipped');
  assert.deepEqual(effects(decision), []);
  assert.deepEqual(events(decision), [
    {
      eventType: 'Normal',
      reason: 'StreamSuspended',
      message: 'the stream was created suspended, which skips the initial backfill; resuming starts streaming',
    },
  ]);
});

test('CronJob stream gets no initial backfill and is Scheduled', () => {
  const cronStream = stream({ spec: spec({ backend: 'cronjob' }) });
  const decision = decide(fresh, observation({ stream: cronStream }), config, T0);
  assert.equal(decision.state.phase, 'Scheduled');
  assert.equal(decision.state.initialBackfill, 'skipped');
  assert.deepEqual(effects(decision), [{ type: 'applyCronJob' }]);
  assert.deepEqual(eventReasons(decision), ['StreamingScheduled']);
  const settled = decide(decision.state, observation({ stream: cronStream, cronJob: cronJob() }), config, T0);
  assert.deepEqual(effects(settled), []);
  assert.equal(statusWrites(settled)[0]?.reason, 'StreamScheduled');
});

test('stream with no backend keeps an empty phase with a NoValidBackend warning', () => {
  const decision = decide(fresh, observation({ stream: stream({ spec: spec({ backend: 'none' }) }) }), config, T0);
  assert.equal(decision.state.phase, '');
  assert.deepEqual(effects(decision), []);
  const [event] = events(decision);
  assert.equal(event?.eventType, 'Warning');
  assert.equal(event?.reason, 'NoValidBackend');
  const [status] = statusWrites(decision);
  assert.equal(status?.phase, '');
  assert.equal(status?.reason, 'NoValidBackend');
  assert.match(status?.message ?? '', /no streaming backend/);
});

test('stream without a backend is not warned about again while nothing changes', () => {
  const obs = observation({ stream: stream({ spec: spec({ backend: 'none' }) }) });
  const first = decide(fresh, obs, config, T0);
  const [written] = statusWrites(first);
  assert.ok(written);
  const shown = {
    phase: written.phase,
    configurationHash: written.configurationHash,
    condition: { type: written.conditionType, reason: written.reason, message: written.message, observedGeneration: 1 },
  };
  const again = decide(
    first.state,
    { ...obs, stream: stream({ spec: spec({ backend: 'none' }), status: shown }) },
    config,
    T0,
  );
  assert.deepEqual(again.actions, []);
});

test('stream that gets a backend later is backfilled like a new one', () => {
  const noBackend = decide(fresh, observation({ stream: stream({ spec: spec({ backend: 'none' }) }) }), config, T0);
  const decision = decide(noBackend.state, observation(), config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.deepEqual(effects(decision), [{ type: 'createBackfillRequest', name: INITIAL, initial: true }]);
});

test('stream adopted with a phase is not backfilled again', () => {
  const adopted = stream({ status: { phase: 'Running', configurationHash: 'hash-v1' } });
  const decision = decide(fresh, observation({ stream: adopted, job: job() }), config, T0);
  assert.equal(decision.state.initialBackfill, 'skipped');
  assert.ok(!effects(decision).some((action) => action.type === 'createBackfillRequest'));
  assert.equal(decision.state.phase, 'Running');
});

test('adopted Job with the same hash is not restarted, only labelled', () => {
  const adopted = stream({ status: { phase: 'Running', configurationHash: 'hash-v1' } });
  const upstreamJob = job({ uid: 'upstream-job', labelled: false, templateGeneration: undefined });
  const decision = decide(fresh, observation({ stream: adopted, job: upstreamJob }), config, T0);
  assert.deepEqual(effects(decision), [{ type: 'adoptJob', uid: 'upstream-job' }]);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(eventReasons(decision), []);
});

test('adopted Job without a template generation is not restarted for a newer template', () => {
  const adopted = stream({ status: { phase: 'Running', configurationHash: 'hash-v1' } });
  const obs = observation({
    stream: adopted,
    job: job({ templateGeneration: undefined }),
    templates: { streaming: { ref: 'arcane/streaming', found: true, generation: 9 } },
  });
  const decision = decide(fresh, obs, config, T0);
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.state.phase, 'Running');
});

test('adopted stream keeps the backfill Job it is already running', () => {
  const adopted = stream({ status: { phase: 'Backfilling', configurationHash: 'hash-v1' } });
  const running = backfillJob('manual-1', { labelled: false, backfillId: undefined });
  const obs = observation({ stream: adopted, job: running, backfillRequests: [request('manual-1')] });
  const decision = decide(fresh, obs, config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.equal(decision.state.activeBackfill, 'manual-1');
  assert.deepEqual(effects(decision), [{ type: 'adoptJob', uid: running.uid }]);
  assert.deepEqual(eventReasons(decision), ['BackfillInProgress']);
  assert.match(events(decision)[0]?.message ?? '', /manual-1 is already running; continuing with it/);
  const shown = stream({ status: statusOf(decision.state) });
  const next = decide(decision.state, { ...obs, stream: shown, job: { ...running, labelled: true } }, config, T0);
  assert.deepEqual(next.actions, [], 'announced once');
});

test('a backfill Job this lifecycle started is not announced as taken over', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: INITIAL });
  const obs = observation({
    stream: stream({ status: statusOf(backfilling) }),
    job: backfillJob(INITIAL),
    backfillRequests: [request(INITIAL)],
  });
  assert.deepEqual(eventReasons(decide(backfilling, obs, config, T0)), []);
});

test('adopted scheduled stream keeps its CronJob', () => {
  const adopted = stream({
    spec: spec({ backend: 'cronjob' }),
    status: { phase: 'Scheduled', configurationHash: 'hash-v1' },
  });
  const decision = decide(fresh, observation({ stream: adopted, cronJob: cronJob({ labelled: false }) }), config, T0);
  assert.equal(decision.state.phase, 'Scheduled');
  assert.deepEqual(effects(decision), [{ type: 'adoptCronJob', uid: 'cron-1' }]);
});

test('initial backfill request that already exists is not created twice', () => {
  const undecided = { ...fresh, initialBackfill: 'undecided' as const };
  const decision = decide(undecided, observation({ backfillRequests: [request(INITIAL)] }), config, T0);
  assert.equal(decision.state.initialBackfill, 'requested');
  assert.deepEqual(effects(decision), [{ type: 'applyBackfillJob', request: INITIAL }]);
});

test('steady running stream writes nothing when its status is already up to date', () => {
  const running = state();
  const decision = decide(
    running,
    observation({ stream: stream({ status: statusOf(running) }), job: job() }),
    config,
    T0,
  );
  assert.deepEqual(decision.actions, []);
  assert.equal(decision.wakeAt, undefined);
});

test('new generation of an unchanged spec only updates the observed generation', () => {
  const running = state();
  const bumped = stream({ generation: 2, status: statusOf(running, 1) });
  const decision = decide(running, observation({ stream: bumped, job: job() }), config, T0);
  assert.deepEqual(
    decision.actions.map((action) => action.type),
    ['writeStatus'],
  );
  assert.equal(statusWrites(decision)[0]?.observedGeneration, 2);
});

test('adopted Job about to be replaced is not labelled first', () => {
  const adopted = stream({
    spec: spec({ configurationHash: 'hash-v2' }),
    status: { phase: 'Running', configurationHash: 'hash-v1' },
  });
  const decision = decide(fresh, observation({ stream: adopted, job: job({ labelled: false }) }), config, T0);
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: 'job-1' }]);
});

// A stream deleted and created again under the same name is another object: SPEC 2.1 applies to it afresh.
const recreatedInitial = 'orders-initial-backfill-9c1e';
const recreated = (overrides: Parameters<typeof stream>[0] = {}) => stream({ uid: 'stream-uid-2', ...overrides });
const recreations = [
  {
    name: 'a running stream recreated gets its own initial backfill',
    before: state(),
    stream: recreated(),
    phase: 'Pending',
    effects: [{ type: 'createBackfillRequest', name: recreatedInitial, initial: true }],
    events: ['StreamCreated'],
  },
  {
    name: 'a failed stream recreated starts with no restarts owed',
    before: state({
      phase: 'Failed',
      restartCount: 5,
      pendingRestart: { jobUid: 'job-1', cause: 'failed', message: 'the streaming Job failed' },
    }),
    stream: recreated(),
    phase: 'Pending',
    effects: [{ type: 'createBackfillRequest', name: recreatedInitial, initial: true }],
    events: ['StreamCreated'],
  },
  {
    name: 'a stream recreated suspended skips its initial backfill',
    before: state({ phase: 'Backfilling', activeBackfill: INITIAL }),
    stream: recreated({ spec: spec({ suspended: true }) }),
    phase: 'Suspended',
    effects: [],
    events: ['StreamSuspended'],
  },
  {
    name: 'a stream recreated with a CronJob backend is scheduled without a backfill',
    before: state({ phase: 'Suspended', initialBackfill: 'skipped' }),
    stream: recreated({ spec: spec({ backend: 'cronjob' }) }),
    phase: 'Scheduled',
    effects: [{ type: 'applyCronJob' }],
    events: ['StreamingScheduled'],
  },
  {
    name: 'the same object keeps its lifecycle',
    before: state(),
    stream: stream({ status: statusOf(state()) }),
    phase: 'Running',
    effects: [{ type: 'applyStreamingJob' }],
    events: ['StreamingContinued'],
  },
  {
    name: 'a lifecycle that never recorded a uid records it and keeps its state',
    before: state({ streamUid: undefined }),
    stream: recreated({ status: statusOf(state()) }),
    phase: 'Running',
    effects: [{ type: 'applyStreamingJob' }],
    events: ['StreamingContinued'],
  },
] as const;

for (const row of recreations) {
  test(row.name, () => {
    const obs = observation({ stream: row.stream, initialBackfillName: recreatedInitial });
    const decision = decide(row.before, obs, config, T0);
    assert.equal(decision.state.phase, row.phase);
    assert.equal(decision.state.streamUid, row.stream.uid);
    assert.deepEqual(effects(decision), row.effects);
    assert.deepEqual(eventReasons(decision), row.events);
    // Nothing owed to the old object survives; what the class serves is unchanged.
    assert.equal(decision.state.restartCount, 0);
    assert.equal(decision.state.pendingRestart, undefined);
    assert.equal(decision.state.activeBackfill, undefined);
    assert.deepEqual(decision.state.kind, row.before.kind);
  });
}
