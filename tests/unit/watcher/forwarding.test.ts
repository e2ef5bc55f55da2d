// What the watcher forwards to a stream workflow, and what it keeps to itself (status-only updates: no feedback loop).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { observeCronJob, observeJob } from '../../../activities/observed-workloads.ts';
import {
  backfillRequestChange,
  streamChange,
  templateChange,
  workloadChange,
  type WatchedObject,
} from '../../../watcher/forwarding.ts';

function stream(changes: {
  generation?: number;
  uid?: string;
  status?: object;
  annotations?: object;
  deleting?: boolean;
}) {
  return {
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MockStream',
    metadata: {
      name: 'orders',
      namespace: 'data',
      uid: changes.uid ?? 'uid-1',
      generation: changes.generation ?? 1,
      resourceVersion: String(Math.random()),
      annotations: changes.annotations as Record<string, string> | undefined,
      deletionTimestamp: changes.deleting ? '2026-11-22T13:04:05Z' : undefined,
    },
    spec: { source: 'a' },
    status: changes.status,
  } as unknown as WatchedObject;
}

describe('stream changes', () => {
  test('a new stream is forwarded', () => {
    assert.deepEqual(streamChange(undefined, stream({ generation: 1 })), {
      forward: true,
      reason: 'created (generation 1)',
    });
  });

  test('a status-only update is not forwarded', () => {
    const change = streamChange(stream({}), stream({ status: { phase: 'Running' } }));
    assert.equal(change.forward, false);
  });

  test('a spec change (new generation) is forwarded with both generations', () => {
    assert.deepEqual(streamChange(stream({ generation: 2 }), stream({ generation: 3 })), {
      forward: true,
      reason: 'generation 2 -> 3',
    });
  });

  test('a stream recreated under the same name is forwarded', () => {
    const change = streamChange(stream({ uid: 'a' }), stream({ uid: 'b' }));
    assert.deepEqual(change, { forward: true, reason: 'recreated (uid b)' });
  });

  test('a deletion request (finalizers still pending) is forwarded once', () => {
    assert.deepEqual(streamChange(stream({}), stream({ deleting: true })), {
      forward: true,
      reason: 'deletion requested',
    });
    assert.equal(streamChange(stream({ deleting: true }), stream({ deleting: true })).forward, false);
  });

  test('pinning the template is forwarded; other annotations are not', () => {
    const pinned = stream({ annotations: { 'arcane.sneaksanddata.com/pin-template': 'true' } });
    assert.deepEqual(streamChange(stream({}), pinned), {
      forward: true,
      reason: 'annotation arcane.sneaksanddata.com/pin-template null -> "true"',
    });
    assert.equal(
      streamChange(stream({}), stream({ annotations: { 'kubectl.kubernetes.io/last-applied': 'x' } })).forward,
      false,
    );
  });
});

const T1 = '2026-01-01T00:00:00Z';
const T2 = '2026-01-01T00:00:05Z';
const observe = (object: WatchedObject) => observeJob(object as V1Job);
const observeCron = (object: WatchedObject) => observeCronJob(object as V1CronJob);

function job(
  status: object,
  extra: { annotations?: object; labels?: object; finalizers?: string[] } = {},
): WatchedObject {
  return {
    metadata: {
      ...(extra.finalizers ? { finalizers: extra.finalizers } : {}),
      name: 'orders',
      namespace: 'data',
      uid: 'job-1',
      generation: 1,
      labels: { 'arcane/stream-id': 'orders', 'arcane/backfilling': 'false', ...extra.labels },
      annotations: { 'configuration-hash': 'abc', ...extra.annotations },
    },
    status,
  };
}

describe('Job changes', () => {
  test('a Job that completes is forwarded', () => {
    const running = job({ active: 1 });
    const complete = job({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    const change = workloadChange(running, complete, observe);
    assert.deepEqual(change, { forward: true, reason: 'state "active" -> "complete"' });
  });

  test('a Job whose success criteria are met is forwarded once; its Complete condition after that is not', () => {
    const met = job({ conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: T1 }] });
    assert.equal(workloadChange(job({ active: 1 }), met, observe).forward, true);
    const complete = job({
      succeeded: 1,
      completionTime: T2,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: T1 },
        { type: 'Complete', status: 'True', lastTransitionTime: T2 },
      ],
    });
    assert.deepEqual(workloadChange(met, complete, observe), {
      forward: false,
      reason: 'status or unrelated metadata only',
    });
  });

  test('a failed Job is forwarded with its state', () => {
    const failed = job({ conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] });
    assert.deepEqual(workloadChange(job({ active: 1 }), failed, observe), {
      forward: true,
      reason: 'state "active" -> "failed"',
    });
  });

  test('pods starting, getting ready or going change nothing the lifecycle reads, and are not forwarded', () => {
    assert.equal(workloadChange(job({}), job({ active: 1, startTime: T1 }), observe).forward, false);
    assert.equal(workloadChange(job({ active: 1 }), job({ active: 1, ready: 1 }), observe).forward, false);
    assert.equal(workloadChange(job({ active: 1, ready: 1 }), job({ active: 0, ready: 0 }), observe).forward, false);
  });

  test('our outcome finalizer going from a Job is forwarded', () => {
    const held = job({}, { finalizers: ['arcane.sneaksanddata.com/outcome'] });
    assert.deepEqual(workloadChange(held, job({}), observe), { forward: true, reason: 'held true -> false' });
  });

  test("a CronJob's runs are not forwarded; a new configuration hash on it is", () => {
    const cronJob = (status: object, hash = 'abc'): WatchedObject => ({
      ...job(status, { annotations: { 'configuration-hash': hash } }),
      kind: 'CronJob',
    });
    const running = cronJob({ active: [{ name: 'orders-1' }], lastScheduleTime: T1 });
    assert.equal(workloadChange(cronJob({}), running, observeCron).forward, false);
    assert.equal(workloadChange(running, cronJob({ lastSuccessfulTime: T2 }), observeCron).forward, false);
    assert.equal(workloadChange(running, cronJob({}, 'def'), observeCron).forward, true);
  });

  test("a new Job is forwarded unless this operator made it (it names the stream's class)", () => {
    assert.deepEqual(workloadChange(undefined, job({}), observe), { forward: true, reason: 'created (generation 1)' });
    const ours = job({}, { annotations: { 'arcane.sneaksanddata.com/stream-class': 'mock-stream' } });
    assert.deepEqual(workloadChange(undefined, ours, observe), { forward: false, reason: 'made by this operator' });
    // Anything that happens to it afterwards is forwarded as usual.
    assert.equal(
      workloadChange(ours, { ...ours, metadata: { ...ours.metadata, uid: 'job-2' } }, observe).forward,
      true,
    );
  });

  test('a new configuration hash on the Job is forwarded', () => {
    const change = workloadChange(job({}), job({}, { annotations: { 'configuration-hash': 'def' } }), observe);
    assert.deepEqual(change, { forward: true, reason: 'annotation configuration-hash "abc" -> "def"' });
  });
});

describe('template and BackfillRequest changes', () => {
  test('a template whose Job changed (new generation) is forwarded', () => {
    const before = { metadata: { uid: 't', generation: 1 } };
    assert.equal(templateChange(before, { metadata: { uid: 't', generation: 2 } }).forward, true);
    assert.equal(templateChange(before, { metadata: { uid: 't', generation: 1 }, status: {} }).forward, false);
  });

  test("an open request is forwarded when created; a completed one is the workflow's own doing", () => {
    const open = { metadata: { uid: 'r', generation: 1 }, spec: { completed: false } };
    const completed = { metadata: { uid: 'r', generation: 2 }, spec: { completed: true } };
    assert.equal(backfillRequestChange(undefined, open).forward, true);
    assert.deepEqual(backfillRequestChange(open, completed), { forward: false, reason: 'request completed' });
    assert.equal(backfillRequestChange(undefined, completed).forward, false);
  });
});
