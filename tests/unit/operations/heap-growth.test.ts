// Heap growth: both processes read `heap.growthPercent` from the same variable and flag, each with its own default, and
// reject a value that is not a whole percentage from 0 to 400, naming the setting; the setting reaches V8.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ConfigError, DEFAULT_HEAP_GROWTH_PERCENT } from '../../../operations/config-schema.ts';
import { configFromSources as workerSources } from '../../../operations/settings.ts';
import { configFromSources as watcherSources } from '../../../watcher/config-sources.ts';
import { parseWatcherConfig } from '../../../watcher/config.ts';
import { parseWorkerConfig, WORKER_SETTINGS } from '../../../worker/config.ts';

const heapModule = join(import.meta.dirname, '../../../operations/heap.ts');

const processes = {
  worker: (env: NodeJS.ProcessEnv, flags: Record<string, string> = {}) =>
    parseWorkerConfig(workerSources(WORKER_SETTINGS, env, flags)).heap.growthPercent,
  watcher: (env: NodeJS.ProcessEnv, flags: Record<string, string> = {}) =>
    parseWatcherConfig(watcherSources(env, flags)).heap.growthPercent,
};

for (const [name, growth] of Object.entries(processes)) {
  describe(`${name} heap growth`, () => {
    test("defaults to the process's own default", () => {
      const expected = DEFAULT_HEAP_GROWTH_PERCENT[name as keyof typeof processes];
      assert.equal(growth({}), expected);
      assert.ok(expected > 0, "the default must not leave the heap to V8's own growth");
    });

    test('is read from ARCANE_HEAP_GROWTH_PERCENT and from --heap-growth-percent, the flag first', () => {
      assert.equal(growth({ ARCANE_HEAP_GROWTH_PERCENT: '25' }), 25);
      assert.equal(growth({ ARCANE_HEAP_GROWTH_PERCENT: '0' }), 0);
      assert.equal(growth({ ARCANE_HEAP_GROWTH_PERCENT: '25' }, { 'heap-growth-percent': '80' }), 80);
    });

    for (const bad of ['-1', '401', '12.5', 'fast']) {
      test(`rejects ${JSON.stringify(bad)}, naming the setting and the range`, () => {
        assert.throws(
          () => growth({ ARCANE_HEAP_GROWTH_PERCENT: bad }),
          (error: unknown) =>
            error instanceof ConfigError &&
            error.problems.some((problem) => /^heap\.growthPercent: .*0 to 400/.test(problem)),
        );
      });
    }
  });
}

/** The growing factors V8 reports after a full collection in a process (and a worker thread of it) given `percent`. */
function reportedFactors(percent: number): string[] {
  const script = [
    `import { limitHeapGrowth } from ${JSON.stringify(pathToFileURL(heapModule).href)};`,
    'import { Worker } from "node:worker_threads";',
    `limitHeapGrowth(${percent});`,
    'globalThis.gc();',
    'await new Promise((resolve) => new Worker("globalThis.gc()", { eval: true }).on("exit", resolve));',
  ].join('\n');
  const child = spawnSync(
    process.execPath,
    ['--trace-gc-verbose', '--expose-gc', '--input-type=module', '--eval', script],
    { encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  return [...child.stdout.matchAll(/\[HeapController\] factor (\d+(?:\.\d+)?)/g)].map((match) => match[1] ?? '');
}

describe('limitHeapGrowth', () => {
  test('sets the factor V8 grows every heap of the process by, the worker threads included', () => {
    const factors = reportedFactors(50);
    assert.ok(
      factors.length >= 2,
      `expected a full collection in the process and in its thread, saw ${factors.length}`,
    );
    assert.deepEqual(new Set(factors), new Set(['1.5']));
  });

  test("0 leaves V8's own factor", () => {
    const factors = reportedFactors(0);
    assert.ok(factors.length >= 1);
    assert.ok(!factors.includes('1.5'), `V8's own factor was replaced: ${factors.join(', ')}`);
  });
});
