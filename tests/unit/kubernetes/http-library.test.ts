// The HTTP layer the generated Kubernetes clients send through (undici's request API): what a request carries out and
// what an answer brings back, errors included. Over TLS against the real API server: the integration tests.
import assert from 'node:assert/strict';
import { type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { CoreV1Api, HttpMethod, RequestContext, type V1ConfigMap } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { countedConfiguration, kubernetesApiCalls } from '../../../kubernetes/api-calls.ts';
import { decodeApiError, statusCode } from '../../../kubernetes/errors.ts';
import { DispatcherHttpLibrary } from '../../../kubernetes/http-library.ts';
import { keepAliveConfiguration } from '../../../operations/keep-alive.ts';
import { fakeApiServerConfig } from './fake-api-server.ts';

interface Received {
  method: string | undefined;
  url: string | undefined;
  contentType: string | undefined;
  body: string;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

test('a create sends its method, path, content type and JSON body, and reads the object answered', async (t) => {
  const received: Received[] = [];
  const kubeConfig = await fakeApiServerConfig(t, (req, res) => {
    void bodyOf(req).then((body) => {
      received.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...JSON.parse(body), metadata: { name: 'settings', uid: 'u-1' } }));
    });
  });
  const core = new CoreV1Api(keepAliveConfiguration(kubeConfig));
  const body: V1ConfigMap = { metadata: { name: 'settings' }, data: { mode: 'fast', note: 'grüße' } };
  const created = await core.createNamespacedConfigMap({ namespace: 'data', body });
  assert.deepEqual(created.data, { mode: 'fast', note: 'grüße' });
  assert.equal(created.metadata?.uid, 'u-1');
  assert.equal(received.length, 1);
  const [request] = received;
  assert.equal(request?.method, 'POST');
  assert.equal(request?.url, '/api/v1/namespaces/data/configmaps');
  assert.equal(request?.contentType, 'application/json');
  assert.deepEqual(JSON.parse(request?.body ?? ''), body);
});

test('an answer brings its status, its headers (repeated ones joined) and its body as text and as bytes', async (t) => {
  const kubeConfig = await fakeApiServerConfig(t, (req, res) => {
    res.writeHead(200, [
      ['content-type', 'text/plain'],
      ['warning', '299 - "first"'],
      ['warning', '299 - "second"'],
    ]);
    res.end(`line of ${req.url ?? ''}\n`);
  });
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  const send = () =>
    new DispatcherHttpLibrary()
      .send(new RequestContext(`${server}/api/v1/namespaces/a/pods/p/log?tailLines=1`, HttpMethod.GET))
      .toPromise();
  const answer = await send();
  assert.equal(answer.httpStatusCode, 200);
  assert.equal(answer.headers['content-type'], 'text/plain');
  assert.equal(answer.headers.warning, '299 - "first", 299 - "second"');
  assert.equal(await answer.body.text(), 'line of /api/v1/namespaces/a/pods/p/log?tailLines=1\n');
  const bytes = await (await send()).body.binary();
  assert.equal(bytes.toString('utf8'), 'line of /api/v1/namespaces/a/pods/p/log?tailLines=1\n');
});

test("a refused answer is the client's error with the API server's code and reason", async (t) => {
  const kubeConfig = await fakeApiServerConfig(t, (_req, res) => {
    res.writeHead(409, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ kind: 'Status', reason: 'AlreadyExists', message: 'configmaps "settings" already exists' }),
    );
  });
  const core = new CoreV1Api(keepAliveConfiguration(kubeConfig));
  const error = await core
    .createNamespacedConfigMap({ namespace: 'data', body: { metadata: { name: 'settings' } } })
    .then(
      () => assert.fail('the create succeeded'),
      (cause: unknown) => cause,
    );
  assert.equal(statusCode(error), 409);
  const failure = decodeApiError(error);
  assert.equal(failure.reason, 'AlreadyExists');
  assert.match(failure.message, /already exists/);
});

test('an answer that does not come in time is abandoned: an error with no status code, counted as "error"', async (t) => {
  // The server reads the request and never answers.
  const kubeConfig = await fakeApiServerConfig(t, () => {});
  const calls = kubernetesApiCalls(new Registry());
  const core = new CoreV1Api(countedConfiguration(kubeConfig, calls, { timeoutMs: 200 }));
  const error = await core.readNamespacedConfigMap({ name: 'settings', namespace: 'data' }).then(
    () => assert.fail('the read succeeded'),
    (cause: unknown) => cause,
  );
  assert.equal(statusCode(error), undefined);
  assert.equal(decodeApiError(error).code, undefined);
  const { values } = await calls.get();
  assert.deepEqual(
    values.map(({ labels, value }) => ({ ...labels, value })),
    [{ verb: 'get', resource: 'configmaps', code: 'error', value: 1 }],
  );
});
