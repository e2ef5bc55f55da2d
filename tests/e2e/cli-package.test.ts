// The npm package as users get it: `npm pack` builds dist/ (prepack), the tarball installs into an empty folder
// outside the checkout, and its `arcane` runs there from node_modules, where Node does not strip types. Its worker
// (which bundles the compiled workflows with webpack) and its watcher run a stream to Running on a stack of their own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { applyYaml, installArcaneCrds, installTestPluginClasses, TEST_PLUGIN } from '../../stack/manifests.ts';
import { imageNodeOptions, type OperatorProcess } from '../../stack/operator-process.ts';
import { Cluster } from './cluster.ts';
import { createStreams } from './fleet.ts';
import { useOwnStack } from './own-stack.ts';

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

/**
 * A module hook (`node --import`) that appends to `log` the URL of every module of the Kubernetes client a process
 * loads: the library's own or the package's bundle of it.
 */
function loadedHook(log: string): string {
  return `import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (/\\/node_modules\\/@kubernetes\\/|\\/dist\\/kubernetes\\/client-node\\.js$/.test(resolved.url)) {
      appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
    }
    return resolved;
  },
});
`;
}

describe('arcane from a packed tarball', () => {
  const work = mkdtempSync(join(tmpdir(), 'arcane-package-'));
  const app = join(work, 'app');
  const installed = join(app, 'node_modules/arcane-temporal');
  const loadedLog = join(work, 'loaded.log');
  let packed: OperatorProcess[] = [];
  // Registered before the stack's own teardown, so the packed processes stop while the stack still answers.
  after(async () => {
    await Promise.allSettled(packed.map((proc) => proc.stop()));
  });
  const own = useOwnStack(async (own) => {
    await installArcaneCrds(own.admin);
    await installTestPluginClasses(own.admin, [TEST_PLUGIN]);
  });

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

  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships compiled JavaScript and no TypeScript sources', () => {
    const files = readdirSync(installed, { recursive: true, encoding: 'utf8' });
    assert.ok(files.includes(join('dist', 'cli', 'arcane.js')));
    assert.ok(files.includes(join('bin', 'arcane.js')));
    // What the worker hands webpack at start: the compiled workflows and the pure modules they import.
    assert.ok(files.includes(join('dist', 'workflows', 'index.js')));
    assert.ok(files.includes(join('dist', 'worker', 'workflow-bundle.js')));
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
    const { temporalAddress: address, temporalNamespace: namespace } = own.stack;
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

  it(
    'runs a stream to Running with the packed `arcane worker` and `arcane watcher`',
    own.step(async () => {
      // The package's own process starter, which starts the package's compiled CLI as production does.
      const entry = pathToFileURL(join(installed, 'dist/stack/operator-process.js')).href;
      const { OperatorProcess: PackedProcess } = (await import(
        entry
      )) as typeof import('../../stack/operator-process.ts');
      // An empty temporary folder: the worker finds no cached workflow bundle there and builds one with webpack.
      const bundles = mkdtempSync(join(work, 'tmp-'));
      // Both processes run with a module hook that lists what they load of the Kubernetes client library.
      const hook = join(work, 'loaded-hook.mjs');
      writeFileSync(hook, loadedHook(loadedLog));
      const nodeOptions = `${imageNodeOptions(readFileSync(join(root, 'deploy/Dockerfile'), 'utf8'))} --import=${pathToFileURL(hook).href}`;
      const env = { ...own.operatorEnv('arcane-packed'), TMPDIR: bundles, NODE_OPTIONS: nodeOptions };
      const worker = new PackedProcess('worker', env, own.stack.logDir);
      const watcher = new PackedProcess('watcher', env, own.stack.logDir);
      packed = [worker, watcher];
      await worker.start();
      const built = readdirSync(join(bundles, 'arcane-temporal'));
      assert.equal(built.filter((file) => /^workflows-[0-9a-f]{16}\.js$/.test(file)).length, 1, built.join(', '));
      await watcher.start();

      const namespace = await Cluster.createNamespace(own.admin, 'packed');
      await applyYaml(own.admin, TEST_PLUGIN.namespacedFiles, namespace);
      const cluster = new Cluster(own.admin, namespace);
      const [stream] = await createStreams(cluster, ['packed-stream']);
      await cluster.waitForPhase(stream!, 'Running', 120_000);
      // Both stop as on a rolling update: SIGTERM, exit 0.
      await watcher.stop();
      await worker.stop();

      // Of the library, they loaded the package's bundle of the parts the operator uses and none of the library's own
      // modules (its index loads every generated API client: tens of MiB per process).
      const loaded = readFileSync(loadedLog, 'utf8').split('\n').filter(Boolean);
      const bundle = pathToFileURL(join(installed, 'dist/kubernetes/client-node.js')).href;
      assert.ok(loaded.includes(bundle), `the processes load the bundle:\n${loaded.join('\n')}`);
      assert.deepEqual(
        loaded.filter((url) => url.includes('/node_modules/@kubernetes/')),
        [],
      );
    }),
  );
});
