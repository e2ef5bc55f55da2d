// An action refused for good (the API server or the resource model rejected what it would create): phase Failed
// saying why, until the spec or template changes.
import { inPhase, outcome, warning } from './outcome.ts';
import { settle, type SettleInput } from './settle.ts';
import type { Action, Decision, NonRetryableReason, StreamState } from './types.ts';

/** Why the action can never succeed as is: the reason of a non-retryable activity failure, and its message. */
export interface ActionRejection {
  reason: NonRetryableReason;
  message: string;
}

function workloadCreatedBy(action: Action): string | undefined {
  switch (action.type) {
    case 'applyStreamingJob':
      return 'the streaming Job';
    case 'applyBackfillJob':
      return `the backfill Job for request ${action.request}`;
    case 'applyCronJob':
      return 'the CronJob';
    default:
      return undefined;
  }
}

/**
 * The decision after `action` of the decision made from `before` was rejected: Failed with the rejection as the
 * condition, and a Warning Event (FailedCreateJob when a workload could not be created) once per distinct failure.
 */
export function rejectAction(
  before: StreamState,
  action: Action,
  rejection: ActionRejection,
  input: SettleInput,
): Decision {
  const workload = workloadCreatedBy(action);
  const message = workload === undefined ? rejection.message : `${workload} could not be created: ${rejection.message}`;
  const entryEvent = warning(workload === undefined ? rejection.reason : 'FailedCreateJob', message);
  return settle(before, outcome(inPhase(before, 'Failed', message, rejection.reason), { entryEvent }), input);
}
