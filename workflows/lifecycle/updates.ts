// The public updates: when each is accepted, and how an accepted restart reaches the next decision.
import type { StreamState } from './types.ts';

export type StreamUpdate = 'suspend' | 'resume' | 'backfill' | 'restart';

function restartRejection(state: StreamState): string | undefined {
  const { reason, message } = state.condition;
  if (reason === 'InvalidSpec' || reason === 'InvalidTemplate') {
    return `the stream spec is invalid (${message}); fix the spec instead of restarting`;
  }
  switch (state.phase) {
    case 'Suspended':
      return 'the stream is suspended; resume it to start its Job';
    case 'Scheduled':
      return 'the stream runs on a CronJob backend; there is no Job to restart';
    case '':
      return `the stream has no running Job to restart${message ? ` (${message})` : ''}`;
    case 'Pending':
      return state.pendingRestart ? undefined : `the stream is pending (${message}); there is no Job to restart yet`;
    default:
      return undefined;
  }
}

/** Why `update` is refused for a stream in `state`, or undefined when it may be accepted. */
export function validateUpdate(state: StreamState, update: StreamUpdate): string | undefined {
  if (state.ended === 'deleted') return `cannot ${update}: the stream was deleted; its workflow is finishing`;
  if (state.ended === 'detached') {
    return `cannot ${update}: the stream is detached (${state.condition.message}); this workflow no longer manages it`;
  }
  const rejection = update === 'restart' ? restartRejection(state) : undefined;
  return rejection && `cannot ${update}: ${rejection}`;
}

/** The state after an accepted `restart` update; the next decision replaces the Job and clears Failed. */
export function requestRestart(state: StreamState): StreamState {
  return { ...state, restartRequested: true };
}
