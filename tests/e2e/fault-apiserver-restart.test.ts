// kube-apiserver restarted (SPEC 6: retry with backoff; informers re-list and resync). Nothing can be written while
// it is down, so the drill's changes race the restart and follow right after it, when the watches must be back. On
// each test plugin: the production-shaped one prunes condition details and has finished Jobs deleted by a TTL.
import { describe, it } from 'node:test';
import { PLUGINS } from '../fixtures/plugins.ts';
import { FaultDrill } from './fleet.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';

describe('fault: kube-apiserver restarts', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `converges after kube-apiserver restarts, noticing the changes made after it (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('apiserver-restart', async (cluster, t) => {
        const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const drill = await FaultDrill.prepare(cluster, log, plugin);

        await drill.changeBefore();
        await operator.stack.kubernetes.restartApiserver();
        await drill.changeDuring();

        // The stack's controller-manager recovers too, on its own schedule: its Job controller syncs no Job until its
        // pod cache has caught up with its own writes, and its garbage collector deletes the pods of a replaced Job
        // only once its caches are back. On a loaded machine that has taken more than two minutes after the restart.
        await drill.assertRecovered(operator.temporal, { timeoutMs: 240_000 });
      }),
    );
  }
});
