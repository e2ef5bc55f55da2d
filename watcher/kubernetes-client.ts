// The watcher's Kubernetes API clients: every request is counted by verb, resource and code, and none may hang.
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api, CustomObjectsApi } from '../kubernetes/client-node.ts';
import { countedConfiguration } from '../kubernetes/api-calls.ts';
import type { WatcherMetrics } from './metrics.ts';

// List calls of 10,000 streams finish well within this; a request without an answer is a silent outage.
const REQUEST_TIMEOUT_MS = 60_000;

export interface KubernetesClients {
  kubeConfig: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
}

export function createKubernetesClients(kubeConfig: KubeConfig, metrics: WatcherMetrics): KubernetesClients {
  const configuration = countedConfiguration(kubeConfig, metrics.apiCalls, { timeoutMs: REQUEST_TIMEOUT_MS });
  return { kubeConfig, custom: new CustomObjectsApi(configuration), core: new CoreV1Api(configuration) };
}
