// How a process entry stops: a clean drain on SIGTERM that a repeated SIGTERM does not cut short; a second Ctrl-C
// ends it at once; a start that fails exits 1 even with handles left open.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const entry = join(import.meta.dirname, '../fixtures/process/slow-stop.ts');

/** Starts the entry; `said(line)` resolves once it has printed that line. */
function start() {
  const child = spawn(process.execPath, [entry], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const waiter of waiters) if (output.split('\n').includes(waiter.line)) waiter.resolve();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      if (output.split('\n').includes(line)) return resolve();
      waiters.push({ line, resolve });
      void exited.then(() => reject(new Error(`exited before printing "${line}"; it printed: ${output}`)));
    });
  return { child, said, exited, output: () => output };
}

describe('process entry signals', () => {
  it('finishes stopping and exits 0 when SIGTERM comes twice', async () => {
    const proc = start();
    await proc.said('ready');
    proc.child.kill('SIGTERM');
    await proc.said('stopping');
    proc.child.kill('SIGTERM');
    const [code, signal] = await proc.exited;
    assert.deepEqual([code, signal], [0, null]);
    assert.deepEqual(proc.output().trim().split('\n'), ['ready', 'stopping', 'stopped']);
  });

  it('exits 130 at once on a second SIGINT', async () => {
    const proc = start();
    await proc.said('ready');
    proc.child.kill('SIGINT');
    await proc.said('stopping');
    proc.child.kill('SIGINT');
    const [code] = await proc.exited;
    assert.equal(code, 130);
    assert.ok(!proc.output().includes('stopped'), 'the drain was cut short');
  });

  it('exits 1 with the reason when it cannot start, even with a handle left open', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../fixtures/process/failed-start.ts')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1);
    assert.match(stderr, /could not start: the workflow bundle could not be built/);
  });
});
