// What streams cost once they run (SPEC 1, 2.1, 9): a steady stream makes no Kubernetes API call and no history event,
// on either plugin shape, and a burst of streams on the production shape runs each initial backfill exactly once even
// though finished Jobs vanish a second after they end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLUGINS, PRODUCTION } from '../fixtures/plugins.ts';
import type { Cluster, Stream } from './cluster.ts';
import {
  assertNothingDuplicated,
  createStreams,
  streamNames,
  waitForConvergence,
  waitForStreamingPods,
} from './fleet.ts';
import { JobLog } from './job-log.ts';
import { RECHECK_MS, scenarioOn, useOperator } from './operator.ts';
import { costOver, waitForSettled } from './workflow.ts';

/** How often each stream's Events with `reason` occurred (a recurring Event is one object with its count bumped). */
async function occurrences(cluster: Cluster, stream: Stream, reason: string): Promise<number> {
  const events = (await cluster.events(stream)).filter((event) => event.reason === reason);
  return events.reduce((sum, event) => sum + (event.count ?? 1), 0);
}

describe('steady streams', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `a running stream costs no API call and no history event while nothing changes (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('steady', async (cluster) => {
        const streams = await createStreams(cluster, streamNames(3, `${plugin.name}-steady`), plugin);
        await waitForConvergence(cluster, streams);
        // Running with the backfill done and the workflow caught up; the start ends with the streaming pods coming
        // up, and each change of a Job's status wakes its workflow once more. A stream that never goes quiet fails the
        // measurement below, with its numbers, rather than this wait.
        await waitForStreamingPods(cluster, streams);
        await waitForSettled(operator, streams[0]!).catch(() => undefined);
        // Three recheck intervals: any hold, poll or rewrite loop of the lifecycle comes round within it.
        const windowMs = 3 * RECHECK_MS;
        const cost = await costOver(operator, streams, windowMs);
        assert.deepEqual(
          cost,
          { apiCalls: 0, historyEvents: 0 },
          `${streams.length} steady ${plugin.kind.kind} streams over ${windowMs} ms`,
        );
      }),
    );
  }

  it(
    'starts the backfill of each of 30 streams created at once exactly once, and completes every request (production plugin)',
    operator.scenario('production-burst', async (cluster, t) => {
      const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
      const streams = await createStreams(cluster, streamNames(30, 'burst'), PRODUCTION);
      await waitForConvergence(cluster, streams, { timeoutMs: 240_000 });
      // StreamStarted comes after the backfill finished: a backfill run again would have shown before it.
      for (const stream of streams) await cluster.waitForEvent(stream, 'StreamStarted');

      const counted = await Promise.all(
        streams.map(async (stream) => {
          const started = await occurrences(cluster, stream, 'BackfillStarted');
          const backfillJobs = (await jobs.of(stream.name)).filter((job) => job.backfilling).length;
          return { stream: stream.name, started, backfillJobs };
        }),
      );
      const twice = counted.filter((count) => count.started !== 1 || count.backfillJobs !== 1);
      assert.deepEqual(twice, [], 'streams whose backfill did not start exactly once (BackfillStarted Events, Jobs)');
      await assertNothingDuplicated(cluster, jobs, { streams, streamingJobs: () => 1 });
    }),
  );
});
