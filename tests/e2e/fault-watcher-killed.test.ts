// kill -9 of the watcher while streams change (SPEC 4: a resync on start; no event is lost for good). The watcher
// runs with leader election, so its successor first waits for the killed one's Lease to expire, as in a cluster. On
// each test plugin.
import { describe, it } from 'node:test';
import { PLUGINS } from '../fixtures/plugins.ts';
import { FaultDrill } from './fleet.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';

describe('fault: the watcher is killed', () => {
  const operator = useOperator({ leaderElection: true });

  for (const plugin of PLUGINS) {
    it(
      `catches up with every change made around and while the watcher was down (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('watcher-killed', async (cluster, t) => {
        const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const drill = await FaultDrill.prepare(cluster, log, plugin);

        await drill.changeBefore();
        await operator.watcher.kill();
        await drill.changeDuring();
        await operator.watcher.start();

        await drill.assertRecovered(operator.temporal);
      }),
    );
  }
});
