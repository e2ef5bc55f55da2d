// Activity latency by activity type and outcome (SPEC 7): how long the Kubernetes side effects take, and how they end.
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Histogram, register, type Registry } from 'prom-client';

const ACTIVITY_LATENCY = 'arcane_activity_duration_seconds';

/** From a single cached read (5 ms) to a slow API server under a burst (a minute). */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type ActivityOutcome = 'success' | 'retryable_failure' | 'non_retryable_failure';

type ActivityLatency = Histogram<'activity_type' | 'outcome'>;

/** How an activity that threw ends: only a non-retryable ApplicationFailure stops Temporal's retries. */
export function failureOutcome(error: unknown): ActivityOutcome {
  return error instanceof ApplicationFailure && error.nonRetryable ? 'non_retryable_failure' : 'retryable_failure';
}

/** An activity interceptor timing every execution into the histogram on `registry` (created once per registry). */
export function activityLatency(registry: Registry = register): ActivityInterceptorsFactory {
  const histogram =
    (registry.getSingleMetric(ACTIVITY_LATENCY) as ActivityLatency | undefined) ??
    new Histogram({
      name: ACTIVITY_LATENCY,
      help: 'Activity execution time by activity type and outcome (success, retryable_failure, non_retryable_failure)',
      labelNames: ['activity_type', 'outcome'],
      buckets: BUCKETS,
      registers: [registry],
    });
  return (context) => ({
    inbound: {
      async execute(input, next) {
        const stop = histogram.startTimer({ activity_type: context.info.activityType });
        try {
          const result = await next(input);
          stop({ outcome: 'success' });
          return result;
        } catch (error) {
          stop({ outcome: failureOutcome(error) });
          throw error;
        }
      },
    },
  });
}
