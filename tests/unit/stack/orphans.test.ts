// Nothing the stack launches outlives its owner: a signal stops every component, a second signal or a stuck stop kills
// them, and the components of a SIGKILLed owner are stopped by their reapers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { waitFor } from '../../../stack/wait.ts';

const fixture = join(import.meta.dirname, '../../fixtures/process/stack-owner.ts');

type Component = 'stops-on-sigterm' | 'ignores-sigterm';

/** Starts an owner of two components; resolves once it has printed their process group ids. */
async function startOwner(t: TestContext, component: Component, graceMs = 60_000) {
  const logDir = mkdtempSync(join(tmpdir(), 'arcane-owner-'));
  const child = spawn(process.execPath, [fixture, logDir, component, String(graceMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const next = await lines.next();
    if (next.done) throw new Error(`the owner exited without a word; stderr: ${stderr}`);
    return next.value;
  };
  const groups = JSON.parse(await nextLine()) as number[];
  assert.equal(groups.length, 2);
  t.after(() => {
    child.kill('SIGKILL');
    for (const group of groups) signalGroup(group, 'SIGKILL');
    rmSync(logDir, { recursive: true, force: true });
  });
  /** The components whose log says SIGTERM stopped them. */
  const stoppedBySigterm = () =>
    ['first', 'second'].filter((name) =>
      readFileSync(join(logDir, `${name}.log`), 'utf8').includes('stopped by SIGTERM'),
    );
  return { child, groups, exited, nextLine, stoppedBySigterm, stderr: () => stderr };
}

/** Whether the signal reached a process of the group. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

function groupsGone(groups: number[], timeoutMs: number): Promise<true> {
  const alive = () => groups.filter((group) => signalGroup(group, 0));
  return waitFor(`process groups ${groups.join(', ')} to be gone`, () => alive().length === 0 || undefined, {
    timeoutMs,
  });
}

describe('launched processes never outlive their owner', () => {
  it('SIGINT stops every component, and the owner exits 0', async (t) => {
    const owner = await startOwner(t, 'stops-on-sigterm');
    assert.ok(
      owner.groups.every((group) => signalGroup(group, 0)),
      'the components run',
    );
    owner.child.kill('SIGINT');
    assert.equal(await owner.nextLine(), 'stopping');
    assert.deepEqual(await owner.exited, [0, null]);
    await groupsGone(owner.groups, 10_000);
    assert.deepEqual(owner.stoppedBySigterm(), ['first', 'second']);
  });

  it('a second SIGINT kills components that ignore SIGTERM, and the owner exits 130', async (t) => {
    const owner = await startOwner(t, 'ignores-sigterm');
    owner.child.kill('SIGINT');
    assert.equal(await owner.nextLine(), 'stopping');
    owner.child.kill('SIGINT');
    assert.deepEqual(await owner.exited, [130, null]);
    assert.match(owner.stderr(), /SIGINT while stopping: killing first, second/);
    await groupsGone(owner.groups, 10_000);
  });

  it('a stop still running after the grace period kills every component, and the owner exits 1', async (t) => {
    const owner = await startOwner(t, 'ignores-sigterm', 1_000);
    owner.child.kill('SIGTERM');
    assert.equal(await owner.nextLine(), 'stopping');
    assert.deepEqual(await owner.exited, [1, null]);
    assert.match(owner.stderr(), /still stopping 1000 ms after SIGTERM: killing first, second/);
    await groupsGone(owner.groups, 10_000);
  });

  it('the components of a SIGKILLed owner are stopped by their reapers', async (t) => {
    const owner = await startOwner(t, 'stops-on-sigterm');
    owner.child.kill('SIGKILL');
    await owner.exited;
    await groupsGone(owner.groups, 30_000);
    assert.deepEqual(owner.stoppedBySigterm(), ['first', 'second']);
  });

  it('a component of a SIGKILLed owner that ignores SIGTERM is killed after the grace period', async (t) => {
    const owner = await startOwner(t, 'ignores-sigterm');
    owner.child.kill('SIGKILL');
    await owner.exited;
    await groupsGone(owner.groups, 30_000);
  });
});
