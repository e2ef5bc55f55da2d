// BackfillRequests as clients write them, and the name of a stream's initial backfill.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  initialBackfillRequestName,
  newBackfillRequest,
  parseBackfillRequest,
} from '../../../resources/backfill-request.ts';
import { NAMESPACE, UID, unwrap } from './examples.ts';

const stream = {
  streamClass: 'mock-stream-v2',
  apiVersion: 'streaming.sneaksanddata.com/v1beta1',
  kind: 'MockStreamV2',
  namespace: NAMESPACE,
  name: 'orders',
  uid: UID,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('BackfillRequest', () => {
  test('reads a request written by kubectl-arcane: open, no payload', () => {
    const request = unwrap(
      parseBackfillRequest({
        apiVersion: 'streaming.sneaksanddata.com/v1',
        kind: 'BackfillRequest',
        metadata: { name: 'orders-x1', namespace: NAMESPACE, uid: 'u1', creationTimestamp: '2025-01-02T03:04:05Z' },
        spec: { streamClass: 'mock-stream-v2', streamId: 'orders' },
      }),
    );
    assert.deepEqual(request, {
      name: 'orders-x1',
      namespace: NAMESPACE,
      uid: 'u1',
      createdAt: '2025-01-02T03:04:05Z',
      streamClass: 'mock-stream-v2',
      streamId: 'orders',
      completed: false,
      payload: null,
      refused: false,
    });
  });

  test('reads the creation time a typed client hands out as a Date', () => {
    const request = unwrap(
      parseBackfillRequest({
        metadata: { name: 'r', namespace: NAMESPACE, creationTimestamp: new Date('2025-01-02T03:04:05Z') },
        spec: { streamClass: 'c', streamId: 's', completed: true, payload: { from: '2024-01-01' } },
      }),
    );
    assert.equal(request.createdAt, '2025-01-02T03:04:05.000Z');
    assert.equal(request.completed, true);
    assert.deepEqual(request.payload, { from: '2024-01-01' });
  });

  test('a request the operator refused reads as refused; a garbled status reads as not refused', () => {
    const withStatus = (status: unknown) =>
      unwrap(
        parseBackfillRequest({
          metadata: { name: 'r', namespace: NAMESPACE },
          spec: { streamClass: 'c', streamId: 's' },
          status,
        }),
      ).refused;
    const conditions = [{ type: 'Error', status: 'True', reason: 'BackfillNotSupported', message: 'a batch stream' }];
    assert.equal(withStatus({ phase: 'Failed', conditions }), true);
    assert.equal(withStatus({ phase: 'Failed', conditions: [{ ...conditions[0], reason: 'StreamNotFound' }] }), false);
    assert.equal(withStatus({ phase: 'Running', conditions }), false);
    assert.equal(withStatus({ phase: 'Failed', conditions: 'BackfillNotSupported' }), false);
    assert.equal(withStatus('Failed'), false);
  });

  test('a new request is open and names the stream and its class', () => {
    assert.deepEqual(newBackfillRequest(stream, 'orders-initial-backfill-0badf00d'), {
      apiVersion: 'streaming.sneaksanddata.com/v1',
      kind: 'BackfillRequest',
      metadata: { name: 'orders-initial-backfill-0badf00d', namespace: NAMESPACE },
      spec: { streamClass: 'mock-stream-v2', streamId: 'orders', completed: false },
    });
    assert.deepEqual(newBackfillRequest(stream, 'r', { from: 'x' }).spec.payload, { from: 'x' });
  });
});

describe('initial backfill request name', () => {
  test('is the stream name, a fixed infix and 8 hex characters', () => {
    assert.match(initialBackfillRequestName(stream), /^orders-initial-backfill-[0-9a-f]{8}$/);
  });

  test('is the same for the same stream on every call', () => {
    assert.equal(initialBackfillRequestName(stream), initialBackfillRequestName({ ...stream }));
  });

  test('differs for a stream recreated under the same name', () => {
    const recreated = { ...stream, uid: '0e7a9a53-1f5e-4c1c-8a5e-3b5f0d2c9a11' };
    assert.notEqual(initialBackfillRequestName(recreated), initialBackfillRequestName(stream));
  });

  test('stays a valid DNS subdomain of at most 253 characters for the longest stream names', () => {
    for (const name of [
      'a'.repeat(253),
      `${'a'.repeat(226)}.b${'c'.repeat(25)}`,
      `${'a'.repeat(226)}-${'b'.repeat(26)}`,
    ]) {
      const requestName = initialBackfillRequestName({ name, uid: UID });
      assert.ok(requestName.length <= 253, `${requestName.length} characters`);
      assert.match(requestName, DNS_SUBDOMAIN);
    }
  });
});
