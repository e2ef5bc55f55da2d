// Watcher configuration: defaults, the sources it is read from, and a message naming each bad setting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configFromSources } from '../../../watcher/config-sources.ts';
import { ConfigError, parseDuration, parseWatcherConfig } from '../../../watcher/config.ts';

/** The problems a bad configuration is rejected with. */
function problems(input: unknown): string[] {
  try {
    parseWatcherConfig(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.match(error.message, /^invalid watcher configuration:\n {2}- /);
    return error.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('defaults', () => {
  test("an empty configuration is the upstream chart's ports, a local Temporal and a 15 s lease", () => {
    const config = parseWatcherConfig({});
    assert.equal(config.health.port, 8888);
    assert.equal(config.metrics.port, 9090);
    assert.deepEqual(
      { address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue },
      { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'arcane-streams' },
    );
    assert.equal(config.leaderElection.leaseDuration, 15_000);
    assert.equal(config.leaderElection.renewPeriod, 5_000);
    assert.equal(config.watchNamespace, undefined);
  });

  test('durations are read as "15s", "500ms", "2m" or milliseconds', () => {
    assert.equal(parseDuration('15s'), 15_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('soon'), undefined);
  });
});

describe('broken configuration', () => {
  test('a port out of range names the setting and the range', () => {
    assert.deepEqual(problems({ health: { port: 70000 } }), ['health.port: must be a whole number from 0 to 65535']);
  });

  test('a port that is not a number', () => {
    assert.deepEqual(problems({ metrics: { port: 'ninety' } }), [
      'metrics.port: must be a whole number from 0 to 65535',
    ]);
  });

  test('a Temporal address without a port', () => {
    assert.deepEqual(problems({ temporal: { address: 'temporal-frontend' } }), [
      'temporal.address: must be host:port, e.g. temporal-frontend:7233',
    ]);
  });

  test('an unreadable duration', () => {
    assert.deepEqual(problems({ leaderElection: { leaseDuration: 'fifteen seconds' } }), [
      'leaderElection.leaseDuration: must be a duration such as "15s", "500ms" or "2m"',
    ]);
  });

  test('a renew period as long as the lease', () => {
    assert.deepEqual(problems({ leaderElection: { leaseDuration: '10s', renewPeriod: '10s' } }), [
      'leaderElection.renewPeriod: renewPeriod must be shorter than leaseDuration (the leader would lose its lease between renewals)',
    ]);
  });

  test('a client certificate without its key', () => {
    assert.deepEqual(problems({ temporal: { tls: { certFile: '/tls/client.crt' } } }), [
      'temporal.tls: certFile and keyFile go together (mTLS)',
    ]);
  });

  test('a namespace that is not a Kubernetes name', () => {
    assert.deepEqual(problems({ watchNamespace: 'Data_Team' }), [
      'watchNamespace: must be a Kubernetes namespace name (lower-case letters, digits, "-")',
    ]);
  });

  test('a misspelt setting is not silently ignored', () => {
    assert.deepEqual(problems({ temporal: { adress: 'x:1' } }), ['unknown setting in temporal: adress']);
  });

  test('a boolean that is neither true nor false', () => {
    assert.deepEqual(problems({ leaderElection: { enabled: 'maybe' } }), [
      'leaderElection.enabled: must be true or false',
    ]);
  });

  test('a batch window that is not a duration from 0 to 10s', () => {
    assert.equal(parseWatcherConfig({}).signals.batchWindow, 100);
    assert.equal(parseWatcherConfig({ signals: { batchWindow: '0s' } }).signals.batchWindow, 0);
    assert.match(problems({ signals: { batchWindow: '1m' } }).join(), /signals\.batchWindow: must be at most 10s/);
    assert.match(problems({ signals: { batchWindow: 'soon' } }).join(), /signals\.batchWindow/);
  });

  test('every problem is reported at once', () => {
    assert.equal(problems({ health: { port: -1 }, metrics: { port: 'x' }, signals: { maxInFlight: 0 } }).length, 3);
  });
});

describe('configuration sources', () => {
  test('ARCANE_* variables name settings by their path', () => {
    const config = parseWatcherConfig(
      configFromSources({
        ARCANE_TEMPORAL_ADDRESS: 'temporal:7233',
        ARCANE_TASK_QUEUE: 'streams-eu',
        ARCANE_LEADER_ELECTION_LEASE_DURATION: '30s',
        ARCANE_WATCH_NAMESPACE: 'data',
      }),
    );
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.temporal.taskQueue, 'streams-eu');
    assert.equal(config.leaderElection.leaseDuration, 30_000);
    assert.equal(config.watchNamespace, 'data');
  });

  test("the upstream operator's variables set the probe and metrics ports", () => {
    const config = parseWatcherConfig(
      configFromSources({ ARCANE_OPERATOR__PROBES__PORT: '8081', ARCANE_OPERATOR__TELEMETRY__METRICS_PORT: '9091' }),
    );
    assert.equal(config.health.port, 8081);
    assert.equal(config.metrics.port, 9091);
  });

  test('flags win over ARCANE_* variables, which win over ARCANE_OPERATOR__* variables', () => {
    const env = { ARCANE_HEALTH_PORT: '8001', ARCANE_OPERATOR__HEALTH__PORT: '8002', ARCANE_TEMPORAL_NAMESPACE: 'env' };
    const config = parseWatcherConfig(configFromSources(env, { 'temporal-namespace': 'flag' }));
    assert.equal(config.health.port, 8001);
    assert.equal(config.temporal.namespace, 'flag');
  });

  test('the API key is read from the environment only', () => {
    const config = parseWatcherConfig(
      configFromSources({ ARCANE_TEMPORAL_API_KEY: 'from-env' }, { 'temporal-api-key': 'from-flag' }),
    );
    assert.equal(config.temporal.apiKey, 'from-env');
  });

  test('the pod name and namespace from the downward API identify the lease holder', () => {
    const config = parseWatcherConfig(configFromSources({ POD_NAMESPACE: 'arcane', POD_NAME: 'watcher-7d9f' }));
    assert.equal(config.leaderElection.namespace, 'arcane');
    assert.equal(config.leaderElection.identity, 'watcher-7d9f');
  });

  test('a bad variable is reported under its setting', () => {
    assert.deepEqual(problems(configFromSources({ ARCANE_METRICS_PORT: '90x' })), [
      'metrics.port: must be a whole number from 0 to 65535',
    ]);
  });
});
