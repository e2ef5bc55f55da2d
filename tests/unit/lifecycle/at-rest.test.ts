// A stream at rest (what lets the watcher skip a stream's resync): its stored status shows a settled phase on the
// current spec, the cluster agrees with it, and the lifecycle would decide nothing whatever its workflow remembers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  atRest,
  decide,
  initialStreamState,
  type Observation,
  type ObservedCondition,
  type StreamPhase,
  type StreamState,
} from '../../../workflows/lifecycle.ts';
import { Cluster, config, cronJob, job, MINUTE, observation, request, spec, state, stream, T0 } from './cluster.ts';

type Resting = 'Running' | 'Scheduled' | 'Suspended';

const settled: Record<Resting, { type: string; reason: string; message: string }> = {
  Running: { type: 'Ready', reason: 'StreamRunning', message: 'the streaming Job is running' },
  Scheduled: { type: 'Ready', reason: 'StreamScheduled', message: 'the CronJob runs the stream on its schedule' },
  Suspended: {
    type: 'Warning',
    reason: 'StreamSuspended',
    message: 'suspended by the spec; the workload is stopped and open backfill requests wait for resume',
  },
};

/** The status the lifecycle writes once settled in `phase`; `prunes`: as a production plugin's schema stores it. */
function statusIn(phase: Resting, { generation = 1, prunes = false } = {}) {
  const { type, reason, message } = settled[phase];
  const condition: ObservedCondition = prunes
    ? { type, message }
    : { type, reason, message, observedGeneration: generation };
  return { phase, configurationHash: 'hash-v1', condition };
}

const held = { held: true };

function running(overrides: Partial<Observation> = {}, prunes = false): Observation {
  return observation({ stream: stream({ status: statusIn('Running', { prunes }) }), job: job(held), ...overrides });
}

function scheduled(overrides: Partial<Observation> = {}): Observation {
  const cron = stream({ spec: spec({ backend: 'cronjob' }), status: statusIn('Scheduled') });
  return observation({ stream: cron, cronJob: cronJob(), ...overrides });
}

function suspended(overrides: Partial<Observation> = {}): Observation {
  const stopped = stream({ spec: spec({ suspended: true }), status: statusIn('Suspended') });
  return observation({ stream: stopped, ...overrides });
}

const closedRequests = [request('orders-initial-backfill-7f3a', T0, true), { ...request('old', T0), refused: true }];

/** Observations at rest, by what they show. */
const accepted: Record<string, Observation> = {
  'Running with its streaming Job': running(),
  'Running on a pruning status schema': running({}, true),
  'Running with only completed and refused requests': running({ backfillRequests: closedRequests }),
  'Running on a pinned template that is gone': running({
    stream: stream({ pinTemplate: true, status: statusIn('Running') }),
    job: job({ ...held, templateGeneration: 1 }),
    templates: { streaming: { ref: 'arcane/streaming', found: false } },
  }),
  'Running at a later generation whose hash is unchanged': running({
    stream: stream({ generation: 3, status: statusIn('Running', { generation: 3 }) }),
  }),
  'Scheduled with its CronJob': scheduled(),
  'Suspended with no workload': suspended(),
  'Suspended on a pruning status schema': suspended({
    stream: stream({ spec: spec({ suspended: true }), status: statusIn('Suspended', { prunes: true }) }),
  }),
};

describe('a stream at rest', () => {
  for (const [name, seen] of Object.entries(accepted)) {
    test(`is ${name}`, () => {
      assert.equal(atRest(seen), true);
    });
  }
});

/** Observations not at rest, by what is not settled in them. */
const rejected: Record<string, Observation> = {
  'the stream is gone': running({ stream: undefined }),
  'the stream is being deleted': running({ stream: stream({ deleting: true, status: statusIn('Running') }) }),
  'the StreamClass is gone': running({ detached: 'StreamClass mock is gone' }),
  'the kind is unknown': running({ kind: undefined }),
  'the spec is invalid': running({
    stream: stream({
      spec: { valid: false, reason: 'InvalidSpec', field: 'spec.source', message: 'spec.source is required' },
      status: statusIn('Running'),
    }),
  }),
  'the spec changed (another hash)': running({
    stream: stream({ spec: spec({ configurationHash: 'hash-v2' }), status: statusIn('Running') }),
  }),
  'the stored phase is not settled': running({
    stream: stream({ status: { ...statusIn('Running'), phase: 'Pending' } }),
  }),
  'the stored condition is not the settled one': running({
    stream: stream({
      status: { ...statusIn('Running'), condition: { ...settled.Running, message: 'running', observedGeneration: 1 } },
    }),
  }),
  'the stored condition is for an older generation': running({
    stream: stream({ generation: 2, status: statusIn('Running', { generation: 1 }) }),
  }),
  'the stream has no status yet': running({ stream: stream() }),
  'the spec sets no backend': suspended({
    stream: stream({ spec: spec({ suspended: true, backend: 'none' }), status: statusIn('Suspended') }),
  }),
  'a backfill request is open': running({ backfillRequests: [request('orders-backfill-2')] }),
  'Running without a Job': running({ job: undefined }),
  'Running with a failed Job': running({ job: job({ ...held, state: 'failed' }) }),
  'Running with a completed Job': running({ job: job({ ...held, state: 'complete' }) }),
  'Running with a terminating Job': running({ job: job({ ...held, terminating: true }) }),
  'Running with an unlabelled Job': running({ job: job({ ...held, labelled: false }) }),
  'Running with a Job without the outcome finalizer': running({ job: job({ held: false }) }),
  'Running with a backfill Job': running({ job: job({ ...held, backfilling: true, backfillId: 'orders-backfill-2' }) }),
  'Running with a Job of another configuration': running({ job: job({ ...held, configurationHash: 'hash-v0' }) }),
  'Running with a Job of an older template generation': running({
    templates: { streaming: { ref: 'arcane/streaming', found: true, generation: 2 } },
  }),
  'Running with a Job that names no template generation': running({
    job: job({ ...held, templateGeneration: undefined }),
  }),
  'Running with its template gone': running({ templates: { streaming: { ref: 'arcane/streaming', found: false } } }),
  'Running with a template that cannot build the Job': running({
    templates: { streaming: { ref: 'arcane/streaming', found: true, generation: 1, problem: 'not a Job' } },
  }),
  'Running with a CronJob left': running({ cronJob: cronJob() }),
  'Running on a CronJob backend': running({
    stream: stream({ spec: spec({ backend: 'cronjob' }), status: statusIn('Running') }),
  }),
  'Scheduled without a CronJob': scheduled({ cronJob: undefined }),
  'Scheduled with a terminating CronJob': scheduled({ cronJob: cronJob({ terminating: true }) }),
  'Scheduled with an unlabelled CronJob': scheduled({ cronJob: cronJob({ labelled: false }) }),
  'Scheduled with a CronJob of another configuration': scheduled({
    cronJob: cronJob({ configurationHash: 'hash-v0' }),
  }),
  'Scheduled with a CronJob of an older template generation': scheduled({
    templates: { streaming: { ref: 'arcane/streaming', found: true, generation: 2 } },
  }),
  'Scheduled with a Job named after the stream': scheduled({ job: job(held) }),
  'Suspended with a Job left': suspended({ job: job(held) }),
  'Suspended with a CronJob left': suspended({ cronJob: cronJob() }),
  'Suspended while the spec is not': suspended({ stream: stream({ status: statusIn('Suspended') }) }),
};

describe('a stream not at rest', () => {
  for (const [name, seen] of Object.entries(rejected)) {
    test(`when ${name}`, () => {
      assert.equal(atRest(seen), false);
    });
  }
});

/** States a workflow may hold for a stream settled in `phase`: fresh from settling, or with restarts behind it. */
function remembered(phase: StreamPhase, backend: string): StreamState[] {
  const { reason, message } = settled[phase as Resting];
  const base = state({
    phase,
    condition: { reason, message },
    initialBackfill: backend === 'job' ? 'requested' : 'skipped',
  });
  return [
    base,
    { ...base, restartCount: 2, quickCompletions: 1, lastJobStart: T0 - 20 * MINUTE },
    { ...base, restartCount: 1, lastJobStart: T0 },
    { ...base, initialBackfill: 'skipped', transitions: [{ at: T0, from: 'Pending', to: phase, reason }] },
  ];
}

describe('the lifecycle over a stream at rest', () => {
  for (const [name, seen] of Object.entries(accepted)) {
    test(`decides no action (${name})`, () => {
      const shown = seen.stream;
      assert.ok(shown?.spec.valid);
      for (const held of remembered(shown.status.phase as StreamPhase, shown.spec.backend)) {
        const decision = decide(held, structuredClone(seen), config, T0 + 5 * MINUTE);
        assert.deepEqual(decision.actions, [], `remembering ${JSON.stringify(held)}`);
      }
    });
  }

  for (const prunes of [false, true]) {
    test(`a stream the lifecycle ran to Running is at rest (${prunes ? 'pruning' : 'full'} status schema)`, () => {
      const cluster = new Cluster(observation(), initialStreamState(), T0, { prunes });
      cluster.converge();
      cluster.finishJob('complete', MINUTE);
      cluster.converge();
      assert.equal(cluster.state.phase, 'Running');
      assert.equal(atRest(cluster.observation), true);
    });
  }

  test('a batch stream the lifecycle scheduled, and then suspended, is at rest in both', () => {
    const cluster = new Cluster(
      scheduled({ cronJob: undefined, stream: stream({ spec: spec({ backend: 'cronjob' }) }) }),
    );
    cluster.converge();
    assert.equal(cluster.state.phase, 'Scheduled');
    assert.equal(atRest(cluster.observation), true);
    cluster.changeSpec({ suspended: true, configurationHash: 'hash-suspended' });
    assert.equal(atRest(cluster.observation), false, 'suspended in the spec, not yet by the lifecycle');
    cluster.converge();
    assert.equal(cluster.state.phase, 'Suspended');
    assert.equal(atRest(cluster.observation), true);
  });
});
