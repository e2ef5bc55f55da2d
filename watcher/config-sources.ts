// The watcher's settings: those of every process, and its own.
import { configFromSources as fromSources, processSettings, type Setting } from '../operations/settings.ts';

export const SETTINGS: readonly Setting[] = [
  ...processSettings,
  { path: 'watchNamespace', help: 'watch only this namespace (default: all)' },
  { path: 'temporal.probeInterval', help: 'how often Temporal reachability is checked' },
  { path: 'leaderElection.enabled', help: 'elect a leader among replicas' },
  { path: 'leaderElection.namespace', fallbackEnv: ['POD_NAMESPACE'], help: 'namespace of the Lease' },
  { path: 'leaderElection.name', help: 'name of the Lease' },
  { path: 'leaderElection.identity', fallbackEnv: ['POD_NAME', 'HOSTNAME'], help: 'holder identity prefix' },
  { path: 'leaderElection.leaseDuration', help: 'lease duration, e.g. 15s' },
  { path: 'leaderElection.renewPeriod', help: 'how often the leader renews, e.g. 5s' },
  { path: 'informers.watchdogTimeout', help: 'restart a watch silent for this long' },
  { path: 'informers.listTimeout', help: 'abandon and retry a list with no answer for this long' },
  { path: 'informers.restartBackoffInitial', help: 'first delay before restarting a failed informer' },
  { path: 'informers.restartBackoffMax', help: 'longest delay before restarting a failed informer' },
  { path: 'signals.maxInFlight', help: 'signals sent to Temporal at the same time' },
  { path: 'signals.retryInitial', help: 'first delay before retrying a failed signal' },
  { path: 'signals.retryMax', help: 'longest delay before retrying a failed signal' },
  { path: 'signals.timeout', help: 'how long one signal attempt may take' },
  {
    path: 'signals.batchWindow',
    help: "how long a stream's first notice waits for the events that follow it (one wake for all), e.g. 100ms; 0 sends at once",
  },
  { path: 'resyncDelay', help: 'events within this delay share one resync' },
  { path: 'backfillRequestGrace', help: 'wait this long before marking a request StreamNotFound' },
  { path: 'lifecycle.restartBackoffInitial', help: 'first restart delay after a Job failure, e.g. 10s' },
  { path: 'lifecycle.restartBackoffFactor', help: 'growth of the restart delay per failure, e.g. 2' },
  { path: 'lifecycle.restartBackoffCap', help: 'longest restart delay, e.g. 10m' },
  { path: 'lifecycle.maxRestarts', help: 'automatic restarts before a stream stays Failed (0: never restart)' },
  { path: 'lifecycle.stablePeriod', help: 'a Job running this long resets the restart count, e.g. 10m' },
  { path: 'lifecycle.recheck', help: 'how often a stream waiting on a template re-checks, e.g. 30s' },
  { path: 'lifecycle.maxHistoryEvents', help: 'continue-as-new past this many workflow history events' },
];

/** The watcher's configuration input from flag values (keyed by flag name) and environment variables. */
export function configFromSources(
  env: Record<string, string | undefined>,
  flags: Record<string, string | boolean | undefined> = {},
): Record<string, unknown> {
  return fromSources(SETTINGS, env, flags);
}
