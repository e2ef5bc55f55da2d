// Spec changes, backend swaps, invalid specs and StreamingJobTemplates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, rejectAction, type Action, type InvalidSpec } from '../../../workflows/lifecycle.ts';
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

const changed = stream({ generation: 2, spec: spec({ configurationHash: 'hash-v2' }) });
const streamingTemplate = (generation: number, found = true) => ({
  streaming: { ref: 'arcane/streaming', found, generation },
});

test('spec change replaces the streaming Job', () => {
  const decision = decide(state(), observation({ stream: changed, job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.equal(decision.state.configurationHash, 'hash-v2');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: 'job-1' }]);
  assert.deepEqual(eventReasons(decision), ['StreamingContinued']);
  assert.match(events(decision)[0]?.message ?? '', /configuration changed \(hash-v1 -> hash-v2\)/);
  // The status is written once the new Job has been made: right after making it, in the same round.
  const [write] = statusWrites(decision);
  assert.deepEqual([write?.phase, write?.configurationHash], ['Running', 'hash-v2']);
  const types = decision.actions.map((action) => action.type);
  assert.ok(types.indexOf('writeStatus') > types.indexOf('applyStreamingJob'), types.join(', '));
  // Revision 2 wrote it a round later, once an observation showed the new Job.
  const revision2 = decide(state(), observation({ stream: changed, job: job() }), { ...config, revision: 2 }, T0);
  assert.deepEqual(statusWrites(revision2), []);
});

test('spec change replaces the CronJob', () => {
  const cronStream = stream({ spec: spec({ backend: 'cronjob', configurationHash: 'hash-v2' }) });
  const decision = decide(
    state({ phase: 'Scheduled' }),
    observation({ stream: cronStream, cronJob: cronJob() }),
    config,
    T0,
  );
  assert.equal(decision.state.phase, 'Scheduled');
  assert.deepEqual(effects(decision), [{ type: 'applyCronJob', replaces: 'cron-1' }]);
  assert.deepEqual(eventReasons(decision), ['StreamingScheduled']);
});

test('spec change during a backfill lets the backfill finish', () => {
  const backfilling = state({ phase: 'Backfilling', activeBackfill: 'bf-a' });
  const obs = observation({ stream: changed, job: backfillJob('bf-a'), backfillRequests: [request('bf-a')] });
  const decision = decide(backfilling, obs, config, T0);
  assert.equal(decision.state.phase, 'Backfilling');
  assert.deepEqual(effects(decision), []);
});

test('backend swap from CronJob to Job removes the CronJob and starts the Job', () => {
  const obs = observation({ stream: changed, cronJob: cronJob() });
  const decision = decide(state({ phase: 'Scheduled' }), obs, config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'deleteCronJob', uid: 'cron-1' }, { type: 'applyStreamingJob' }]);
});

test('backend swap from Job to CronJob removes the Job and schedules', () => {
  const obs = observation({
    stream: stream({ spec: spec({ backend: 'cronjob', configurationHash: 'hash-v2' }) }),
    job: job(),
  });
  const decision = decide(state(), obs, config, T0);
  assert.equal(decision.state.phase, 'Scheduled');
  assert.deepEqual(effects(decision), [{ type: 'deleteJob', uid: 'job-1' }, { type: 'applyCronJob' }]);
  assert.deepEqual(eventReasons(decision), ['StreamScheduled', 'StreamingScheduled']);
});

const invalid: InvalidSpec = {
  valid: false,
  reason: 'InvalidSpec',
  field: 'spec.jobTemplateRef',
  message: 'spec.jobTemplateRef is required',
};

test('invalid spec fails naming the field and leaves the running Job alone', () => {
  const decision = decide(state(), observation({ stream: stream({ spec: invalid }), job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.state.condition.reason, 'InvalidSpec');
  assert.match(decision.state.condition.message, /spec\.jobTemplateRef/);
  assert.deepEqual(effects(decision), []);
  assert.deepEqual(
    events(decision).map((event) => [event.eventType, event.reason]),
    [['Warning', 'InvalidSpec']],
  );
  assert.equal(statusWrites(decision)[0]?.conditionType, 'Error');
  assert.equal(decision.state.lastError?.reason, 'InvalidSpec');
});

test('template that is not a Job fails with InvalidTemplate', () => {
  const notAJob: InvalidSpec = {
    ...invalid,
    reason: 'InvalidTemplate',
    field: 'arcane/streaming',
    message: 'kind is not Job',
  };
  const decision = decide(state(), observation({ stream: stream({ spec: notAJob }) }), config, T0);
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.state.condition.reason, 'InvalidTemplate');
  assert.deepEqual(eventReasons(decision), ['InvalidTemplate']);
});

const refused = {
  reason: 'InvalidTemplate' as const,
  message: 'jobs.batch "orders" is invalid: spec.template.spec.containers[0].image: Required value',
};

function rejected(action: Action, before = state({ phase: 'Pending' }), shown = stream()) {
  const obs = observation({ stream: shown });
  return rejectAction(before, action, refused, { observation: obs, stream: shown, config, now: T0 });
}

test('a streaming Job the API server refuses leaves the stream Failed with FailedCreateJob', () => {
  const decision = rejected({ type: 'applyStreamingJob' });
  assert.equal(decision.state.phase, 'Failed');
  assert.equal(decision.state.condition.reason, 'InvalidTemplate');
  assert.match(
    decision.state.condition.message,
    /^the streaming Job could not be created: jobs\.batch "orders" is invalid/,
  );
  assert.equal(decision.state.lastError?.reason, 'InvalidTemplate');
  assert.deepEqual(decision.state.transitions.at(-1), {
    at: T0,
    from: 'Pending',
    to: 'Failed',
    reason: 'InvalidTemplate',
  });
  assert.deepEqual(
    events(decision).map((event) => [event.eventType, event.reason]),
    [['Warning', 'FailedCreateJob']],
  );
  assert.equal(statusWrites(decision)[0]?.conditionType, 'Error');
});

test('a refused backfill Job or CronJob names what could not be created', () => {
  assert.match(
    events(rejected({ type: 'applyBackfillJob', request: 'bf-a' }))[0]?.message ?? '',
    /^the backfill Job for request bf-a could not be created/,
  );
  assert.match(events(rejected({ type: 'applyCronJob' }))[0]?.message ?? '', /^the CronJob could not be created/);
});

test('the same refusal again writes and records nothing more', () => {
  const first = rejected({ type: 'applyStreamingJob' });
  const again = rejected({ type: 'applyStreamingJob' }, first.state, stream({ status: statusOf(first.state) }));
  assert.deepEqual(again.actions, []);
  assert.equal(again.state.phase, 'Failed');
});

test('fixing an invalid spec recovers the stream', () => {
  const failed = decide(state(), observation({ stream: stream({ spec: invalid }), job: job() }), config, T0).state;
  const decision = decide(failed, observation({ stream: changed, job: job() }), config, T0);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: 'job-1' }]);
});

test('missing streaming template leaves the stream Pending and retries', () => {
  const obs = observation({ templates: streamingTemplate(1, false) });
  const decision = decide(state({ phase: 'Pending' }), obs, config, T0);
  assert.equal(decision.state.phase, 'Pending');
  assert.equal(decision.state.condition.reason, 'TemplateNotFound');
  assert.deepEqual(effects(decision), []);
  assert.deepEqual(
    events(decision).map((event) => [event.eventType, event.reason]),
    [['Warning', 'TemplateNotFound']],
  );
  assert.equal(decision.wakeAt, T0 + config.recheckMs);
});

test('missing template is warned about once while retrying', () => {
  const obs = observation({ templates: streamingTemplate(1, false) });
  const waiting = decide(state({ phase: 'Pending' }), obs, config, T0).state;
  const retry = decide(waiting, obs, config, T0 + config.recheckMs);
  assert.deepEqual(eventReasons(retry), []);
  assert.equal(retry.wakeAt, T0 + 2 * config.recheckMs);
});

test('template that appears later gets the Job created', () => {
  const waiting = decide(
    state({ phase: 'Pending' }),
    observation({ templates: streamingTemplate(1, false) }),
    config,
    T0,
  ).state;
  const decision = decide(waiting, observation(), config, T0 + 5000);
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob' }]);
});

test('template rollout replaces a Job built from an older generation', () => {
  const decision = decide(
    state(),
    observation({ job: job({ templateGeneration: 1 }), templates: streamingTemplate(2) }),
    config,
    T0,
  );
  assert.equal(decision.state.phase, 'Running');
  assert.deepEqual(effects(decision), [{ type: 'applyStreamingJob', replaces: 'job-1' }]);
  assert.deepEqual(eventReasons(decision), ['TemplateRollout']);
  assert.match(events(decision)[0]?.message ?? '', /generation 2 and the workload was built from 1/);
});

test('template rollout replaces the CronJob too', () => {
  const cronStream = stream({ spec: spec({ backend: 'cronjob' }) });
  const obs = observation({
    stream: cronStream,
    cronJob: cronJob({ templateGeneration: 3 }),
    templates: streamingTemplate(4),
  });
  const decision = decide(state({ phase: 'Scheduled' }), obs, config, T0);
  assert.deepEqual(effects(decision), [{ type: 'applyCronJob', replaces: 'cron-1' }]);
  assert.deepEqual(eventReasons(decision), ['TemplateRollout']);
});

test('pinned stream is not rolled out to a newer template', () => {
  const pinned = stream({ pinTemplate: true });
  const decision = decide(
    state(),
    observation({ stream: pinned, job: job({ templateGeneration: 1 }), templates: streamingTemplate(2) }),
    config,
    T0,
  );
  assert.deepEqual(effects(decision), []);
  assert.equal(decision.state.phase, 'Running');
});
