// The watcher's Kubernetes API clients: every request is counted by verb, resource and code, and none may hang.
import {
  CoreV1Api,
  CustomObjectsApi,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type HttpLibrary,
  type KubernetesListObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { keepAliveConfiguration } from '../operations/keep-alive.ts';
import { describeRequest } from './api-requests.ts';
import type { WatchedObject } from './forwarding.ts';
import type { WatcherMetrics } from './metrics.ts';

// List calls of 10,000 streams finish well within this; a request without an answer is a silent outage.
const REQUEST_TIMEOUT_MS = 60_000;

class CountingHttpLibrary implements HttpLibrary {
  private readonly inner = new IsomorphicFetchHttpLibrary();
  private readonly metrics: WatcherMetrics;

  constructor(metrics: WatcherMetrics) {
    this.metrics = metrics;
  }

  send(request: RequestContext): Observable<ResponseContext> {
    const { verb, resource } = describeRequest(request.getHttpMethod(), request.getUrl());
    if (!request.getSignal()) request.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    const count = (code: string) => this.metrics.apiCalls.inc({ verb, resource, code });
    const response = this.inner
      .send(request)
      .toPromise()
      .then(
        (result) => {
          count(String(result.httpStatusCode));
          return result;
        },
        (error: unknown) => {
          count('error');
          throw error;
        },
      );
    return new Observable(response);
  }
}

export interface KubernetesClients {
  kubeConfig: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
}

export function createKubernetesClients(kubeConfig: KubeConfig, metrics: WatcherMetrics): KubernetesClients {
  // Over one pool of keep-alive connections: the library's default opens a connection per call.
  const configuration = keepAliveConfiguration(kubeConfig, new CountingHttpLibrary(metrics));
  return { kubeConfig, custom: new CustomObjectsApi(configuration), core: new CoreV1Api(configuration) };
}

/** Request option for a JSON merge patch (the generated clients default to a JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Lists any resource by group, version and plural (raw JSON, as the watch delivers it). */
export function listObjects(custom: CustomObjectsApi) {
  return (location: {
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    labelSelector?: string;
  }): Promise<KubernetesListObject<WatchedObject>> => {
    const { group, version, plural, namespace, labelSelector } = location;
    return namespace === undefined
      ? custom.listClusterCustomObject({ group, version, plural, labelSelector })
      : custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector });
  };
}
