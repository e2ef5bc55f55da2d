// The `restart` update: when it makes sense, and how it reaches the next decision.
import type { StreamState } from './types.ts';

/** Why a restart is refused for a stream in `state`, or undefined when the update may be accepted. */
export function validateRestart(state: StreamState): string | undefined {
  if (state.ended === 'deleted') return 'the stream was deleted; there is nothing to restart';
  if (state.ended === 'detached')
    return 'the stream is detached (its StreamClass was deleted); there is nothing to restart';
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

/** The state after an accepted `restart` update; the next decision replaces the Job and clears Failed. */
export function requestRestart(state: StreamState): StreamState {
  return { ...state, restartRequested: true };
}
