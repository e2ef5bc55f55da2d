// A local HTTP server standing in for an API server, closed after the test, a kubeconfig that points at it, and the
// options of an informer of its one resource.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { InformerOptions } from '../../../kubernetes/informer.ts';
import { listObjects } from '../../../kubernetes/requests.ts';
import { createKubernetesClients } from '../../../watcher/kubernetes-client.ts';
import type { WatcherMetrics } from '../../../watcher/metrics.ts';

export async function fakeApiServerConfig(t: TestContext, handler: RequestListener): Promise<KubeConfig> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const kubeConfig = new KubeConfig();
  const { port } = server.address() as AddressInfo;
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
    currentContext: 'fake',
  });
  return kubeConfig;
}

/** An informer of the fake server's `things.example.com`, silent, with short restart backoffs. */
export function thingsInformerOptions(
  kubeConfig: KubeConfig,
  metrics: WatcherMetrics,
  options: Partial<InformerOptions> = {},
): InformerOptions {
  return {
    kubeConfig,
    list: listObjects(createKubernetesClients(kubeConfig, metrics).custom),
    log: pino({ level: 'silent' }),
    metrics,
    restartBackoff: { initialMs: 20, maxMs: 100 },
    watchdogMs: 60_000,
    listTimeoutMs: 60_000,
    resource: 'things.example.com',
    location: { group: 'example.com', version: 'v1', plural: 'things' },
    ...options,
  };
}
