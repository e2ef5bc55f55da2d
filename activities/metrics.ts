// Kubernetes API calls by verb, resource and response code (SPEC 7): what the activities cost the API server.
import { Counter, register, type Registry } from 'prom-client';

const API_CALLS = 'arcane_kubernetes_api_calls_total';

export type ApiCallCounter = Counter<'verb' | 'resource' | 'code'>;

/** The counter on `registry`; created once, so several activity sets in one process share it. */
export function kubernetesApiCalls(registry: Registry = register): ApiCallCounter {
  const existing = registry.getSingleMetric(API_CALLS);
  if (existing) return existing as ApiCallCounter;
  return new Counter({
    name: API_CALLS,
    help: 'Kubernetes API calls made by activities, by verb, resource and response code ("2xx" success, "error" none)',
    labelNames: ['verb', 'resource', 'code'],
    registers: [registry],
  });
}

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
