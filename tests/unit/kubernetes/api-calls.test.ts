// Kubernetes API requests named as RBAC names them, and counted by the one HTTP layer both processes send through.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { countedConfiguration, describeRequest, kubernetesApiCalls } from '../../../kubernetes/api-calls.ts';

const server = 'https://127.0.0.1:6443';

test('collections are listed and watched, items read', () => {
  assert.deepEqual(describeRequest('GET', `${server}/apis/batch/v1/jobs?labelSelector=arcane%2Fstream-id`), {
    verb: 'list',
    resource: 'jobs.batch',
  });
  assert.deepEqual(describeRequest('GET', `${server}/apis/batch/v1/namespaces/data/jobs?watch=true`), {
    verb: 'watch',
    resource: 'jobs.batch',
  });
  assert.deepEqual(describeRequest('GET', `${server}/apis/coordination.k8s.io/v1/namespaces/data/leases/watcher`), {
    verb: 'get',
    resource: 'leases.coordination.k8s.io',
  });
});

test('writes name their verb; a status write names the subresource', () => {
  const status = `${server}/apis/streaming.sneaksanddata.com/v1/streamclasses/mock/status`;
  assert.deepEqual(describeRequest('PATCH', status), {
    verb: 'patch',
    resource: 'streamclasses.streaming.sneaksanddata.com/status',
  });
  assert.deepEqual(describeRequest('POST', `${server}/api/v1/namespaces/default/events`), {
    verb: 'create',
    resource: 'events',
  });
  assert.equal(describeRequest('PUT', `${server}/apis/coordination.k8s.io/v1/namespaces/a/leases/b`).verb, 'update');
});

test('a discovery read names its path; an unknown path is "other"', () => {
  assert.deepEqual(describeRequest('GET', `${server}/apis/streaming.sneaksanddata.com/v1`), {
    verb: 'get',
    resource: '/apis/streaming.sneaksanddata.com/v1',
  });
  assert.deepEqual(describeRequest('GET', `${server}/healthz`), { verb: 'other', resource: '/healthz' });
});

/** A fake API server: a read of the `present` ConfigMap is answered 200, any other 404; nothing listens on `closed`. */
async function fakeApiServer(t: TestContext): Promise<KubeConfig> {
  const http = createServer((req, res) => {
    const found = req.url?.endsWith('/configmaps/present') ?? false;
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(found ? { metadata: { name: 'present' } } : { kind: 'Status', reason: 'NotFound' }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return kubeConfigFor(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
}

/** A kubeconfig for a plain-HTTP server (the client refuses plain HTTP unless TLS checks are off). */
function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
    currentContext: 'fake',
  });
  return kubeConfig;
}

async function countsAfterReads(kubeConfig: KubeConfig, successAs2xx: boolean): Promise<string[]> {
  const registry = new Registry();
  const calls = kubernetesApiCalls(registry);
  const core = new CoreV1Api(countedConfiguration(kubeConfig, calls, { successAs2xx }));
  await core.readNamespacedConfigMap({ name: 'present', namespace: 'data' });
  await assert.rejects(core.readNamespacedConfigMap({ name: 'absent', namespace: 'data' }));
  const { values } = await calls.get();
  return values.map(({ labels, value }) => `${labels.verb} ${labels.resource} ${labels.code} ${value}`).sort();
}

test('each answer is counted with its code; the worker counts any success as 2xx', async (t) => {
  const kubeConfig = await fakeApiServer(t);
  assert.deepEqual(await countsAfterReads(kubeConfig, false), ['get configmaps 200 1', 'get configmaps 404 1']);
  assert.deepEqual(await countsAfterReads(kubeConfig, true), ['get configmaps 2xx 1', 'get configmaps 404 1']);
});

test('a request that gets no answer is counted as "error"', async () => {
  // Port 9 on the loopback (discard): nothing listens there, so the connection is refused.
  const kubeConfig = kubeConfigFor('http://127.0.0.1:9');
  const calls = kubernetesApiCalls(new Registry());
  const core = new CoreV1Api(countedConfiguration(kubeConfig, calls));
  await assert.rejects(core.listNamespacedConfigMap({ namespace: 'data' }));
  const { values } = await calls.get();
  assert.deepEqual(
    values.map(({ labels, value }) => ({ ...labels, value })),
    [{ verb: 'list', resource: 'configmaps', code: 'error', value: 1 }],
  );
});
