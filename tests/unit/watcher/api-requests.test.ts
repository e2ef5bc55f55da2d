// Kubernetes API requests named as RBAC names them, for the API call counter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeRequest } from '../../../watcher/api-requests.ts';

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
