// 50 streams changed at once while the worker restarts (a rolling update under load): every stream converges on its
// new spec with one Job and one BackfillRequest, and no Job was created more often than the change required.
import { describe, it } from 'node:test';
import { assertNothingDuplicated, changeStreams, createStreams, streamNames, waitForConvergence } from './fleet.ts';
import { JobLog } from './job-log.ts';
import { useOperator } from './operator.ts';

describe('fault: a burst of changes during a worker restart', () => {
  const operator = useOperator();

  it(
    'converges 50 streams changed at once while the worker restarts, with one Job and one BackfillRequest each',
    operator.scenario('burst', async (cluster, t) => {
      const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
      const started = Date.now();
      const streams = await createStreams(cluster, streamNames(50));
      await waitForConvergence(cluster, streams, { timeoutMs: 300_000 });
      t.diagnostic(`50 new streams backfilled and running after ${Date.now() - started} ms`);

      const changed = Date.now();
      await Promise.all([changeStreams(cluster, streams, 'mock://source/burst'), operator.worker.restart()]);
      t.diagnostic(`changed and worker restarted after ${Date.now() - changed} ms`);
      await waitForConvergence(cluster, streams, { timeoutMs: 300_000 });
      t.diagnostic(`50 changed streams running again after ${Date.now() - changed} ms`);
      await assertNothingDuplicated(cluster, log, { streams, streamingJobs: () => 2 });
    }),
  );
});
