// The `arcane` command with broken input: a clear message naming what is wrong, a non-zero exit, nothing started.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseStreamArgument } from '../../cli/stream-commands.ts';
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

  it('rejects an unknown command', () => {
    const { status, stderr } = run(['wrker']);
    assert.notEqual(status, 0);
    assert.match(stderr, /unknown command 'wrker'/);
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
    assert.notEqual(status, 0);
    assert.match(stderr, /stream must be <namespace>\/<name> \(e\.g\. default\/orders\), not "orders"/);
  });

  it('rejects a backfill payload that is not a JSON object', () => {
    const { status, stderr } = run(['stream', 'backfill', 'mock-stream', 'default/orders', '--payload', '[1]']);
    assert.notEqual(status, 0);
    assert.match(stderr, /--payload must be a JSON object, not \[1\]/);
  });

  it('rejects a command missing its stream', () => {
    const { status, stderr } = run(['stream', 'suspend', 'mock-stream']);
    assert.notEqual(status, 0);
    assert.match(stderr, /missing required argument 'stream'/);
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
