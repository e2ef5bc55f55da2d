// The benchmark's arithmetic, its records and its command line: percentiles, counters read from Prometheus text, the
// API server's request counts sorted by who asked, the results table, README section and plot generated from the
// records, and broken arguments refused before anything starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  apiserverCalls,
  callsBetween,
  countsBetween,
  inPool,
  latencies,
  metricSum,
  ownApiCalls,
  percentile,
  samples,
} from '../../bench/measure.ts';
import { benchCommand, deadlineMs } from '../../bench/burst.ts';
import { upstreamCannotRun } from '../../bench/upstream.ts';
import { PRODUCTION, TEST } from '../fixtures/plugins.ts';
import { latest, plotSvg } from '../../bench/plot.ts';
import {
  readRecords,
  table,
  unfinished,
  withReadmeTable,
  type BurstRecord,
  type WatcherRestart,
} from '../../bench/report.ts';

const bench = join(import.meta.dirname, '../../bench/burst.ts');

describe('benchmark figures', () => {
  it('takes the nearest-rank percentile', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(samples, 0.5), 50);
    assert.equal(percentile(samples, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  it('sums a counter over its label sets, and only that counter', () => {
    const text = [
      '# HELP arcane_kubernetes_api_calls_total Kubernetes API calls',
      '# TYPE arcane_kubernetes_api_calls_total counter',
      'arcane_kubernetes_api_calls_total{verb="get",resource="jobs.batch",code="2xx"} 12',
      'arcane_kubernetes_api_calls_total{verb="create",resource="jobs.batch",code="409"} 3',
      'arcane_kubernetes_api_calls_total_other 100',
      'arcane_signals_total{kind="resync"} 5',
    ].join('\n');
    assert.equal(metricSum(text, 'arcane_kubernetes_api_calls_total'), 15);
    assert.equal(metricSum(text, 'arcane_absent_total'), 0);
  });

  it('measures each stream from its create to its phase, and the burst from the first create to the last', () => {
    const created = new Map([
      ['a', 1_000],
      ['b', 1_100],
    ]);
    const reached = new Map([
      ['a', 3_000],
      ['b', 2_100],
    ]);
    assert.deepEqual(latencies(created, reached), {
      count: 2,
      totalMs: 2_000,
      p50Ms: 1_000,
      p99Ms: 2_000,
      maxMs: 2_000,
    });
  });

  it('keeps at most the pool size in flight and does every item once', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await inPool([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      done.push(item);
      inFlight--;
    });
    assert.equal(most, 3);
    assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('API server request counts', () => {
  const line = (labels: string, value: number) => `apiserver_request_total{${labels}} ${value}`;
  const text = [
    '# TYPE apiserver_request_total counter',
    line('code="201",group="batch",resource="jobs",subresource="",verb="POST",version="v1"', 10),
    line('code="200",group="batch",resource="jobs",subresource="status",verb="PUT",version="v1"', 50),
    line('code="200",group="batch",resource="jobs",subresource="",verb="WATCH",version="v1"', 3),
    line('code="200",group="streaming.sneaksanddata.com",resource="mockstreams",subresource="status",verb="PATCH"', 4),
    line('code="200",group="example.com",resource="tablestreams",subresource="",verb="GET"', 2),
    line('code="201",group="",resource="pods",subresource="",verb="POST",version="v1"', 10),
    line('code="201",group="",resource="events",subresource="",verb="POST",version="v1"', 7),
    line('code="200",group="",resource="secrets",subresource="",verb="GET",version="v1"', 1),
    'apiserver_request_total_other{verb="GET"} 99',
  ].join('\n');

  it('reads every sample of a metric with its labels', () => {
    const found = samples(text, 'apiserver_request_total');
    assert.equal(found.length, 8);
    assert.deepEqual(found[0], {
      labels: { code: '201', group: 'batch', resource: 'jobs', subresource: '', verb: 'POST', version: 'v1' },
      value: 10,
    });
  });

  it("counts an operator's calls apart from the stack's, watches left out", () => {
    const calls = apiserverCalls(text, ['example.com']);
    // Job creates, the stream's status, the stream read in its own group, the Secret read; not Job status or pods.
    assert.equal(calls.operator, 10 + 4 + 2 + 1);
    assert.equal(calls.events, 7);
    assert.equal(calls.all, 10 + 50 + 4 + 2 + 10 + 7 + 1);
    assert.deepEqual(calls.byResource, {
      'POST jobs': 10,
      'PATCH mockstreams/status': 4,
      'GET tablestreams': 2,
      'GET secrets': 1,
    });
    assert.equal(apiserverCalls(text).operator, 10 + 4 + 1, 'a stream kind of another group counts only when named');
  });

  it('takes the difference of two readings, resource by resource', () => {
    const before = { operator: 5, events: 1, all: 20, byResource: { 'POST jobs': 5 } };
    const after = { operator: 12, events: 4, all: 40, byResource: { 'POST jobs': 9, 'GET secrets': 3 } };
    assert.deepEqual(callsBetween(before, after), {
      operator: 7,
      events: 3,
      all: 20,
      byResource: { 'POST jobs': 4, 'GET secrets': 3 },
    });
  });

  it("sums the operator's own count over its processes by verb and resource, codes together", () => {
    const worker = [
      'arcane_kubernetes_api_calls_total{verb="create",resource="jobs.batch",code="201"} 10',
      'arcane_kubernetes_api_calls_total{verb="create",resource="jobs.batch",code="409"} 2',
      'arcane_kubernetes_api_calls_total{verb="patch",resource="mockstreams.example.com/status",code="200"} 7',
      'arcane_activity_seconds_count{activity="wake"} 40',
    ].join('\n');
    const watcher = 'arcane_kubernetes_api_calls_total{verb="list",resource="jobs.batch",code="200"} 1';
    const counts = ownApiCalls(worker, watcher);
    assert.deepEqual(counts, {
      'create jobs.batch': 12,
      'patch mockstreams.example.com/status': 7,
      'list jobs.batch': 1,
    });
    assert.deepEqual(countsBetween({ 'create jobs.batch': 4, 'list jobs.batch': 1 }, counts), {
      'create jobs.batch': 8,
      'patch mockstreams.example.com/status': 7,
    });
  });
});

describe('benchmark records', () => {
  const result = (totalMs: number) => ({ count: 10, totalMs, p50Ms: totalMs / 2, p99Ms: totalMs, maxMs: totalMs });
  const memory = { peakRssBytes: 300 * 2 ** 20, steadyRssBytes: 200 * 2 ** 20 };
  const record = (streams: number, plugin: string, contenders: Partial<BurstRecord>, label = ''): BurstRecord => ({
    at: '2026-12-06T01:00:00.000Z',
    streams,
    plugin,
    label,
    controllerApiQps: 2000,
    ...contenders,
  });
  const operator = (totalMs: number) => ({
    ...result(totalMs),
    apiCallsPerStream: 12.5,
    historyEventsPerStream: 40,
    worker: memory,
    watcher: memory,
    idle: { windowSeconds: 60, apiCallsPerStreamHour: 0, historyEventsPerStreamHour: 0 },
  });
  const all = (streams: number, plugin: string, operatorMs: number, label = '') =>
    record(
      streams,
      plugin,
      {
        operator: operator(operatorMs),
        upstream: { ...result(2_000), apiCallsPerStream: 9, upstream: memory },
        floor: { ...result(1_000), apiCallsPerStream: 7 },
      },
      label,
    );

  it('reads the first records, kept before upstream runs, in the shape of the new ones', () => {
    const first = {
      at: '2026-12-02T10:46:52.839Z',
      streams: 100,
      operator: {
        ...result(56_626),
        apiCallsPerStream: 80.08,
        historyEventsPerStream: 133.54,
        workerMemory: { rssBytes: 1, peakRssBytes: 2 },
        watcherMemory: { rssBytes: 3, peakRssBytes: 4 },
      },
      idle: { windowSeconds: 60, apiCallsPerStreamHour: 8.4, historyEventsPerStreamHour: 0 },
      floor: { ...result(34_699), apiCallsPerStream: 7 },
    };
    const [old, current] = readRecords(`${JSON.stringify(first)}\n\n${JSON.stringify(all(20, 'test', 3_000))}\n`);
    assert.equal(old!.plugin, 'test');
    assert.equal(old!.controllerApiQps, 20);
    assert.equal(old!.operator!.worker.peakRssBytes, 2);
    assert.equal(old!.operator!.reportedApiCallsPerStream, 80.08, 'the first runs counted on the operator side');
    assert.ok(Number.isNaN(old!.operator!.apiCallsPerStream));
    assert.equal(old!.floor!.reportedApiCallsPerStream, 7);
    assert.ok(Number.isNaN(old!.operator!.worker.steadyRssBytes), 'read right after the burst: no steady figure');
    assert.equal(current!.upstream!.apiCallsPerStream, 9);
  });

  it('writes one table row per record with all three contenders side by side', () => {
    const rows = table([all(100, 'production', 3_000, 'keep-alive')]).split('\n');
    assert.equal(rows.length, 3);
    assert.match(
      rows[2]!,
      /\| keep-alive \| production \| 100 \| 2000 \| - \/ - \/ - \| 3\.0 \(1\.5, 3\.0\) \| 2\.0 \(1\.0, 2\.0\) \|/,
    );
    assert.match(rows[2]!, /\| 12\.5 \/ 9 \/ 7 \| - \/ - \/ - \| 40 \| - \/ - \/ - \| - \/ - \| 300 \/ 200 \|/);
  });

  it("shows the CPU seconds of each contender's own processes and of the operator run's Temporal and API server", () => {
    const measured = all(100, 'test', 3_000);
    measured.operator = {
      ...measured.operator!,
      cpuSeconds: { worker: 30.5, watcher: 4.5, temporal: 60, apiserver: 40, etcd: 8, kwok: 3 },
    };
    measured.upstream = { ...measured.upstream!, cpuSeconds: { upstream: 6, apiserver: 30 } };
    assert.match(table([measured]).split('\n')[2]!, /\| 35 \/ 6 \/ - \| 60 \/ 48 \|/);
  });

  /** The last cell of the table row of a run whose watcher restart is `restart`. */
  const restartCell = (streams: number, restart: WatcherRestart) => {
    const measured = all(streams, 'test', 3_000);
    measured.operator = { ...measured.operator!, watcherRestart: restart };
    return table([measured]).split('\n')[2]!;
  };

  it("shows the restarted watcher's peak RSS after the restart's figures", () => {
    const restart = { apiCallsPerStream: 0, ownApiCallsPerStream: 0, historyEventsPerStream: 0, resyncs: 1 };
    const row = restartCell(10_000, {
      ...restart,
      unchangedStreams: 10_000,
      rssBytes: 250 * 2 ** 20,
      peakRssBytes: 312 * 2 ** 20,
    });
    assert.match(row, /\| 300 \/ 200 \| 0 \| 0 \| 0 \/ 0, 0, 10000, 312 MiB peak \|$/);
  });

  it('shows a restart recorded before its memory was measured as it was shown then', () => {
    // A record of bench/results.jsonl from before the restarted watcher's memory was measured.
    const row = restartCell(1_000, {
      apiCallsPerStream: 0.007,
      ownApiCallsPerStream: 0.014,
      historyEventsPerStream: 0,
      resyncs: 1,
      unchangedStreams: 1000,
    });
    assert.match(row, /\| 300 \/ 200 \| 0 \| 0 \| 0\.01 \/ 0\.01, 0, 1000 \|$/);
  });

  it('marks a contender that could not run the streams as failed, and one that did not run with a dash', () => {
    const partial = record(100, 'test', { operator: operator(3_000), failed: { upstream: 'timed out' } });
    assert.match(table([partial]).split('\n')[2]!, /\| 3\.0 \(1\.5, 3\.0\) \| failed \| - \|/);
  });

  it('marks a contender that was not started on the plugin as not run', () => {
    const refused = record(1_000, 'production', {
      operator: operator(3_000),
      notRun: { upstream: 'upstream cannot run layout-v1 streams' },
    });
    assert.match(table([refused]).split('\n')[2]!, /\| 3\.0 \(1\.5, 3\.0\) \| not run \| - \|/);
  });

  it('shows how far a contender got when its deadline passed', () => {
    const cut = record(10_000, 'test', {
      operator: operator(3_000),
      failed: { upstream: unfinished(1_236, 10_000, 1_921_400) },
    });
    assert.match(table([cut]).split('\n')[2]!, /\| 3\.0 \(1\.5, 3\.0\) \| 1236 of 10000 by 1921 \| - \|/);
  });

  it('shows the newest run of each plugin and count, preferring a run of all three over partial ones', () => {
    const floorCheck = record(100, 'test', { floor: { ...result(900), apiCallsPerStream: 7 } }, 'QPS check');
    const shown = latest([all(100, 'test', 5_000), all(100, 'test', 4_000), floorCheck, all(20, 'test', 1_000)]);
    assert.deepEqual(
      shown.map((r) => [r.streams, r.operator?.totalMs]),
      [
        [20, 1_000],
        [100, 4_000],
      ],
    );
    const operatorOnly = record(100, 'production', { operator: operator(9_000) });
    const floorOnly = record(100, 'production', { floor: { ...result(800), apiCallsPerStream: 7 } });
    assert.deepEqual(latest([operatorOnly, floorOnly]), [operatorOnly, floorOnly], 'no run of all three: each kind');
    const both = record(100, 'production', {
      operator: operator(8_000),
      floor: { ...result(700), apiCallsPerStream: 7 },
    });
    assert.deepEqual(
      latest([operatorOnly, floorOnly, both]),
      [both],
      'a newer run of the same contenders replaces them',
    );
  });

  it("replaces only the README's marked section, and leaves a README without markers alone", () => {
    const readme = 'intro\n<!-- bench:latest -->\nold table\n<!-- /bench:latest -->\nafter\n';
    const updated = withReadmeTable(readme, [all(100, 'test', 3_000)]);
    assert.match(updated, /^intro\n<!-- bench:latest -->\n\n\| date \|/);
    assert.match(updated, /!\[Time to Running against N\]\(bench\/results\.svg\)\n\n<!-- \/bench:latest -->\nafter\n$/);
    assert.doesNotMatch(updated, /old table/);
    assert.equal(withReadmeTable('no markers', [all(100, 'test', 3_000)]), 'no markers');
  });

  it('plots one line per plugin and contender through the newest time of each count', () => {
    const svg = plotSvg([all(20, 'test', 1_000), all(100, 'test', 4_000), all(100, 'production', 6_000)]);
    assert.equal(svg.match(/<polyline /g)?.length, 6);
    assert.equal(svg.match(/<circle /g)?.length, 9);
    assert.match(svg, /this operator, test plugin/);
    assert.match(svg, /upstream Go operator, production plugin/);
    assert.match(plotSvg([]), /no results yet/);
  });
});

describe('upstream side by side', () => {
  it('is not run on a plugin whose streams it cannot run, and says why', () => {
    assert.equal(upstreamCannotRun(TEST), undefined);
    assert.match(upstreamCannotRun(PRODUCTION) ?? '', /^upstream cannot run layout-v1 streams: .*no namespace/);
  });
});

describe('benchmark command line', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [bench, ...args], { encoding: 'utf8', timeout: 30_000 });

  for (const [args, message] of [
    [['--streams', '0'], /--streams .*must be a whole number from 1 to 100000, not "0"/],
    [['--streams', '100,lots'], /--streams .*not "lots"/],
    [['--pool', '-1'], /--pool .*must be a whole number from 1 to 1000, not "-1"/],
    [['--idle-seconds', '1.5'], /--idle-seconds .*not "1.5"/],
    [['--stream', '10'], /unknown option '--stream'/],
    [['--plugin', 'test,other'], /--plugin .*must be among test, production, not "other"/],
    [['--contenders', 'operator,mine'], /--contenders .*must be among operator, upstream, floor, not "mine"/],
    [['--controller-qps', '0'], /--controller-qps .*not "0"/],
    [['--deadline', '0'], /--deadline .*must be a whole number from 1 to 1000000, not "0"/],
    [['--deadline', 'soon'], /--deadline .*not "soon"/],
    [['--operator-env', 'WORKFLOW_CACHE=1'], /--operator-env .*expected ARCANE_<SETTING>=<value>/],
    [['--operator-code', 'compiled'], /--operator-code .*'compiled' is invalid. Allowed choices are dist, sources/],
  ] as const) {
    it(`refuses ${args.join(' ')} before starting anything`, () => {
      const { status, stderr } = run([...args]);
      assert.notEqual(status, 0);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /\[bench/);
    });
  }

  // The command as the bench parses it, with an action that runs nothing.
  const parsed = (args: string[]) =>
    benchCommand()
      .action(() => undefined)
      .parse(['node', 'bench', ...args])
      .opts();

  it('gives each contender the --deadline it is told, else 5 minutes and 5 s per stream', () => {
    assert.equal(deadlineMs(parsed(['--deadline', '2100']), 10_000), 2_100_000);
    assert.equal(deadlineMs(parsed([]), 10_000), 50_300_000);
  });

  it('runs the operator compiled, as its image does, unless told to run its sources', () => {
    assert.equal(parsed([]).operatorCode, 'dist');
    assert.equal(parsed(['--operator-code', 'sources']).operatorCode, 'sources');
  });
});
