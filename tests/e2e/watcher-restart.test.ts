// A watcher restart (SPEC 4: a resync on start) costs nothing for streams that did not change while it was away: their
// workflows get no signal and no history event, and the watcher makes no API call for any one stream, on either plugin
// shape. Streams that did change (a Job deleted, a spec changed) are resynced and recover.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { samples, metricSum } from '../../bench/measure.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { configurationHash } from '../../resources/configuration-hash.ts';
import { waitFor } from '../../stack/wait.ts';
import { PLUGINS, type TestPlugin } from '../fixtures/plugins.ts';
import type { Stream } from './cluster.ts';
import { createStreams, streamNames, waitForConvergence, waitForStreamingPods } from './fleet.ts';
import { scenarioOn, useOperator, type Operator } from './operator.ts';
import { historyOf, waitForSettled } from './workflow.ts';

function describeWorkflow(temporal: Client, stream: Stream) {
  return temporal.workflow.getHandle(streamWorkflowId(stream)).describe();
}

/** Where each workflow's history stands: its run and length. */
async function historyMarks(temporal: Client, streams: readonly Stream[]): Promise<string[]> {
  return Promise.all(
    streams.map(async (stream) => {
      const { runId, historyLength } = await describeWorkflow(temporal, stream);
      return `${stream.name}: run ${runId}, ${historyLength} events`;
    }),
  );
}

/**
 * The watcher's Kubernetes API calls about single objects of the plugin's streams, their workloads, requests and
 * templates, by `verb resource`: anything but the informers' lists and watches.
 */
async function perStreamCalls(operator: Operator, plugin: TestPlugin): Promise<Record<string, number>> {
  const resources = [
    `${plugin.kind.plural}.${plugin.kind.group}`,
    'jobs.batch',
    'cronjobs.batch',
    'backfillrequests.streaming.sneaksanddata.com',
    'streamingjobtemplates.streaming.sneaksanddata.com',
  ];
  const calls: Record<string, number> = {};
  for (const { labels, value } of samples(await operator.watcher.metrics(), 'arcane_kubernetes_api_calls_total')) {
    const resource = (labels.resource ?? '').replace(/\/status$/, '');
    if (labels.verb === 'list' || labels.verb === 'watch' || !resources.includes(resource)) continue;
    const key = `${labels.verb} ${labels.resource}`;
    calls[key] = (calls[key] ?? 0) + value;
  }
  return calls;
}

describe('watcher restart', () => {
  const operator = useOperator();

  for (const plugin of PLUGINS) {
    it(
      `signals only the streams that changed while the watcher was away (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('restart', async (cluster) => {
        const quiet = await createStreams(cluster, streamNames(3, `${plugin.name}-quiet`), plugin);
        const [jobDeleted, specChanged] = await createStreams(cluster, ['job-deleted', 'spec-changed'], plugin);
        const suspended = await cluster.createPluginStream(plugin, 'suspended', { suspended: true });
        assert.ok(jobDeleted && specChanged);
        await waitForConvergence(cluster, [...quiet, jobDeleted, specChanged]);
        await waitForStreamingPods(cluster, [...quiet, jobDeleted, specChanged]);
        await waitForConvergence(cluster, [suspended], { phase: 'Suspended' });
        const unchanged = [...quiet, suspended];
        for (const stream of unchanged) await waitForSettled(operator, stream);
        const before = await historyMarks(operator.temporal, unchanged);
        const deletedJob = (await cluster.job(jobDeleted.name))?.metadata?.uid;
        const changedSince = await Promise.all(
          [jobDeleted, specChanged].map(
            async (stream) => (await describeWorkflow(operator.temporal, stream)).historyLength,
          ),
        );

        await operator.watcher.stop();
        await cluster.deleteJob(jobDeleted.name);
        await cluster.patchSpec(specChanged, plugin.change('while-the-watcher-was-away'));
        await operator.watcher.start();

        // The first resync after the start is done once it has counted the streams at rest.
        await waitFor(
          `the watcher's resync found the ${unchanged.length} unchanged streams at rest`,
          async () =>
            metricSum(await operator.watcher.metrics(), 'arcane_watcher_resync_unchanged_streams_total') >=
            unchanged.length,
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        for (const stream of unchanged) await waitForSettled(operator, stream);
        assert.deepEqual(await historyMarks(operator.temporal, unchanged), before, 'no history event for them');
        assert.deepEqual(await perStreamCalls(operator, plugin), {}, 'the watcher read every stream from its caches');

        // The two that changed are resynced, and run again on their current spec with a Job of their own.
        await waitForConvergence(cluster, [jobDeleted, specChanged]);
        for (const [i, stream] of [jobDeleted, specChanged].entries()) {
          const { signals } = await historyOf(operator.temporal, stream);
          const resynced = signals.some((signal) => signal.name === 'resync' && signal.position > changedSince[i]!);
          assert.ok(resynced, `${stream.name}: a resync after the restart; signals: ${JSON.stringify(signals)}`);
        }
        const recreated = (await cluster.job(jobDeleted.name))?.metadata?.uid;
        assert.notEqual(recreated, deletedJob, 'the deleted Job was created again');
        const changed = await cluster.readStream(specChanged);
        assert.equal(changed.status?.configurationHash, configurationHash(changed.spec), 'on the new hash');
      }),
    );
  }
});
