// The worker's own counters beside the API call counter (kubernetes/api-calls.ts): its observation cache's restarts.
import { Counter, register, type Registry } from 'prom-client';

const CACHE_RESTARTS = 'arcane_observation_cache_restarts_total';

/** Restarts of the observation cache's watches, by resource and cause (error, watchdog, listTimeout). */
export function cacheRestarts(registry: Registry = register): Counter<'resource' | 'cause'> {
  const existing = registry.getSingleMetric(CACHE_RESTARTS);
  if (existing) return existing as Counter<'resource' | 'cause'>;
  return new Counter({
    name: CACHE_RESTARTS,
    help: "Restarts of the worker's observation cache watches, by resource and cause",
    labelNames: ['resource', 'cause'],
    registers: [registry],
  });
}
