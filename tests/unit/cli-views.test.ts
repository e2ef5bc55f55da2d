// What the `arcane` command shows and writes, as pure functions: the history timeline (from recorded workflow
// histories), the stream list, downtime changes to stream objects, and one-line errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { requestEnd } from '../../cli/backfill-wait.ts';
import {
  declareDowntimeOn,
  DOWNTIME_BEGIN_ANNOTATION,
  DOWNTIME_LABEL,
  downtimeTimestamp,
  stopDowntimeOn,
  summarizeDowntimes,
  type StreamObject,
} from '../../cli/downtime.ts';
import { formatTimeline, historyTimeline, type TimelineEntry } from '../../cli/history-timeline.ts';
import { oneLine, shortDuration } from '../../cli/output.ts';
import { formatStreamList, visibilityQuery, type ListedStream } from '../../cli/stream-list.ts';
import type { StreamStatus } from '../../workflows/messages.ts';

/** A recorded workflow history: one activity per lifecycle action (`activities-*`) or rounds as local activities. */
function timelineOf(fixture: string): TimelineEntry[] {
  const file = join(import.meta.dirname, '../fixtures/cli', `history-${fixture}.json`);
  const history = historyFromJSON(JSON.parse(readFileSync(file, 'utf8')));
  return historyTimeline(history.events ?? []);
}

const texts = (entries: TimelineEntry[], kind: string) => entries.filter((e) => e.kind === kind).map((e) => e.text);

describe('stream history timeline', () => {
  it('shows phase transitions with reasons, failures, restart backoffs and their timers', () => {
    const entries = timelineOf('activities-failures-then-fix');
    const status = texts(entries, 'status');
    assert.match(status[0]!, /^\(no phase\) -> Suspended {2}StreamSuspended: /);
    assert.ok(status.some((text) => /^Suspended -> Pending {2}StreamPending: resumed/.test(text)));
    assert.ok(status.some((text) => /^Running -> Failed {2}StreamFailed: .*restart 1 of 2 at /.test(text)));
    assert.ok(status.some((text) => /^Failed -> Running {2}StreamRunning: /.test(text)));
    const backoffs = texts(entries, 'backoff');
    assert.match(backoffs[0]!, /^\d+ms: .*restart 1 of 2 at /);
    assert.match(backoffs[1]!, /^timer fired after \d+ms$/);
    assert.ok(texts(entries, 'event').some((text) => /^Warning StreamingJobFailed: /.test(text)));
    assert.ok(texts(entries, 'event').some((text) => /^Normal StreamRestarting: restart 1 of 2/.test(text)));
    assert.deepEqual(texts(entries, 'update'), [
      'resume accepted',
      'resume done: resume requested: spec.suspended is now false',
    ]);
    assert.match(texts(entries, 'signal')[0]!, /^streamObserved: test$/);
  });

  it('gives each activity its summary and outcome, with the attempt when it was retried', () => {
    const activities = texts(timelineOf('activities-failures-then-fix'), 'activity');
    assert.match(activities[0]!, /^observe wf-fail-\w+\/orders {2}\[ok in \d+ms\]$/);
    assert.ok(activities.some((text) => /^replace streaming Job .* \[ok in [\d.]+m?s, attempt 2\]$/.test(text)));
    // The history was recorded while the last activity ran.
    assert.match(activities.at(-1)!, /\[running, attempt 1\]$/);
  });

  it('says how a run began and ended', () => {
    const deleted = timelineOf('activities-deleted');
    assert.match(deleted[0]!.text, /^started wf-delete-\w+\/orders \(class mock-stream\)$/);
    assert.equal(deleted.at(-1)!.text, 'completed: the stream was deleted (last phase Running)');
    const continued = timelineOf('activities-continued-from-carried-state');
    assert.match(continued[0]!.text, /^continued from run [-0-9a-f]+ in phase Running /);
    const updates = texts(timelineOf('activities-backfill-update'), 'update');
    assert.ok(updates.some((text) => /^backfill done: orders-backfill-\w+ \(already open\)$/.test(text)));
  });

  it('reads lifecycle rounds run as local activities: summaries, and phase changes from their observations', () => {
    // A stream whose streaming Job keeps failing, recorded from `arcane dev` (tests/fixtures/cli/).
    const entries = timelineOf('local-activities');
    const activities = texts(entries, 'activity');
    assert.match(activities[0]!, /^observe default\/billing {2}\[ok\]$/);
    assert.ok(
      activities.some((text) => /^replace streaming Job default\/billing; Normal event StreamRestarting/.test(text)),
    );
    const phases = texts(entries, 'phase');
    assert.match(phases[0]!, /^\(no phase\) -> \w+ {2}\w+: /);
    assert.ok(phases.some((text) => /^Running -> Failed {2}StreamFailed: .*restart 1 of 5 at /.test(text)));
    assert.match(phases.at(-1)!, /^Running -> Failed {2}StreamFailed: .*all 5 automatic restarts .* are used/);
    // Each backoff once, though input cut its timer short and it was started again; then when it fired.
    const backoffs = texts(entries, 'backoff');
    for (const restart of [1, 2, 3, 4, 5]) {
      const shown = backoffs.filter((text) => text.includes(`restart ${restart} of 5 at`));
      assert.equal(shown.length, 1, `backoff ${restart}`);
    }
    assert.equal(backoffs.filter((text) => text.startsWith('timer fired after')).length, 5);
  });

  it('prints a dated table of time, kind and what happened', () => {
    const text = formatTimeline(timelineOf('activities-deleted'));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^TIME +KIND +WHAT HAPPENED$/);
    assert.match(lines[1]!, /^\d{4}-\d{2}-\d{2} \(UTC\)$/);
    assert.match(lines[2]!, /^\d{2}:\d{2}:\d{2}\.\d{3} +started +started /);
    assert.equal(formatTimeline([]), 'The history has no events.');
  });
});

describe('stream list', () => {
  const now = Date.parse('2026-12-06T01:00:00Z');
  const state = {
    stream: { streamClass: 'mock-stream', namespace: 'default', name: 'orders' },
    phase: 'Failed',
    reason: 'StreamFailed',
    message: 'the streaming Job failed; restart 1 of 5 at 2026-12-06T01:00:30.000Z',
    configurationHash: 'abc',
    job: { name: 'orders', uid: 'u1', backfilling: false, state: 'failed' },
    openBackfillRequests: ['orders-backfill-1', 'orders-backfill-2'],
    restartCount: 1,
    nextRestartAt: '2026-12-06T01:00:30.000Z',
    transitions: [{ at: now - 125_000, from: 'Running', to: 'Failed', reason: 'StreamFailed' }],
  } satisfies StreamStatus;
  const streams: ListedStream[] = [
    {
      stream: state.stream,
      workflowId: 'stream/mock-stream/default/orders',
      runId: 'r1',
      phase: 'Failed',
      since: now - 125_000,
      state,
    },
    {
      stream: { streamClass: 'mock-stream', namespace: 'team-b', name: 'invoices' },
      workflowId: 'stream/mock-stream/team-b/invoices',
      runId: 'r2',
      phase: 'Running',
      since: now - 3 * 3_600_000,
      stateError: 'no worker answered',
    },
  ];

  it('narrows the visibility query by class and namespace', () => {
    assert.equal(visibilityQuery({}), "WorkflowType = 'streamWorkflow' AND ExecutionStatus = 'Running'");
    assert.equal(
      visibilityQuery({ streamClass: 'mock-stream', namespace: 'default' }),
      "WorkflowType = 'streamWorkflow' AND ExecutionStatus = 'Running' AND ArcaneStreamClass = 'mock-stream' AND ArcaneNamespace = 'default'",
    );
  });

  it('shows one line per stream: phase, reason, age of the last transition, restarts, next restart, backfill', () => {
    const lines = formatStreamList(streams, 'table', now).split('\n');
    assert.deepEqual(
      lines.map((line) => line.split(/ {3,}/)),
      [
        ['NAMESPACE', 'NAME', 'CLASS', 'PHASE', 'REASON', 'AGE', 'RESTARTS', 'NEXT RESTART', 'BACKFILL'],
        ['default', 'orders', 'mock-stream', 'Failed', 'StreamFailed', '2m5s', '1', 'in 30s', 'orders-backfill-1 (+1)'],
        ['team-b', 'invoices', 'mock-stream', 'Running', '(no answer)', '3h', '?', '-', '-'],
      ],
    );
  });

  it('adds the Job and the message in wide output, and keeps everything in JSON', () => {
    const wide = formatStreamList(streams, 'wide', now).split('\n');
    assert.match(wide[0]!, /BACKFILL +JOB +MESSAGE$/);
    assert.match(wide[1]!, /orders-backfill-1 \(\+1\) +failed +the streaming Job failed; restart 1 of 5/);
    assert.match(wide[2]!, /- +- +state query failed: no worker answered$/);
    assert.deepEqual(JSON.parse(formatStreamList(streams, 'json', now)), streams);
    assert.equal(formatStreamList([], 'table', now), 'No running stream workflows found.');
  });
});

function stream(spec: Record<string, unknown>, metadata: Partial<StreamObject['metadata']> = {}): StreamObject {
  return {
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MockStream',
    metadata: { name: 'orders', namespace: 'default', resourceVersion: '7', labels: { team: 'a' }, ...metadata },
    spec,
  };
}

describe('downtime changes to a stream object', () => {
  const now = new Date('2026-12-06T01:02:03.456Z');

  it('suspends a v0 stream, labels it with the key and records the begin time as RFC 3339 seconds', () => {
    const change = declareDowntimeOn(stream({ suspended: false, jobTemplateRef: { name: 't' } }), 'window-1', now);
    assert.ok('updated' in change);
    assert.equal(change.updated.spec!.suspended, true);
    assert.deepEqual(change.updated.metadata.labels, { team: 'a', [DOWNTIME_LABEL]: 'window-1' });
    assert.deepEqual(change.updated.metadata.annotations, { [DOWNTIME_BEGIN_ANNOTATION]: '2026-12-06T01:02:03Z' });
    // The whole object is written back: the resourceVersion guards against lost updates.
    assert.equal(change.updated.metadata.resourceVersion, '7');
  });

  it('suspends v1 and v2 streams under spec.execution, touching no other key', () => {
    for (const layoutVersion of ['v1', 'v2']) {
      const execution = { layoutVersion, suspended: false, streamingBackend: null };
      const change = declareDowntimeOn(stream({ execution, other: 1 }), 'window-1', now);
      assert.ok('updated' in change);
      assert.deepEqual(change.updated.spec, { execution: { ...execution, suspended: true }, other: 1 });
    }
  });

  it('leaves alone streams someone suspended, or another downtime holds', () => {
    assert.deepEqual(declareDowntimeOn(stream({ suspended: true }), 'window-1', now), { skipped: 'already suspended' });
    const held = stream({ suspended: true }, { labels: { [DOWNTIME_LABEL]: 'other' } });
    assert.deepEqual(declareDowntimeOn(held, 'window-1', now), { skipped: 'already in downtime other' });
    const ours = stream({ suspended: true }, { labels: { [DOWNTIME_LABEL]: 'window-1' } });
    assert.deepEqual(declareDowntimeOn(ours, 'window-1', now), { skipped: 'already in this downtime' });
    assert.throws(
      () => declareDowntimeOn(stream({ execution: { layoutVersion: 'v9' } }), 'window-1', now),
      /spec\.execution\.layoutVersion is not one of/,
    );
  });

  it('stops a downtime: resumes only streams with its key, removing label and annotation', () => {
    const declared = declareDowntimeOn(stream({ execution: { layoutVersion: 'v1', suspended: false } }), 'w', now);
    assert.ok('updated' in declared);
    const stopped = stopDowntimeOn(declared.updated, 'w');
    assert.ok('updated' in stopped);
    assert.equal((stopped.updated.spec!.execution as { suspended: boolean }).suspended, false);
    assert.deepEqual(stopped.updated.metadata.labels, { team: 'a' });
    assert.deepEqual(stopped.updated.metadata.annotations, {});
    assert.deepEqual(stopDowntimeOn(declared.updated, 'other'), { skipped: 'in downtime w' });
    assert.deepEqual(stopDowntimeOn(stream({ suspended: true }), 'w'), { skipped: 'not in a downtime' });
  });

  it('summarizes downtimes by key with the earliest begin time', () => {
    const labelled = (name: string, key: string, begin?: string) =>
      stream(
        { suspended: true },
        {
          name,
          labels: { [DOWNTIME_LABEL]: key },
          annotations: begin ? { [DOWNTIME_BEGIN_ANNOTATION]: begin } : {},
        },
      );
    const summaries = summarizeDowntimes([
      { streamClass: 'a', stream: labelled('s1', 'late', '2026-12-06T02:00:00Z') },
      { streamClass: 'a', stream: labelled('s2', 'early', '2026-12-06T01:30:00Z') },
      { streamClass: 'b', stream: labelled('s3', 'early', '2026-12-06T01:00:00Z') },
      { streamClass: 'b', stream: labelled('s4', 'early') },
    ]);
    assert.deepEqual(summaries, [
      {
        key: 'early',
        streamClasses: ['a', 'b'],
        streams: ['default/s2', 'default/s3', 'default/s4'],
        since: Date.parse('2026-12-06T01:00:00Z'),
      },
      { key: 'late', streamClasses: ['a'], streams: ['default/s1'], since: Date.parse('2026-12-06T02:00:00Z') },
    ]);
    assert.equal(downtimeTimestamp(new Date('2026-01-02T03:04:05.999Z')), '2026-01-02T03:04:05Z');
  });
});

describe('output helpers', () => {
  it('reads how a BackfillRequest ended', () => {
    assert.equal(requestEnd({ spec: { completed: false } }), undefined);
    assert.deepEqual(requestEnd({ spec: { completed: true } }), { outcome: 'completed' });
    assert.deepEqual(
      requestEnd({ status: { phase: 'Failed', conditions: [{ reason: 'StreamNotFound', message: 'no stream x' }] } }),
      { outcome: 'failed', message: 'StreamNotFound: no stream x' },
    );
  });

  it('keeps every distinct message of an error chain on one line', () => {
    const error = new Error('Workflow Update failed', {
      cause: new Error('cannot resume:\n  the stream is deleted', { cause: new Error('the stream is deleted') }),
    });
    assert.equal(oneLine(error), 'Workflow Update failed: cannot resume: the stream is deleted');
  });

  it('shows ages as kubectl does', () => {
    assert.deepEqual([0, 59_999, 60_000, 192_000, 3_600_000, 18_240_000, 86_400_000, 183_600_000].map(shortDuration), [
      '0s',
      '59s',
      '1m',
      '3m12s',
      '1h',
      '5h4m',
      '1d',
      '2d3h',
    ]);
  });
});
