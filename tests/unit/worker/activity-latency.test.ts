// The activity latency histogram: every execution timed under its activity type and how it ended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Registry, type MetricValueWithName } from 'prom-client';
import { activityLatency } from '../../../worker/activity-latency.ts';

/** The histogram's samples: buckets, sums and counts. */
async function histogram(registry: Registry): Promise<MetricValueWithName<string>[]> {
  return (await registry.getSingleMetric('arcane_activity_duration_seconds')!.get()).values;
}

/** The histogram's observation count per `activity_type/outcome`. */
async function counts(registry: Registry): Promise<Record<string, number>> {
  return Object.fromEntries(
    (await histogram(registry))
      .filter((value) => value.metricName === 'arcane_activity_duration_seconds_count')
      .map((value) => [`${value.labels.activity_type}/${value.labels.outcome}`, value.value]),
  );
}

/** The SDK's activity environment with the interceptor; failures are expected here, so the SDK's warnings are not. */
function environment(registry: Registry, activityType: string): MockActivityEnvironment {
  return new MockActivityEnvironment(
    { activityType },
    { interceptors: [activityLatency(registry)], logger: new DefaultLogger('ERROR') },
  );
}

function run(registry: Registry, activityType: string, activity: () => Promise<unknown>): Promise<unknown> {
  return environment(registry, activityType)
    .run(activity)
    .catch(() => undefined);
}

describe('activity latency', () => {
  it('counts each execution under its activity type and outcome', async () => {
    const registry = new Registry();
    await run(registry, 'applyBackfillJob', () => Promise.resolve('created'));
    await run(registry, 'applyBackfillJob', () => Promise.resolve('unchanged'));
    await run(registry, 'applyBackfillJob', () => Promise.reject(ApplicationFailure.retryable('conflict', 'Conflict')));
    await run(registry, 'writeStatus', () => Promise.reject(new Error('connection reset')));
    await run(registry, 'observeStream', () =>
      Promise.reject(ApplicationFailure.nonRetryable('spec.source is missing', 'InvalidSpec')),
    );
    assert.deepEqual(await counts(registry), {
      'applyBackfillJob/success': 2,
      'applyBackfillJob/retryable_failure': 1,
      'writeStatus/retryable_failure': 1,
      'observeStream/non_retryable_failure': 1,
    });
  });

  it('times the execution in seconds', async () => {
    const registry = new Registry();
    const started = performance.now();
    await run(registry, 'deleteJob', () => new Promise((resolve) => setTimeout(resolve, 50)));
    const outerSeconds = (performance.now() - started) / 1000;
    const sum = (await histogram(registry)).find(
      (value) => value.metricName === 'arcane_activity_duration_seconds_sum',
    );
    // Timers may fire a little early; milliseconds would read 50, not about 0.05.
    assert.ok(
      sum && sum.value >= 0.04 && sum.value <= outerSeconds,
      `sum ${sum?.value} s for a 50 ms activity that took ${outerSeconds} s from outside`,
    );
  });

  it('passes the result and the failure through unchanged', async () => {
    const registry = new Registry();
    const adopting = environment(registry, 'adoptJob');
    assert.equal(await adopting.run(() => Promise.resolve('adopted')), 'adopted');
    const failure = ApplicationFailure.nonRetryable('bad template', 'InvalidTemplate');
    await assert.rejects(
      adopting.run(() => Promise.reject(failure)),
      (error) => error === failure,
    );
  });

  it('adds the executions of a second worker on the same registry to the same histogram', async () => {
    const registry = new Registry();
    await run(registry, 'recordEvent', () => Promise.resolve());
    await run(registry, 'recordEvent', () => Promise.resolve());
    assert.deepEqual(await counts(registry), { 'recordEvent/success': 2 });
  });
});
