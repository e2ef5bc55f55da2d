// 50 streams changed at once while the worker is down (a crashed worker under load): the watcher's signals wait in
// Temporal, and once a worker runs again every stream converges on its new spec with one Job and one BackfillRequest,
// no Job created more often than the change required, and each workflow's state agreeing with Kubernetes. On each
// test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../../stack/wait.ts';
import {
  assertNothingDuplicated,
  changeStreams,
  createStreams,
  streamNames,
  waitForConvergence,
  waitForWorkflowsAgree,
} from './fleet.ts';
import { JobLog } from './job-log.ts';
import { PLUGINS } from '../fixtures/plugins.ts';
import { scenarioOn, useOperator } from './operator.ts';
import { callsAfter, historyOf, waitForSettled } from './workflow.ts';

const CHANGED = /generation 1 -> 2/;

describe('fault: a burst of changes while the worker is down', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `converges 50 streams changed at once while the worker was killed, with one Job and one BackfillRequest each (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('burst', async (cluster, t) => {
        const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const started = Date.now();
        const streams = await createStreams(cluster, streamNames(50), plugin);
        await waitForConvergence(cluster, streams, { timeoutMs: 300_000 });
        t.diagnostic(`50 new streams backfilled and running after ${Date.now() - started} ms`);

        // Killed while idle: what follows depends only on the signals that come while it is down.
        await Promise.all(streams.map((stream) => waitForSettled(operator, stream)));
        await operator.worker.kill();
        const outage = Date.now();
        await changeStreams(cluster, streams, 'mock://source/burst', plugin);
        let waiting: string[] = [];
        const histories = await waitFor(
          'every change signalled to its workflow while no worker runs',
          async () => {
            const read = await Promise.all(streams.map((stream) => historyOf(operator.temporal, stream)));
            waiting = streams.flatMap((stream, i) =>
              read[i]!.signals.some((signal) => signal.name === 'streamObserved' && CHANGED.test(signal.reason))
                ? []
                : [stream.name],
            );
            return waiting.length === 0 && read;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        ).catch((error: Error) => {
          throw new Error(`${error.message}; not signalled: ${waiting.join(', ')}`, { cause: error });
        });
        for (const [i, history] of histories.entries()) {
          const signal = history.signals.find((s) => s.name === 'streamObserved' && CHANGED.test(s.reason))!;
          const acted = callsAfter(history, signal.position).map((call) => call.type);
          assert.deepEqual(acted, [], `${streams[i]!.name}: nothing acted on the change without a worker`);
        }
        t.diagnostic(`50 changes signalled while the worker was down, after ${Date.now() - outage} ms`);

        await operator.worker.start();
        await waitForConvergence(cluster, streams, { timeoutMs: 300_000 });
        t.diagnostic(`50 changed streams running again after ${Date.now() - outage} ms`);
        await waitForWorkflowsAgree(operator.temporal, cluster, streams);
        await assertNothingDuplicated(cluster, log, { streams, streamingJobs: () => 2 });
      }),
    );
  }
});
