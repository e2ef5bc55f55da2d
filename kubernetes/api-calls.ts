// Counts Kubernetes API calls: every request a client sends goes through one HTTP layer that names it the way RBAC
// does (verb and resource) and counts it, with its answer's status code, in arcane_kubernetes_api_calls_total. The
// watcher and the worker's activities build their clients over it.
import type { Configuration, HttpLibrary, KubeConfig, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { Observable } from './client-node.ts';
import { Counter, register, type Registry } from 'prom-client';
import { keepAliveConfiguration } from '../operations/keep-alive.ts';
import { DispatcherHttpLibrary } from './http-library.ts';

export interface ApiRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';
  /** `jobs.batch`, `leases.coordination.k8s.io`, `streamclasses.streaming.sneaksanddata.com/status`, `events`. */
  resource: string;
}

/** The resource path after `/api/v1` or `/apis/<group>/<version>`. */
function splitPath(pathname: string): { group: string; rest: string[] } | undefined {
  const segments = pathname.split('/').filter((segment) => segment !== '');
  if (segments[0] === 'api') return { group: '', rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments.length >= 3) return { group: segments[1] ?? '', rest: segments.slice(3) };
  return undefined;
}

/** The request's verb and resource; `url` may be the path alone (an informer's watch names only its path). */
export function describeRequest(method: string, url: string): ApiRequest {
  const parsed = new URL(url, 'https://api-server');
  const path = splitPath(parsed.pathname);
  const rest = path && path.rest[0] === 'namespaces' && path.rest.length >= 3 ? path.rest.slice(2) : (path?.rest ?? []);
  const [plural, name, subresource] = rest;
  if (!path || plural === undefined) {
    // Discovery (`/apis/<group>/<version>`) names no resource: the path stands for it.
    const discovery = path !== undefined && method.toUpperCase() === 'GET';
    return { verb: discovery ? 'get' : 'other', resource: parsed.pathname };
  }
  const resource = `${plural}${path.group ? `.${path.group}` : ''}${subresource ? `/${subresource}` : ''}`;
  switch (method.toUpperCase()) {
    case 'GET':
      if (parsed.searchParams.get('watch') === 'true') return { verb: 'watch', resource };
      return { verb: name === undefined ? 'list' : 'get', resource };
    case 'POST':
      return { verb: 'create', resource };
    case 'PUT':
      return { verb: 'update', resource };
    case 'PATCH':
      return { verb: 'patch', resource };
    case 'DELETE':
      return { verb: name === undefined ? 'deletecollection' : 'delete', resource };
    default:
      return { verb: 'other', resource };
  }
}

const API_CALLS = 'arcane_kubernetes_api_calls_total';

export type ApiCallCounter = Counter<'verb' | 'resource' | 'code'>;

/** The counter on `registry` (prom-client's default one when absent); created once, so client sets share it. */
export function kubernetesApiCalls(registry: Registry = register): ApiCallCounter {
  const existing = registry.getSingleMetric(API_CALLS);
  if (existing) return existing as ApiCallCounter;
  return new Counter({
    name: API_CALLS,
    help: 'Kubernetes API calls by verb, resource and response code ("2xx": any success, where the worker does not tell them apart; "error": no response)',
    labelNames: ['verb', 'resource', 'code'],
    registers: [registry],
  });
}

export interface CountingOptions {
  /** A request still unanswered after this long is abandoned (none when absent). */
  timeoutMs?: number;
  /** Counts every success as `2xx` rather than by its own code (the worker's activities count so). */
  successAs2xx?: boolean;
}

/** Sends each request as the library would, counting it once its answer (or its failure to arrive) is known. */
class CountingHttpLibrary implements HttpLibrary {
  private readonly inner = new DispatcherHttpLibrary();
  private readonly calls: Pick<ApiCallCounter, 'inc'>;
  private readonly options: CountingOptions;

  constructor(calls: Pick<ApiCallCounter, 'inc'>, options: CountingOptions) {
    this.calls = calls;
    this.options = options;
  }

  private code(status: number): string {
    return this.options.successAs2xx && status >= 200 && status < 300 ? '2xx' : String(status);
  }

  send(request: RequestContext): Observable<ResponseContext> {
    const { verb, resource } = describeRequest(request.getHttpMethod(), request.getUrl());
    const { timeoutMs } = this.options;
    if (timeoutMs !== undefined && !request.getSignal()) request.setSignal(AbortSignal.timeout(timeoutMs));
    const count = (code: string) => this.calls.inc({ verb, resource, code });
    const response = this.inner
      .send(request)
      .toPromise()
      .then(
        (result) => {
          count(this.code(result.httpStatusCode));
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

/** A client configuration over the kubeconfig's shared keep-alive connections whose every request is counted. */
export function countedConfiguration(
  kubeConfig: KubeConfig,
  calls: Pick<ApiCallCounter, 'inc'>,
  options: CountingOptions = {},
): Configuration {
  return keepAliveConfiguration(kubeConfig, new CountingHttpLibrary(calls, options));
}
