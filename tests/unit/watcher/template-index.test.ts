// Which streams a StreamingJobTemplate change wakes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TemplateIndex, templateRefsOf } from '../../../watcher/template-index.ts';

test('a v0 stream uses its streaming and backfill templates, in its namespace unless the ref says otherwise', () => {
  const spec = {
    jobTemplateRef: { name: 'streaming' },
    backfillJobTemplateRef: { name: 'backfill', namespace: 'shared' },
  };
  // Upstream looked the backfill template up in the streaming ref's namespace: that is where we fall back to.
  assert.deepEqual(templateRefsOf({ spec }, 'data'), ['data/streaming', 'shared/backfill', 'data/backfill']);
});

test('a v2 batch stream uses the template of its CronJob', () => {
  const spec = {
    execution: {
      layoutVersion: 'v2',
      streamingBackend: { changeCapture: null, batch: { schedule: '* * * * *', jobTemplateRef: { name: 'batch' } } },
    },
  };
  assert.deepEqual(templateRefsOf({ spec }, 'data'), ['data/batch']);
});

test('a stream whose spec cannot be read uses no template', () => {
  assert.deepEqual(templateRefsOf({ spec: { execution: { layoutVersion: 'v9' } } }, 'data'), []);
});

test('the index follows streams as their refs change and as they go', () => {
  const index = new TemplateIndex();
  const orders = { streamClass: 'mock', namespace: 'data', name: 'orders' };
  const invoices = { streamClass: 'mock', namespace: 'data', name: 'invoices' };
  index.set(orders, ['data/streaming', 'data/backfill']);
  index.set(invoices, ['data/streaming']);
  assert.deepEqual(index.streamsUsing('data', 'streaming'), [orders, invoices]);
  index.set(orders, ['data/other']);
  assert.deepEqual(index.streamsUsing('data', 'streaming'), [invoices]);
  assert.deepEqual(index.streamsUsing('data', 'backfill'), []);
  index.set(invoices, []);
  assert.deepEqual(index.streamsUsing('data', 'streaming'), []);
});
