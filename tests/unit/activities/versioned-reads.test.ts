// Which of a stream's objects an API call reads or writes, as named in an observation's versions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionKeyOf } from '../../../activities/versioned-reads.ts';

const stream = { streamClass: 'mock-stream', namespace: 'ns', name: 'orders' };

test("each of the stream's objects has its key; other calls have none", () => {
  const cases: [Parameters<typeof versionKeyOf>[0], string | undefined][] = [
    [{ verb: 'get', resource: 'streamclasses.streaming.sneaksanddata.com', name: 'mock-stream' }, 'streamClass'],
    [{ verb: 'get', resource: 'mockstreams.streaming.sneaksanddata.com', namespace: 'ns', name: 'orders' }, 'stream'],
    [
      { verb: 'patch', resource: 'tablestreams.streaming.sneaksanddata.com/status', namespace: 'ns', name: 'orders' },
      'stream',
    ],
    [{ verb: 'get', resource: 'jobs.batch', namespace: 'ns', name: 'orders' }, 'job'],
    [{ verb: 'delete', resource: 'cronjobs.batch', namespace: 'ns', name: 'orders' }, 'cronJob'],
    [
      { verb: 'get', resource: 'streamingjobtemplates.streaming.sneaksanddata.com', namespace: 't', name: 'x' },
      'template/t/x',
    ],
    [
      { verb: 'patch', resource: 'backfillrequests.streaming.sneaksanddata.com', namespace: 'ns', name: 'r' },
      'backfillRequest/r',
    ],
    [{ verb: 'list', resource: 'backfillrequests.streaming.sneaksanddata.com', namespace: 'ns' }, undefined],
    [{ verb: 'create', resource: 'events', namespace: 'ns', name: 'orders.1' }, undefined],
    [{ verb: 'get', resource: 'mockstreams.streaming.sneaksanddata.com', namespace: 'ns', name: 'other' }, undefined],
    [{ verb: 'get', resource: '/apis/streaming.sneaksanddata.com/v1beta1' }, undefined],
  ];
  for (const [call, key] of cases) assert.equal(versionKeyOf(call, stream), key, JSON.stringify(call));
});
