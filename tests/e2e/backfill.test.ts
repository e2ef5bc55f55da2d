// Backfills end to end (SPEC 2.4, 2.5): a spec change during a backfill, and a BackfillRequest created by hand. The
// fake node completes backfill pods at once, so these streams use a backfill template whose pods carry a scheduling
// gate: they wait unscheduled (the backfill runs) until the test removes the gate (the backfill finishes). Every
// scenario runs on each test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configurationHash } from '../../resources/configuration-hash.ts';
import { waitFor } from '../../stack/wait.ts';
import { PLUGINS, shownCondition, type TestPlugin } from '../fixtures/plugins.ts';
import { conditionOf, jobEnv, type Cluster, type JobTemplateSpec } from './cluster.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';
import { historyOf, inOrder, waitForSettled, waitForState } from './workflow.ts';

/** A copy of the plugin's backfill template whose pods wait for the test. */
const HELD_BACKFILL = 'held-backfill-job';
const BACKFILLING = { type: 'Ready', status: 'True', reason: 'StreamBackfilling' };

function holdPods(job: JobTemplateSpec): void {
  job.spec.template.spec.schedulingGates = [{ name: 'arcane.test/hold' }];
}

async function createHeldBackfillTemplate(cluster: Cluster, plugin: TestPlugin): Promise<void> {
  await cluster.copyTemplate(plugin.backfillTemplate, HELD_BACKFILL, holdPods);
}

describe('backfills', () => {
  const operator = useOperator();

  /** Every backfill scenario, on one plugin: namespaces are prefixed with its name. */
  function backfillsOn(plugin: TestPlugin) {
    const scenario = scenarioOn(operator, plugin);

    it(
      'finishes a backfill before streaming starts with the spec changed during it',
      scenario('change-during-backfill', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        await createHeldBackfillTemplate(cluster, plugin);
        const stream = await cluster.createPluginStream(plugin, 'orders', { backfillTemplate: HELD_BACKFILL });
        const backfilling = await cluster.waitForPhase(stream, 'Backfilling');
        assert.deepEqual(conditionOf(backfilling), shownCondition(plugin, { ...BACKFILLING, generation: 1 }));
        const [request] = await cluster.backfillRequests('orders');
        const backfillJob = await cluster.job('orders');
        assert.equal(backfillJob?.metadata?.labels?.['arcane/backfilling'], 'true');
        assert.equal(jobEnv(backfillJob, 'STREAMCONTEXT__BACKFILL_ID'), request?.metadata.name);

        const changed = await cluster.patchSpec(stream, plugin.change('returns'));
        await waitForSettled(operator, stream, { signal: 'streamObserved', reason: /generation 1 -> 2/ });
        assert.equal((await cluster.readStream(stream)).status?.phase, 'Backfilling', 'the backfill goes on');
        assert.equal((await cluster.job('orders'))?.metadata?.uid, backfillJob?.metadata?.uid, 'with the same Job');

        await cluster.releasePods('orders');
        const hash = configurationHash(changed.spec);
        const running = await cluster.waitForStream(
          stream,
          'Running with the new spec',
          (s) => s.status?.phase === 'Running' && s.status.configurationHash === hash,
        );
        assert.deepEqual(
          conditionOf(running),
          shownCondition(plugin, { type: 'Ready', status: 'True', reason: 'StreamRunning', generation: 2 }),
        );
        const job = await cluster.job('orders');
        assert.equal(job?.metadata?.annotations?.['configuration-hash'], hash);
        assert.deepEqual(JSON.parse(jobEnv(job, 'STREAMCONTEXT__SPEC') ?? '{}'), changed.spec);
        assert.equal((await cluster.readBackfillRequest(request?.metadata.name ?? '')).spec.completed, true);
        await cluster.waitForEvent(stream, 'BackfillCompleted');
        const state = await waitForState(
          operator.temporal,
          stream,
          'streaming',
          (s) => s.job?.uid === job?.metadata?.uid,
        );
        assert.equal(state.configurationHash, hash);
        const { activities } = await historyOf(operator.temporal, stream);
        const expected = ['applyBackfillJob', 'completeBackfillRequest', 'deleteJob', 'applyStreamingJob'];
        assert.ok(inOrder(activities, expected), `activities ${activities.join(', ')}`);
        assert.deepEqual(
          (await jobs.of('orders')).map((logged) => [logged.uid, logged.backfilling]),
          [
            [backfillJob?.metadata?.uid, true],
            [job?.metadata?.uid, false],
          ],
          'one backfill Job, then one streaming Job built from the new spec',
        );
      }),
    );

    it(
      'runs a BackfillRequest created by hand while streaming, then streams again',
      scenario('manual-backfill', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        await createHeldBackfillTemplate(cluster, plugin);
        // Created suspended and resumed: streaming without the initial backfill.
        const stream = await cluster.createPluginStream(plugin, 'orders', {
          suspended: true,
          backfillTemplate: HELD_BACKFILL,
        });
        await cluster.waitForPhase(stream, 'Suspended');
        await cluster.patchSpec(stream, plugin.layout.suspend(false));
        await cluster.waitForPhase(stream, 'Running');
        const streaming = await cluster.job('orders');

        await cluster.createBackfillRequest('orders-reprocess', stream);
        const backfilling = await cluster.waitForPhase(stream, 'Backfilling');
        assert.deepEqual(conditionOf(backfilling), shownCondition(plugin, { ...BACKFILLING, generation: 2 }));
        const backfillJob = await waitFor('the backfill Job', async () => {
          const job = await cluster.job('orders');
          return job?.metadata?.labels?.['arcane/backfilling'] === 'true' ? job : undefined;
        });
        assert.equal(jobEnv(backfillJob, 'STREAMCONTEXT__BACKFILL'), 'true');
        assert.equal(jobEnv(backfillJob, 'STREAMCONTEXT__BACKFILL_ID'), 'orders-reprocess');
        assert.equal(
          jobEnv(backfillJob, 'STREAMCONTEXT__OVERRIDE'),
          `{"streamClass":"${plugin.kind.streamClass}","streamId":"orders"}`,
        );
        const [stopped, started] = (await jobs.of('orders')).slice(-2);
        assert.equal(stopped?.uid, streaming?.metadata?.uid);
        assert.ok(stopped!.deletedAt! < started!.createdAt, 'the streaming Job is gone before the backfill starts');
        await cluster.waitForEvent(stream, 'BackfillRequested', /orders-reprocess/);
        await waitForState(operator.temporal, stream, 'the request open', (s) =>
          s.openBackfillRequests.includes('orders-reprocess'),
        );

        await cluster.releasePods('orders');
        await waitFor(
          'the request completed',
          async () => (await cluster.readBackfillRequest('orders-reprocess')).spec.completed === true,
        );
        await cluster.waitForPhase(stream, 'Running');
        const after = await cluster.job('orders');
        assert.equal(after?.metadata?.labels?.['arcane/backfilling'], 'false');
        assert.notEqual(after?.metadata?.uid, streaming?.metadata?.uid);
        await cluster.waitForEvent(stream, 'BackfillCompleted', /orders-reprocess/);
        const state = await waitForState(
          operator.temporal,
          stream,
          'no open request',
          (s) => s.job?.backfilling === false,
        );
        assert.deepEqual(state.openBackfillRequests, []);
        const { activities } = await historyOf(operator.temporal, stream);
        const expected = ['deleteJob', 'applyBackfillJob', 'completeBackfillRequest', 'deleteJob', 'applyStreamingJob'];
        assert.ok(inOrder(activities, expected), `activities ${activities.join(', ')}`);
      }),
    );
  }

  for (const plugin of PLUGINS) {
    describe(`on the ${plugin.name} plugin`, () => backfillsOn(plugin));
  }
});
