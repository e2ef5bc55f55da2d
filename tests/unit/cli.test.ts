// The `arcane` command with broken input: a clear message naming what is wrong, a non-zero exit, nothing started.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { arcaneProgram } from '../../cli/arcane.ts';
import { parseStreamArgument } from '../../cli/arguments.ts';
import { parseWorkerConfig } from '../../worker/config.ts';
import { ConfigError } from '../../operations/config-schema.ts';

const arcane = join(import.meta.dirname, '../../cli/arcane.ts');

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [arcane, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('arcane command line', () => {
  it('lists its commands', () => {
    const { status, stdout } = run(['--help']);
    assert.equal(status, 0);
    for (const command of ['watcher', 'worker', 'dev', 'stream']) assert.match(stdout, new RegExp(`\\b${command}\\b`));
  });

  it('rejects an unknown command with exit code 2 and one line', () => {
    const { status, stderr } = run(['wrker']);
    assert.equal(status, 2);
    assert.equal(stderr, "arcane: unknown command 'wrker' (Did you mean worker?) (see 'arcane --help')\n");
  });

  it('shows an example in the help of every command', async () => {
    const program = arcaneProgram();
    const commands = [program, ...program.commands.flatMap((command) => [command, ...command.commands])].filter(
      (command) => command.commands.length === 0 || command === program,
    );
    assert.ok(commands.length >= 14, `only ${commands.length} commands`);
    for (const command of commands) {
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      const path: string[] = [];
      for (let current = command; current.parent; current = current.parent) path.unshift(current.name());
      // Help ends in commander's exit, which arcaneProgram turns into an exception.
      await assert.rejects(program.parseAsync([...path, '--help'], { from: 'user' }), { exitCode: 0 });
      assert.match(help, /\nExample:\n {2}\$ arcane /, `arcane ${path.join(' ')} --help`);
    }
  });

  it('exits 2 on a bad option value, naming the option and not echoing the value', () => {
    for (const args of [
      ['stream', 'list', '-o', 'yaml-please'],
      ['stream', 'list', '--class', 'Not_A_Class'],
      ['stream', 'list', '-n', 'Bad_Namespace'],
      ['stream', 'backfill', 'mock-stream', 'default/orders', '--wait', '--timeout', 'soonish'],
      ['downtime', 'declare', 'mock-stream', 'key with spaces'],
      ['downtime', 'declare', 'mock-stream', 'window-1', '--prefix', 'UPPER'],
    ]) {
      const { status, stderr } = run(args);
      assert.equal(status, 2, args.join(' '));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.doesNotMatch(stderr, /yaml-please|Not_A_Class|Bad_Namespace|soonish|key with spaces|UPPER/);
      assert.match(stderr, /^arcane: (-o|--class|--namespace|--timeout|KEY|--prefix)/);
    }
  });

  it('refuses --timeout without --wait', () => {
    const { status, stderr } = run(['stream', 'backfill', 'mock-stream', 'default/orders', '--timeout', '5m']);
    assert.equal(status, 2);
    assert.equal(stderr, 'arcane: --timeout needs --wait\n');
  });

  it('exits 1 with one line naming the address when Temporal cannot be reached', () => {
    const { status, stderr } = run(['stream', 'status', 'mock-stream', 'default/orders'], {
      ARCANE_TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    assert.equal(status, 1);
    assert.match(stderr, /^arcane: cannot reach Temporal at 127\.0\.0\.1:1 \(namespace default\): .+\n$/);
  });

  it('exits 2 naming every bad worker setting, before connecting anywhere', () => {
    const { status, stderr } = run(['worker'], {
      ARCANE_HEALTH_PORT: '88888',
      ARCANE_TEMPORAL_ADDRESS: 'temporal',
      ARCANE_LOG_LEVEL: 'loud',
    });
    assert.equal(status, 2);
    assert.match(stderr, /^invalid worker configuration:/);
    assert.match(stderr, /health\.port: must be a whole number from 0 to 65535$/m);
    assert.match(stderr, /temporal\.address: must be host:port/);
    assert.match(stderr, /log\.level: /);
  });

  it('exits 2 on a bad watcher flag, naming it', () => {
    const { status, stderr } = run(['watcher', '--leader-election-lease-duration', 'soon']);
    assert.equal(status, 2);
    assert.match(stderr, /leaderElection\.leaseDuration: must be a duration such as "15s"/);
  });

  it('rejects a stream argument that is not <namespace>/<name>', () => {
    const { status, stderr } = run(['stream', 'status', 'mock-stream', 'orders']);
    assert.equal(status, 2);
    assert.equal(stderr, 'arcane: STREAM must be <namespace>/<name>, e.g. default/orders\n');
  });

  it('rejects a backfill payload that is not a JSON object', () => {
    const { status, stderr } = run(['stream', 'backfill', 'mock-stream', 'default/orders', '--payload', '[1]']);
    assert.equal(status, 2);
    assert.equal(stderr, 'arcane: --payload must be a JSON object, not an array or a single value\n');
  });

  it('rejects a command missing its stream', () => {
    const { status, stderr } = run(['stream', 'suspend', 'mock-stream']);
    assert.equal(status, 2);
    assert.equal(stderr, "arcane: missing required argument 'STREAM' (see 'arcane stream suspend --help')\n");
  });
});

describe('stream arguments and worker configuration', () => {
  it('reads <namespace>/<name>', () => {
    assert.deepEqual(parseStreamArgument('mock-stream', 'team-a/orders.v2'), {
      streamClass: 'mock-stream',
      namespace: 'team-a',
      name: 'orders.v2',
    });
    assert.throws(() => parseStreamArgument('mock-stream', 'Team/orders'), /<namespace>\/<name>/);
    assert.throws(() => parseStreamArgument('mock-stream', 'a/b/c'), /<namespace>\/<name>/);
    assert.throws(() => parseStreamArgument('Mock_Stream', 'a/b'), /STREAM_CLASS must be a Kubernetes object name/);
  });

  it('defaults the worker to the upstream ports and a local Temporal', () => {
    const config = parseWorkerConfig({});
    assert.equal(config.health.port, 8888);
    assert.equal(config.metrics.port, 9090);
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.taskQueue, 'arcane-streams');
  });

  it('rejects unknown worker settings and half an mTLS pair', () => {
    assert.throws(
      () => parseWorkerConfig({ temporal: { tls: { certFile: '/tls/tls.crt' } }, leaderElection: {} }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.sort(), [
          'temporal.tls: certFile and keyFile go together (mTLS)',
          'unknown setting: leaderElection',
        ]);
        return true;
      },
    );
  });
});
