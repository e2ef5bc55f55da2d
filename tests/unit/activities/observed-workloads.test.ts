// What the caches of Jobs keep of each: everything observing a Job reads, and not the pod template's bulk (the
// stream's spec in the environment, the containers' other fields) or kubectl's copy of the applied object.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { observeJob, workloadAsObserved } from '../../../activities/observed-workloads.ts';
import type { JsonObject } from '../../../resources/go-json.ts';
import { templateJob } from '../resources/examples.ts';
import {
  BACKFILL_ENV,
  BACKFILL_ID_ENV,
  OVERRIDE_ENV,
  SPEC_ENV,
  STREAM_ID_ENV,
  STREAM_KIND_ENV,
} from '../../../resources/stream-context.ts';

const SPEC = JSON.stringify({ source: { table: 'orders', columns: Array.from({ length: 40 }, (_, i) => `c${i}`) } });

function job(options: { backfill: boolean; labelled: boolean; lastApplied?: boolean }): V1Job {
  const env: JsonObject[] = [
    { name: STREAM_ID_ENV, value: 'orders' },
    { name: STREAM_KIND_ENV, value: 'MockStream' },
    { name: SPEC_ENV, value: SPEC },
    { name: BACKFILL_ENV, value: String(options.backfill) },
    ...(options.backfill
      ? [
          { name: BACKFILL_ID_ENV, value: 'orders-initial' },
          { name: OVERRIDE_ENV, value: '{}' },
        ]
      : []),
    { name: 'FROM_TEMPLATE', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'orders',
      namespace: 'data',
      uid: 'u-1',
      resourceVersion: '41',
      labels: options.labelled ? { 'arcane/stream-id': 'orders', 'arcane/backfilling': String(options.backfill) } : {},
      annotations: {
        'configuration-hash': 'abc',
        'arcane.sneaksanddata.com/template-generation': '3',
        ...(options.lastApplied
          ? { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec: SPEC }) }
          : {}),
      },
      finalizers: ['arcane.sneaksanddata.com/outcome'],
      deletionTimestamp: new Date('2026-01-01T00:00:10Z'),
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:status': {} } }],
    },
    spec: templateJob([
      { name: 'stream', image: 'stream:1', command: ['run', '--all'], env, resources: { limits: { cpu: '1' } } },
      { name: 'sidecar', image: 'proxy:2', args: ['--port', '9000'] },
    ]).spec as V1Job['spec'],
    status: {
      startTime: new Date('2026-01-01T00:00:00Z'),
      completionTime: new Date('2026-01-01T00:00:05Z'),
      conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: new Date('2026-01-01T00:00:05Z') }],
    },
  };
}

describe('a Job as the caches keep it', () => {
  const shapes = [
    { backfill: true, labelled: true },
    { backfill: false, labelled: true },
    // Adopted from upstream: no label, so whether it backfills is read from its environment.
    { backfill: true, labelled: false },
    { backfill: false, labelled: false, lastApplied: true },
  ];

  for (const shape of shapes) {
    it(`is observed as the whole Job is (${JSON.stringify(shape)})`, () => {
      const whole = job(shape);
      assert.deepEqual(observeJob(workloadAsObserved(whole)), observeJob(whole));
    });
  }

  it('keeps of the pod template only the environment variables that mark a backfill, of every container', () => {
    const kept = workloadAsObserved(job({ backfill: true, labelled: true }));
    assert.deepEqual(kept.spec, {
      template: {
        spec: {
          containers: [
            {
              name: 'stream',
              env: [
                { name: BACKFILL_ENV, value: 'true' },
                { name: BACKFILL_ID_ENV, value: 'orders-initial' },
              ],
            },
            { name: 'sidecar', env: undefined },
          ],
        },
      },
    });
  });

  it("drops managed fields and kubectl's copy of the applied object, and keeps the other metadata", () => {
    const whole = job({ backfill: false, labelled: true, lastApplied: true });
    const kept = workloadAsObserved(whole);
    assert.equal(kept.metadata?.managedFields, undefined);
    assert.deepEqual(kept.metadata?.annotations, {
      'configuration-hash': 'abc',
      'arcane.sneaksanddata.com/template-generation': '3',
    });
    assert.deepEqual(kept.metadata?.finalizers, whole.metadata?.finalizers);
    assert.deepEqual(kept.metadata?.labels, whole.metadata?.labels);
    assert.equal(kept.metadata?.deletionTimestamp, whole.metadata?.deletionTimestamp);
    assert.deepEqual(kept.status, whole.status);
    // The Job itself is left as it was: the informer's list and watch objects are not changed under their readers.
    assert.ok(whole.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']);
    assert.equal(whole.spec?.template.spec?.containers[0]?.env?.length, 5);
    assert.ok(JSON.stringify(kept).length < JSON.stringify(whole).length / 3);
  });
});
