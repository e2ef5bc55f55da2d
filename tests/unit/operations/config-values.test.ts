// A secret set in the wrong variable never reaches the log line that rejects it: each bad setting is named with
// what it must be, never with the value given.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../../operations/config-schema.ts';
import { envNames, type Setting } from '../../../operations/settings.ts';
import { configFromSources, SETTINGS as WATCHER_SETTINGS } from '../../../watcher/config-sources.ts';
import { parseWatcherConfig } from '../../../watcher/config.ts';
import { parseWorkerConfig, WORKER_SETTINGS } from '../../../worker/config.ts';
import { configFromSources as fromSources } from '../../../operations/settings.ts';

const MARKER = 'sk-live-7Hq2MARKERx9Zt';

/** The ConfigError text when the process's configuration is read with only `variable` set to the marker. */
function rejection(parse: (input: unknown) => unknown, input: Record<string, unknown>): string | undefined {
  try {
    parse(input);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return [error.message, ...error.problems, error.stack ?? ''].join('\n');
  }
}

const processes: {
  name: string;
  settings: readonly Setting[];
  read: (env: Record<string, string>) => string | undefined;
}[] = [
  {
    name: 'watcher',
    settings: WATCHER_SETTINGS,
    read: (env) => rejection(parseWatcherConfig, configFromSources(env)),
  },
  {
    name: 'worker',
    settings: WORKER_SETTINGS,
    read: (env) => rejection(parseWorkerConfig, fromSources(WORKER_SETTINGS, env)),
  },
];

for (const process of processes) {
  describe(`${process.name} settings given a secret by mistake`, () => {
    let rejected = 0;
    for (const setting of process.settings) {
      test(`${setting.path}: rejected without the value, or accepted as text`, () => {
        const said = process.read({ [envNames(setting)[0] as string]: MARKER });
        if (said === undefined) return;
        rejected++;
        assert.ok(!said.includes('MARKER'), `the value leaked:\n${said}`);
        // A rule over several settings (certFile with keyFile) names the group they belong to.
        const group = setting.path.split('.').slice(0, -1).join('.');
        const named = [setting.path, group].filter((path) => said.includes(`- ${path}: `));
        assert.ok(named.length > 0, `names neither ${setting.path} nor its group:\n${said}`);
      });
    }
    test('most settings check their values (durations, ports, flags, names)', () => {
      assert.ok(rejected >= process.settings.length / 3, `only ${rejected} settings rejected a secret`);
    });
  });
}
