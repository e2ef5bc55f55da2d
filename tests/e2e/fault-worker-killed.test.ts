// kill -9 of the worker in the middle of a lifecycle round (SPEC 4: every action is idempotent under retry). Rounds
// run as local activities inside a workflow task, so the worker is frozen (SIGSTOP) at a moment Temporal shows it
// holding a stream's workflow task while that stream's BackfillRequest already exists, then killed: the task times out
// and another worker runs the round again, creating what exists already. On each test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { waitFor } from '../../stack/wait.ts';
import type { Cluster, Stream } from './cluster.ts';
import {
  assertNothingDuplicated,
  createStreams,
  streamNames,
  waitForConvergence,
  waitForWorkflowsAgree,
} from './fleet.ts';
import { JobLog } from './job-log.ts';
import { PLUGINS } from '../fixtures/plugins.ts';
import { scenarioOn, useOperator, type Operator } from './operator.ts';

/** Whether a worker has picked up the stream's workflow task and not yet completed it. */
async function taskInHand(client: Client, stream: Stream): Promise<boolean> {
  const { raw } = await client.workflow.getHandle(streamWorkflowId(stream)).describe();
  const started = proto.temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED;
  return raw.pendingWorkflowTask?.state === started;
}

/** Freezes the worker while it holds the workflow task of a stream whose BackfillRequest exists; returns that stream. */
function freezeWorkerMidRound(operator: Operator, cluster: Cluster, streams: readonly Stream[]): Promise<Stream> {
  return waitFor(
    'the worker frozen in a round that has created something',
    async () => {
      operator.worker.signal('SIGSTOP');
      const requested = new Set((await cluster.backfillRequests()).map((request) => request.spec.streamId));
      for (const stream of streams) {
        if (requested.has(stream.name) && (await taskInHand(operator.temporal, stream))) return stream;
      }
      operator.worker.signal('SIGCONT');
      return undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
}

/** Workflow tasks of the stream's workflow that a worker took and never completed (it was killed holding them). */
async function abandonedTasks(client: Client, stream: Stream): Promise<number> {
  const history = await client.workflow.getHandle(streamWorkflowId(stream)).fetchHistory();
  return (history.events ?? []).filter(
    (event) => event.workflowTaskTimedOutEventAttributes || event.workflowTaskFailedEventAttributes,
  ).length;
}

describe('fault: the worker is killed', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `creates no Job or BackfillRequest twice when the worker is killed while activities run (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('worker-killed', async (cluster, t) => {
        const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const streams = await createStreams(cluster, streamNames(10), plugin);

        const frozen = await freezeWorkerMidRound(operator, cluster, streams);
        t.diagnostic(`killed the worker while it held the workflow task of ${frozen.name}`);
        await operator.worker.kill();
        await operator.worker.start();

        await waitForConvergence(cluster, streams);
        await waitForWorkflowsAgree(operator.temporal, cluster, streams);
        await assertNothingDuplicated(cluster, log, { streams, streamingJobs: () => 1 });
        assert.ok(
          (await abandonedTasks(operator.temporal, frozen)) >= 1,
          'the killed round was run again by the new worker',
        );
      }),
    );
  }
});
