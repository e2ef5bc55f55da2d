// One pool of keep-alive connections per kubeconfig for the generated Kubernetes API clients: left to itself,
// @kubernetes/client-node builds a new connection pool for every request, so every call paid a TCP and TLS handshake.
import type {
  Configuration,
  HttpLibrary,
  KubeConfig,
  RequestContext,
  SecurityAuthentication,
} from '@kubernetes/client-node';
import { createConfiguration, ServerConfiguration } from '../kubernetes/client-node.ts';
import { DispatcherHttpLibrary } from '../kubernetes/http-library.ts';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * Authenticates each request as the kubeconfig says (headers and tokens are applied per request, so a refreshed token
 * is used at once), then sends it over the first connection pool the kubeconfig built rather than a fresh one. The TLS
 * material of that pool (CA, client certificate) is read once per process, as client-go does for a static config.
 */
class SharedConnections implements SecurityAuthentication {
  private readonly kubeConfig: KubeConfig;
  private dispatcher: Dispatcher | undefined;

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
  }

  getName(): string {
    return 'kubeconfig authentication over shared connections';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    // No dispatcher: plain HTTP without TLS options, which goes through the process's global pool already.
    if (fresh === undefined) return;
    this.dispatcher ??= fresh;
    context.setDispatcher(this.dispatcher);
  }
}

const shared = new WeakMap<KubeConfig, SharedConnections>();

/** The same authentication (and so the same connections) for every client built from one kubeconfig. */
function sharedConnections(kubeConfig: KubeConfig): SharedConnections {
  let auth = shared.get(kubeConfig);
  if (!auth) {
    auth = new SharedConnections(kubeConfig);
    shared.set(kubeConfig, auth);
  }
  return auth;
}

/**
 * A client configuration for the kubeconfig's current cluster that reuses connections and sends through undici's
 * request API; `httpApi` may wrap sending.
 */
export function keepAliveConfiguration(kubeConfig: KubeConfig, httpApi?: HttpLibrary): Configuration {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: sharedConnections(kubeConfig) },
    httpApi: httpApi ?? new DispatcherHttpLibrary(),
  });
}

/** `kubeConfig.makeApiClient(Api)`, over the kubeconfig's shared connections. */
export function makeKeepAliveClient<T>(kubeConfig: KubeConfig, Api: new (configuration: Configuration) => T): T {
  return new Api(keepAliveConfiguration(kubeConfig));
}
