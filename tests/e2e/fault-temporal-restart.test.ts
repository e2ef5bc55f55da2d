// The Temporal server stopped and started again on the same database and port (SPEC 6: retry with backoff, a
// resync on reconnect). Workflows carry on where they were: same runs, no stream started over. On each test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { PLUGINS } from '../fixtures/plugins.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import type { Stream } from './cluster.ts';
import { FaultDrill } from './fleet.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';

function runIds(temporal: Client, streams: readonly Stream[]): Promise<string[]> {
  return Promise.all(
    streams.map(async (stream) => (await temporal.workflow.getHandle(streamWorkflowId(stream)).describe()).runId),
  );
}

describe('fault: Temporal restarts', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `converges after the Temporal server restarts, its workflows continuing in the same runs (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('temporal-restart', async (cluster, t) => {
        const log = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const drill = await FaultDrill.prepare(cluster, log, plugin);
        const runs = () => runIds(operator.temporal, drill.lasting);
        const before = await runs();

        await drill.changeBefore();
        await operator.restartTemporal(() => drill.changeDuring());

        await drill.assertRecovered(operator.temporal);
        assert.deepEqual(await runs(), before, 'the same workflow runs');
      }),
    );
  }
});
