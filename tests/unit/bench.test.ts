// The benchmark's arithmetic and its command line: percentiles, counters read from Prometheus text, and broken
// arguments refused before anything starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inPool, latencies, metricSum, percentile } from '../../bench/measure.ts';

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

describe('benchmark command line', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [bench, ...args], { encoding: 'utf8', timeout: 30_000 });

  for (const [args, message] of [
    [['--streams', '0'], /--streams .*must be a whole number from 1 to 100000, not "0"/],
    [['--streams', '100,lots'], /--streams .*not "lots"/],
    [['--pool', '-1'], /--pool .*must be a whole number from 1 to 1000, not "-1"/],
    [['--idle-seconds', '1.5'], /--idle-seconds .*not "1.5"/],
    [['--stream', '10'], /unknown option '--stream'/],
  ] as const) {
    it(`refuses ${args.join(' ')} before starting anything`, () => {
      const { status, stderr } = run([...args]);
      assert.notEqual(status, 0);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /\[bench/);
    });
  }
});
