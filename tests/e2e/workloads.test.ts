// The streaming workload end to end (SPEC 2.2, 2.9, 3): a CronJob for a batch backend and the swap between backends,
// and a changed StreamingJobTemplate rolled out to the streams using it unless they are pinned (on each test plugin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { waitFor } from '../../stack/wait.ts';
import { configurationHash } from '../../resources/configuration-hash.ts';
import { PLUGINS, shownCondition, type TestPlugin } from '../fixtures/plugins.ts';
import { conditionOf, MOCK_STREAMS_V2 } from './cluster.ts';
import { scenarioOn, useOperator } from './operator.ts';
import { callsAfter, historyOf, signalIn, waitForSettled, waitForState } from './workflow.ts';

const GENERATION = 'arcane.sneaksanddata.com/template-generation';
/** What the watcher tells the streams using the template when its image is set. */
const imageChanged = (template: string) => new RegExp(`${template} generation 1 -> 2`);
const RUNNING = { type: 'Ready', status: 'True', reason: 'StreamRunning', generation: 1 };
const WORKLOAD_ACTIONS = new Set([
  'applyCronJob',
  'deleteCronJob',
  'applyStreamingJob',
  'deleteJob',
  'applyBackfillJob',
]);

function image(job: V1Job | undefined): string | undefined {
  return job?.spec?.template.spec?.containers[0]?.image;
}

describe('streaming workloads', () => {
  const operator = useOperator();

  // Layout v2 backends (the test plugin's MockStreamV2): this scenario speaks that layout only.
  it(
    'schedules a batch stream as a CronJob, and swaps CronJob and Job when the backend changes',
    operator.scenario('cron', async (cluster) => {
      const stream = await cluster.createStream(MOCK_STREAMS_V2, 'ledger', { example: 'mock-v2-cron' });
      const scheduled = await cluster.waitForPhase(stream, 'Scheduled');
      assert.equal(scheduled.status?.conditions?.[0]?.type, 'Ready');
      assert.equal(scheduled.status?.conditions?.[0]?.reason, 'StreamScheduled');
      const cronJob = await cluster.cronJob('ledger');
      assert.equal(cronJob?.spec?.schedule, '*/5 * * * *');
      assert.equal(cronJob?.spec?.concurrencyPolicy, 'Forbid');
      assert.equal(cronJob?.metadata?.annotations?.['configuration-hash'], scheduled.status?.configurationHash);
      assert.equal(cronJob?.metadata?.labels?.['arcane/stream-id'], 'ledger');
      const env = cronJob?.spec?.jobTemplate.spec?.template.spec?.containers[0]?.env ?? [];
      const value = (name: string) => env.find((variable) => variable.name === name);
      assert.equal(value('STREAMCONTEXT__BACKFILL')?.value, 'true');
      assert.equal(value('STREAMCONTEXT__BACKFILL_ID')?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['job-name']");
      assert.equal(value('STREAMCONTEXT__OVERRIDE')?.value, '{"streamClass":"","streamId":""}');
      await cluster.waitForEvent(stream, 'StreamingScheduled');
      await waitForState(operator.temporal, stream, 'Scheduled', (s) => s.cronJob?.uid === cronJob?.metadata?.uid);
      assert.deepEqual(await cluster.backfillRequests(), [], 'no initial backfill for a batch stream');
      assert.equal(await cluster.job('ledger'), undefined);

      // `batch: null` in a merge patch removes the key: the batch backend is gone.
      const changeCapture = { jobTemplateRef: { name: 'mock-streaming-job' } };
      await cluster.patchSpec(stream, {
        execution: {
          streamingBackend: {
            batch: null,
            changeCapture: { ...changeCapture, backfillJobTemplateRef: { name: 'mock-backfill-job' } },
          },
        },
      });
      const running = await cluster.waitForPhase(stream, 'Running');
      await waitFor('the CronJob removed', async () => (await cluster.cronJob('ledger')) === undefined);
      const job = await cluster.job('ledger');
      assert.equal(job?.metadata?.labels?.['arcane/backfilling'], 'false');
      assert.equal(job?.metadata?.annotations?.['configuration-hash'], running.status?.configurationHash);
      await cluster.waitForEvent(stream, 'StreamingContinued', /from batch to a Job/);
      await waitForState(operator.temporal, stream, 'on a Job', (s) => s.job?.uid === job?.metadata?.uid && !s.cronJob);
      assert.deepEqual(await cluster.backfillRequests(), [], 'swapping the backend does not backfill');

      const batch = { schedule: '*/10 * * * *', jobTemplateRef: { name: 'mock-backfill-job' } };
      await cluster.patchSpec(stream, { execution: { streamingBackend: { changeCapture: null, batch } } });
      await cluster.waitForPhase(stream, 'Scheduled');
      await waitFor('the Job removed', async () => (await cluster.job('ledger')) === undefined);
      const again = await cluster.cronJob('ledger');
      assert.equal(again?.spec?.schedule, '*/10 * * * *');
      assert.notEqual(again?.metadata?.uid, cronJob?.metadata?.uid);
      await cluster.waitForEvent(stream, 'StreamScheduled', /from a Job to batch/);
      const state = await waitForState(
        operator.temporal,
        stream,
        'on the new CronJob',
        (s) => s.cronJob?.uid === again?.metadata?.uid && !s.job,
      );
      const swapped = await cluster.readStream(stream);
      const hash = configurationHash(swapped.spec);
      assert.deepEqual(conditionOf(swapped), {
        type: 'Ready',
        status: 'True',
        reason: 'StreamScheduled',
        generation: 3,
      });
      assert.deepEqual(
        [
          swapped.status?.phase,
          swapped.status?.configurationHash,
          again?.metadata?.annotations?.['configuration-hash'],
        ],
        ['Scheduled', hash, hash],
      );
      assert.deepEqual([state.phase, state.configurationHash, state.openBackfillRequests], ['Scheduled', hash, []]);
      assert.deepEqual(await cluster.backfillRequests(), [], 'swapping the backend does not backfill');

      // Each swap removes the old workload before it creates the new one, and creates nothing else.
      await waitForSettled(operator, stream);
      const { calls, activities } = await historyOf(operator.temporal, stream);
      const workloads = calls.flatMap(({ action }) => (action && WORKLOAD_ACTIONS.has(action.type) ? [action] : []));
      assert.deepEqual(
        workloads.map((action) => [action.type, 'uid' in action ? action.uid : undefined]),
        [
          ['applyCronJob', undefined],
          ['deleteCronJob', cronJob?.metadata?.uid],
          ['applyStreamingJob', undefined],
          ['deleteJob', job?.metadata?.uid],
          ['applyCronJob', undefined],
        ],
      );
      assert.ok(!activities.some((activity) => /Backfill/.test(activity)), `activities ${activities.join(', ')}`);
    }),
  );

  /** The template rollout on one plugin: its streaming template changes under two of its streams. */
  function rolloutOn(plugin: TestPlugin) {
    it(
      `gives the streams using a changed template new Jobs, except a pinned stream (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('rollout', async (cluster) => {
        const rolling = await cluster.createPluginStream(plugin, 'orders');
        const pinned = await cluster.createPluginStream(plugin, 'pinned', {
          annotations: { 'arcane.sneaksanddata.com/pin-template': 'true' },
        });
        await Promise.all([cluster.waitForPhase(rolling, 'Running'), cluster.waitForPhase(pinned, 'Running')]);
        const [rollingBefore, pinnedBefore] = await Promise.all([cluster.job('orders'), cluster.job('pinned')]);
        assert.equal(rollingBefore?.metadata?.annotations?.[GENERATION], '1');
        assert.equal(pinnedBefore?.metadata?.annotations?.[GENERATION], '1');

        assert.equal(await cluster.setTemplateImage(plugin.streamingTemplate, 'busybox:1.38'), 2);
        const rolled = await waitFor('the new Job of the stream using the template', async () => {
          const job = await cluster.job('orders');
          return job?.metadata?.uid !== rollingBefore?.metadata?.uid && image(job) === 'busybox:1.38' ? job : undefined;
        });
        assert.equal(rolled.metadata?.annotations?.[GENERATION], '2');
        await cluster.waitForEvent(rolling, 'TemplateRollout', /generation 2/);
        const rolledStream = await cluster.waitForPhase(rolling, 'Running');
        assert.deepEqual(conditionOf(rolledStream), shownCondition(plugin, RUNNING));
        assert.equal(rolledStream.status?.configurationHash, configurationHash(rolledStream.spec));
        await waitForState(operator.temporal, rolling, 'on the new Job', (s) => s.job?.uid === rolled.metadata?.uid);
        // Level-triggered: the round that rolls out may see the new generation before the template's own notice
        // arrives, so the whole history is searched for replacements of the Job built from the old one.
        const rollingHistory = await historyOf(operator.temporal, rolling);
        assert.deepEqual(
          rollingHistory.calls.flatMap(({ action }) =>
            action?.type === 'applyStreamingJob' && action.replaces === rollingBefore?.metadata?.uid ? [action] : [],
          ).length,
          1,
          'the template change replaced the Job once',
        );

        await waitForSettled(operator, pinned, {
          signal: 'templateObserved',
          reason: imageChanged(plugin.streamingTemplate),
        });
        const pinnedAfter = await cluster.job('pinned');
        assert.equal(pinnedAfter?.metadata?.uid, pinnedBefore?.metadata?.uid, 'the pinned stream keeps its Job');
        assert.equal(image(pinnedAfter), 'busybox:1.37');
        const state = await waitForState(operator.temporal, pinned, 'Running', (s) => s.phase === 'Running');
        assert.equal(state.job?.uid, pinnedBefore?.metadata?.uid);
        assert.ok(!(await cluster.events(pinned)).some((event) => event.reason === 'TemplateRollout'));
        const pinnedStream = await cluster.readStream(pinned);
        const hash = configurationHash(pinnedStream.spec);
        assert.deepEqual(conditionOf(pinnedStream), shownCondition(plugin, RUNNING));
        assert.deepEqual(
          [
            pinnedStream.status?.configurationHash,
            state.configurationHash,
            pinnedAfter?.metadata?.annotations?.['configuration-hash'],
          ],
          [hash, hash, hash],
        );
        const pinnedHistory = await historyOf(operator.temporal, pinned);
        const noticed = signalIn(pinnedHistory, 'templateObserved', imageChanged(plugin.streamingTemplate));
        const since = callsAfter(pinnedHistory, noticed.position).map((call) => call.type);
        assert.ok(
          !since.some((activity) => /^(apply|delete)/.test(activity)),
          `nothing applied or deleted after the template change: ${since.join(', ')}`,
        );
        assert.equal(pinnedHistory.activities.filter((a) => a === 'applyStreamingJob').length, 1, 'one Job ever');
      }),
    );
  }

  for (const plugin of PLUGINS) rolloutOn(plugin);
});
