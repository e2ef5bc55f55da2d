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
