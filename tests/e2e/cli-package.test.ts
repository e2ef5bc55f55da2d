// The npm package as users get it: `npm pack` builds dist/ (prepack), the tarball installs into an empty folder
// outside the checkout, and its `arcane` runs there from node_modules, where Node does not strip types.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startTemporalOnly } from '../../stack/index.ts';
import type { TemporalServer } from '../../stack/temporal.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const npm = 'npm';

/** Runs a command; resolves with its exit code and output whether it succeeded or not. */
async function attempt(file: string, args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, timeout: 300_000, env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('arcane from a packed tarball', () => {
  const work = mkdtempSync(join(tmpdir(), 'arcane-package-'));
  const app = join(work, 'app');
  let temporal: { temporal: TemporalServer } | undefined;

  before(async () => {
    const packed = await attempt(npm, ['pack', '--pack-destination', work], root);
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stderr}`);
    const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote no tarball');
    rmSync(app, { recursive: true, force: true });
    await run('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'uses-arcane', version: '1.0.0', private: true }));
    // The dependencies come from npm's cache when the checkout's install put them there.
    const installed = await attempt(
      npm,
      ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball)],
      app,
    );
    assert.equal(installed.code, 0, `npm install of the tarball failed:\n${installed.stderr}`);
  });

  after(async () => {
    await temporal?.temporal.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('ships compiled JavaScript and no TypeScript sources', () => {
    const files = readdirSync(join(app, 'node_modules/arcane-temporal'), { recursive: true, encoding: 'utf8' });
    assert.ok(files.includes(join('dist', 'cli', 'arcane.js')));
    assert.ok(files.includes(join('bin', 'arcane.js')));
    assert.deepEqual(
      files.filter((file) => file.endsWith('.ts')),
      [],
    );
  });

  it('runs `npx arcane --help`', async () => {
    const help = await attempt(npm, ['exec', '--offline', '--', 'arcane', '--help'], app);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['watcher', 'worker', 'dev', 'stream', 'downtime']) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('lists streams from a real Temporal server, and fails in one line when none answers', async () => {
    temporal = await startTemporalOnly({ dir: join(work, 'temporal') });
    const { address, namespace } = temporal.temporal;
    const arcane = join(app, 'node_modules/.bin/arcane');
    const listed = await attempt(
      arcane,
      ['stream', 'list', '--temporal-address', address, '--temporal-namespace', namespace],
      app,
    );
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, 'No running stream workflows found.\n');

    const unreachable = await attempt(arcane, ['stream', 'list', '--temporal-address', '127.0.0.1:1'], app);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^arcane: cannot reach Temporal at 127\.0\.0\.1:1 \(namespace default\): .+\n$/);
  });
});
