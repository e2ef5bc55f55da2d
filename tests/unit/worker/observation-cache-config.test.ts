// The worker's observation cache settings: on by default, its catch-up time and namespace from the environment, and
// broken values refused with the setting named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromSources } from '../../../operations/settings.ts';
import { parseWorkerConfig, WORKER_SETTINGS } from '../../../worker/config.ts';

const parse = (env: Record<string, string>) => parseWorkerConfig(configFromSources(WORKER_SETTINGS, env));

describe('observation cache settings', () => {
  it('is on, waits 2s to catch up and watches every namespace unless told otherwise', () => {
    const config = parseWorkerConfig({});
    assert.deepEqual(config.observationCache, { enabled: true, catchUp: 2_000 });
    assert.equal(config.watchNamespace, undefined);
  });

  it('reads ARCANE_OBSERVATION_CACHE_* and ARCANE_WATCH_NAMESPACE', () => {
    const config = parse({
      ARCANE_OBSERVATION_CACHE_ENABLED: 'false',
      ARCANE_OBSERVATION_CACHE_CATCH_UP: '500ms',
      ARCANE_WATCH_NAMESPACE: 'streams',
    });
    assert.deepEqual(config.observationCache, { enabled: false, catchUp: 500 });
    assert.equal(config.watchNamespace, 'streams');
  });

  it('refuses broken values, naming the setting and not the value', () => {
    for (const [env, field] of [
      [{ ARCANE_OBSERVATION_CACHE_CATCH_UP: '0s' }, /observationCache\.catchUp/],
      [{ ARCANE_OBSERVATION_CACHE_CATCH_UP: 'soon' }, /observationCache\.catchUp/],
      [{ ARCANE_OBSERVATION_CACHE_ENABLED: 'perhaps' }, /observationCache\.enabled/],
      [{ ARCANE_WATCH_NAMESPACE: 'Not_A_Namespace' }, /watchNamespace/],
    ] as const) {
      assert.throws(
        () => parse(env),
        (error: Error) => field.test(error.message) && !error.message.includes(Object.values(env)[0] ?? '<none>'),
      );
    }
  });
});
