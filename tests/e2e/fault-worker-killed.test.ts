// kill -9 of the worker while its activities run (SPEC 4: every activity is idempotent under retry). The worker is
// frozen (SIGSTOP) at a moment Temporal shows it running an activity that creates something (a BackfillRequest or a
// Job), then killed: its activities run again on the new worker once their start-to-close timeout expires.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../../stack/wait.ts';
import type { Stream } from './cluster.ts';
import {
  assertNothingDuplicated,
  createStreams,
  streamNames,
  waitForConvergence,
  waitForWorkflowsAgree,
} from './fleet.ts';
import { JobLog } from './job-log.ts';
import { useOperator, type Operator } from './operator.ts';
import { historyOf, runningActivities } from './workflow.ts';

const creates = /: (create|apply)/;

/** Freezes the worker at a moment it runs an activity that creates something; returns all it runs then. */
function freezeWorkerMidActivity(operator: Operator, streams: readonly Stream[]): Promise<string[]> {
  return waitFor(
    'the worker frozen while it creates something',
    async () => {
      operator.worker.signal('SIGSTOP');
      const running = await Promise.all(
        streams.map(async (stream) =>
          (await runningActivities(operator.temporal, stream)).map((activity) => `${stream.name}: ${activity}`),
        ),
      );
      if (running.flat().some((activity) => creates.test(activity))) return running.flat();
      operator.worker.signal('SIGCONT');
      return undefined;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
}

describe('fault: the worker is killed', () => {
  const operator = useOperator();

  it(
    'creates no Job or BackfillRequest twice when the worker is killed while activities run',
    operator.scenario('worker-killed', async (cluster, t) => {
      const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
      const streams = await createStreams(cluster, streamNames(10));

      const inFlight = await freezeWorkerMidActivity(operator, streams);
      t.diagnostic(`killed the worker while it ran ${inFlight.join(', ')}`);
      await operator.worker.kill();
      await operator.worker.start();

      await waitForConvergence(cluster, streams);
      await waitForWorkflowsAgree(operator.temporal, cluster, streams);
      await assertNothingDuplicated(cluster, log, { streams, streamingJobs: () => 1 });
      const retried = (await Promise.all(streams.map((s) => historyOf(operator.temporal, s)))).reduce(
        (sum, history) => sum + history.retried,
        0,
      );
      assert.ok(retried >= 1, 'the killed activities ran again');
    }),
  );
});
