// High availability as the chart deploys it: two workers and two watchers electing a leader. During a burst of 100
// stream changes one worker and the leading watcher are killed with kill -9; the other worker and the other watcher
// carry on, and every stream converges with no Job and no BackfillRequest duplicated. The time until every stream
// converged is printed (a figure for the notes, not an assertion). Half the streams are of each test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { installArcaneCrds, installTestPluginClasses, applyYaml } from '../../stack/manifests.ts';
import type { OperatorProcess } from '../../stack/operator-process.ts';
import { waitFor } from '../../stack/wait.ts';
import { PLUGINS } from '../fixtures/plugins.ts';
import { Cluster, type Stream } from './cluster.ts';
import {
  assertNothingDuplicated,
  changeStreams,
  streamNames,
  waitForConvergence,
  waitForWorkflowsAgree,
} from './fleet.ts';
import { JobLog } from './job-log.ts';
import { useOwnStack } from './own-stack.ts';

const MIB = 1024 * 1024;

/** Streams made on each test plugin in turn: the first name on the first plugin, the next on the second, and so on. */
function createOnEachPlugin(cluster: Cluster, names: readonly string[]): Promise<Stream[]> {
  return Promise.all(names.map((name, i) => cluster.createPluginStream(PLUGINS[i % PLUGINS.length]!, name)));
}

/** A spec change for each stream, each made as its own plugin's streams are changed. */
async function changeOnEachPlugin(cluster: Cluster, streams: readonly Stream[], value: string): Promise<void> {
  await Promise.all(
    PLUGINS.map((plugin) =>
      changeStreams(
        cluster,
        streams.filter((stream) => stream.kind === plugin.kind),
        value,
        plugin,
      ),
    ),
  );
}

function halves<T>(list: readonly T[]): [T[], T[]] {
  const middle = Math.ceil(list.length / 2);
  return [list.slice(0, middle), list.slice(middle)];
}

describe('high availability: two workers and two watchers', () => {
  let workers: OperatorProcess[] = [];
  let watchers: OperatorProcess[] = [];
  const own = useOwnStack(async (own) => {
    await installArcaneCrds(own.admin);
    await installTestPluginClasses(own.admin);
    const common = own.operatorEnv('arcane-ha');
    // The chart's leader election, with a short Lease so a killed leader's successor takes over within seconds.
    const election = {
      ARCANE_LEADER_ELECTION_ENABLED: 'true',
      ARCANE_LEADER_ELECTION_NAMESPACE: 'default',
      ARCANE_LEADER_ELECTION_NAME: 'arcane-ha',
      ARCANE_LEADER_ELECTION_LEASE_DURATION: '3s',
      ARCANE_LEADER_ELECTION_RENEW_PERIOD: '1s',
    };
    workers = [own.process('worker', common), own.process('worker', common)];
    watchers = [own.process('watcher', { ...common, ...election }), own.process('watcher', { ...common, ...election })];
    await Promise.all(workers.map((worker) => worker.start()));
    await Promise.all(watchers.map((watcher) => watcher.start()));
  });

  /** The watcher that holds the Lease, once exactly one says it does. */
  async function leadingWatcher(): Promise<OperatorProcess> {
    return waitFor('exactly one watcher to lead', async () => {
      const leading = await Promise.all(
        watchers.map(async (watcher) => /^arcane_watcher_leader 1$/m.test(await watcher.metrics())),
      );
      return leading.filter(Boolean).length === 1 && watchers[leading.indexOf(true)];
    });
  }

  it(
    'converges 100 stream changes while one worker and the leading watcher are killed, nothing stuck or duplicated',
    own.step(async (t) => {
      const namespace = await Cluster.createNamespace(own.admin, 'ha');
      await applyYaml(
        own.admin,
        PLUGINS.flatMap((plugin) => plugin.files.namespacedFiles),
        namespace,
      );
      const cluster = new Cluster(own.admin, namespace);
      const log = await JobLog.start(t, own.admin, namespace);
      const start = Date.now();
      const steady = await createOnEachPlugin(cluster, streamNames(50, 'steady'));
      await waitForConvergence(cluster, steady, { timeoutMs: 300_000 });
      const warmUp = Date.now() - start;
      const leader = await leadingWatcher();

      // The burst: 50 running streams changed and 50 new ones created, half before the kills and half after, so the
      // kills land while the first half is being worked on.
      const [changedFirst, changedLater] = halves(steady);
      const [createdFirst, createdLater] = halves(streamNames(50, 'new'));
      const burst = Date.now();
      await changeOnEachPlugin(cluster, changedFirst, 'mock://source/ha');
      const fresh = await createOnEachPlugin(cluster, createdFirst);
      await Promise.all([workers[0]!.kill(), leader.kill()]);
      const killedAfter = Date.now() - burst;
      await changeOnEachPlugin(cluster, changedLater, 'mock://source/ha');
      fresh.push(...(await createOnEachPlugin(cluster, createdLater)));
      const all = [...steady, ...fresh];

      await waitForConvergence(cluster, all, { timeoutMs: 600_000 });
      const converged = Date.now() - burst;
      await waitForWorkflowsAgree(own.temporal, cluster, all);
      await assertNothingDuplicated(cluster, log, {
        streams: all,
        streamingJobs: (stream) => (steady.includes(stream) ? 2 : 1),
      });

      const survivor = watchers.find((watcher) => watcher !== leader)!;
      assert.match(await survivor.metrics(), /^arcane_watcher_leader 1$/m, 'the other watcher took over');
      const rss = [workers[1]!, survivor].map((proc) => {
        const { rssBytes, peakRssBytes } = proc.memory();
        return `${proc.role} ${Math.round(peakRssBytes / MIB)} / ${Math.round(rssBytes / MIB)} MiB`;
      });
      const figure =
        `100 stream changes (50 changed, 50 created; kill -9 of a worker and the leading watcher ${killedAfter} ms ` +
        `into the burst): every stream converged ${converged} ms after the burst began (for comparison, the first ` +
        `50 streams took ${warmUp} ms with nothing killed); RSS of the survivors (peak / now): ${rss.join(', ')}`;
      t.diagnostic(figure);
      console.log(figure);
    }),
  );
});
