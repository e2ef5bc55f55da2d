// The stream lifecycle end to end (SPEC 2.1-2.4, 2.7, 2.8): streams created, suspended, resumed, changed and deleted
// with kubectl-like writes, driven by the real watcher and worker processes; every scenario runs on each test plugin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { getStreamState, resumeStream, suspendStream } from '../../client/streams.ts';
import { configurationHash } from '../../resources/configuration-hash.ts';
import { waitFor } from '../../stack/wait.ts';
import { PLUGINS, shownCondition, type TestPlugin } from '../fixtures/plugins.ts';
import { conditionOf, jobEnv, type StreamObject } from './cluster.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';
import { historyOf, inOrder, waitForCompletion, waitForSettled, waitForState } from './workflow.ts';

/** The labels the operator puts on the Jobs (and their pods) of the plugin's stream `orders`. */
function streamLabels(plugin: TestPlugin) {
  return { 'arcane/stream-id': 'orders', 'arcane/stream-kind': plugin.kind.kind };
}

const RUNNING = { type: 'Ready', status: 'True', reason: 'StreamRunning' };
const SUSPENDED = { type: 'Warning', status: 'True', reason: 'StreamSuspended' };

function labels(job: V1Job | undefined) {
  return job?.metadata?.labels;
}

describe('stream lifecycle', () => {
  const operator = useOperator();

  /** Every scenario of the lifecycle, on one plugin: namespaces are prefixed with its name. */
  function lifecycleOn(plugin: TestPlugin) {
    const STREAM_LABELS = streamLabels(plugin);
    const scenario = scenarioOn(operator, plugin);

    it(
      'backfills a new stream first, then runs its streaming Job',
      scenario('backfill-first', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const stream = await cluster.createPluginStream(plugin, 'orders');

        const running = await cluster.waitForPhase(stream, 'Running');
        const requests = await cluster.backfillRequests('orders');
        assert.equal(requests.length, 1, 'one BackfillRequest');
        const [request] = requests;
        assert.match(request!.metadata.name ?? '', /^orders-initial-backfill-/);
        assert.deepEqual(request!.spec, { streamClass: plugin.kind.streamClass, streamId: 'orders', completed: true });

        const [backfill, streaming, ...more] = await jobs.of('orders');
        assert.equal(more.length, 0, 'a backfill Job and a streaming Job, nothing else');
        assert.equal(backfill?.backfilling, true);
        assert.equal(jobEnv(backfill?.job, 'STREAMCONTEXT__BACKFILL'), 'true');
        assert.equal(jobEnv(backfill?.job, 'STREAMCONTEXT__BACKFILL_ID'), request!.metadata.name);
        assert.equal(
          jobEnv(backfill?.job, 'STREAMCONTEXT__OVERRIDE'),
          `{"streamClass":"${plugin.kind.streamClass}","streamId":"orders"}`,
        );
        for (const labelled of [backfill?.job.metadata, backfill?.job.spec?.template.metadata]) {
          assert.deepEqual(labelled?.labels, { ...labelled?.labels, ...STREAM_LABELS, 'arcane/backfilling': 'true' });
        }
        assert.ok(backfill.deletedAt! < streaming!.createdAt, 'the backfill Job is gone before streaming starts');

        const job = await cluster.job('orders');
        assert.equal(job?.metadata?.uid, streaming?.uid);
        assert.deepEqual(labels(job), { ...labels(job), ...STREAM_LABELS, 'arcane/backfilling': 'false' });
        assert.equal(jobEnv(job, 'STREAMCONTEXT__BACKFILL'), 'false');
        assert.equal(jobEnv(job, 'STREAMCONTEXT__BACKFILL_ID'), undefined);
        assert.deepEqual(conditionOf(running), shownCondition(plugin, { ...RUNNING, generation: 1 }));
        assert.equal(running.status?.configurationHash, configurationHash(running.spec));
        assert.equal(job?.metadata?.annotations?.['configuration-hash'], running.status?.configurationHash);

        // Events are recorded after the status they explain.
        for (const reason of ['StreamCreated', 'BackfillStarted', 'BackfillCompleted', 'StreamStarted']) {
          await cluster.waitForEvent(stream, reason);
        }
        const state = await waitForState(operator.temporal, stream, 'Running', (s) => s.job?.uid === streaming?.uid);
        assert.equal(state.phase, 'Running');
        assert.equal(state.configurationHash, running.status?.configurationHash);
        assert.deepEqual(state.openBackfillRequests, []);
        const phases = state.transitions.map((transition) => transition.to);
        assert.ok(inOrder(phases, ['Pending', 'Backfilling', 'Pending', 'Running']), `phases ${phases.join(' -> ')}`);
        const history = await historyOf(operator.temporal, stream);
        const expected = ['createBackfillRequest', 'applyBackfillJob', 'completeBackfillRequest', 'applyStreamingJob'];
        assert.ok(inOrder(history.activities, expected), `activities ${history.activities.join(', ')}`);
        assert.ok(
          history.signals.some((signal) => signal.name === 'streamObserved'),
          'started by the watcher',
        );
      }),
    );

    it(
      'skips the initial backfill of a stream created suspended, and streams once resumed',
      scenario('created-suspended', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const stream = await cluster.createPluginStream(plugin, 'orders', { suspended: true });

        const suspended = await cluster.waitForPhase(stream, 'Suspended');
        assert.deepEqual(conditionOf(suspended), shownCondition(plugin, { ...SUSPENDED, generation: 1 }));
        await cluster.waitForEvent(stream, 'StreamSuspended', /skips the initial backfill/);
        assert.equal(await cluster.job('orders'), undefined);

        await cluster.patchSpec(stream, plugin.layout.suspend(false));
        const running = await cluster.waitForPhase(stream, 'Running');
        assert.deepEqual(conditionOf(running), shownCondition(plugin, { ...RUNNING, generation: 2 }));
        await cluster.waitForEvent(stream, 'StreamResumed');
        await waitForSettled(operator, stream);
        const state = await waitForState(operator.temporal, stream, 'Running', (s) => s.phase === 'Running');
        const phases = state.transitions.map((transition) => transition.to);
        // Resumed straight to Running: one status write for the settled state, no interim Pending.
        assert.deepEqual(
          phases.slice(phases.indexOf('Suspended')),
          ['Suspended', 'Running'],
          `phases ${phases.join(' -> ')}`,
        );
        assert.ok(!phases.includes('Backfilling'), 'never backfilled');
        assert.deepEqual(await cluster.backfillRequests(), [], 'no BackfillRequest');
        assert.deepEqual(
          (await jobs.of('orders')).map((job) => job.backfilling),
          [false],
          'only a streaming Job',
        );
        const { activities } = await historyOf(operator.temporal, stream);
        assert.ok(!activities.includes('createBackfillRequest') && !activities.includes('applyBackfillJob'));
      }),
    );

    it(
      'takes over a stream and Job written by the upstream operator without restarting the Job',
      scenario('take-over', async (cluster) => {
        // Upstream ran the stream: its objects exist before our watcher first sees them.
        await operator.watcher.kill();
        const stream = await cluster.createPluginStream(plugin, 'orders');
        const stored = await cluster.readStream(stream);
        const hash = configurationHash(stored.spec);
        await cluster.writeStatus(stream, {
          phase: 'Running',
          configurationHash: hash,
          conditions: [{ type: 'Ready', status: 'True', reason: 'StreamRunning', message: 'running', ...now() }],
        });
        const upstream = await cluster.createJob(upstreamStreamingJob(plugin, stored, hash));
        await operator.watcher.start();

        await waitForState(
          operator.temporal,
          stream,
          'Running with the upstream Job',
          (s) => s.phase === 'Running' && s.job?.uid === upstream.metadata?.uid,
        );
        await waitForSettled(operator, stream, { signal: 'resync' });
        const job = await cluster.job('orders');
        assert.equal(job?.metadata?.uid, upstream.metadata?.uid, 'the same Job');
        assert.deepEqual(labels(job), { ...labels(job), ...STREAM_LABELS, 'arcane/backfilling': 'false' });
        assert.equal(job?.metadata?.annotations?.['configuration-hash'], hash);
        const taken = await cluster.readStream(stream);
        assert.equal(taken.status?.phase, 'Running');
        assert.equal(taken.status?.configurationHash, hash);
        assert.deepEqual(conditionOf(taken), shownCondition(plugin, { ...RUNNING, generation: 1 }));
        const state = await getStreamState(operator.temporal, stream);
        assert.deepEqual(
          [state.phase, state.reason, state.message, state.configurationHash],
          ['Running', 'StreamRunning', taken.status?.conditions?.[0]?.message, hash],
          'the condition is the one the workflow keeps',
        );
        assert.deepEqual(await cluster.backfillRequests(), [], 'not backfilled again');
        const { activities } = await historyOf(operator.temporal, stream);
        for (const change of ['applyStreamingJob', 'applyBackfillJob', 'deleteJob', 'createBackfillRequest']) {
          assert.ok(!activities.includes(change), `no ${change} in ${activities.join(', ')}`);
        }
        // Settled: every Event the workflow records is recorded; none says the Job was (re)started.
        const reasons = (await cluster.events(stream)).map((event) => event.reason);
        for (const restart of ['StreamCreated', 'StreamStarted', 'StreamingContinued', 'StreamRestarting']) {
          assert.ok(!reasons.includes(restart), `no ${restart} Event in ${reasons.join(', ')}`);
        }
      }),
    );

    it(
      'stops the Job of a suspended stream and starts it again on resume',
      scenario('suspend-resume', async (cluster) => {
        const stream = await cluster.createPluginStream(plugin, 'orders');
        await cluster.waitForPhase(stream, 'Running');
        const before = await cluster.job('orders');

        const accepted = await suspendStream(operator.temporal, stream);
        assert.match(accepted.message, /suspend/);
        assert.ok(plugin.layout.isSuspended((await cluster.readStream(stream)).spec), 'the update sets the spec field');
        const suspended = await cluster.waitForPhase(stream, 'Suspended');
        assert.deepEqual(conditionOf(suspended), shownCondition(plugin, { ...SUSPENDED, generation: 2 }));
        await waitFor('the Job deleted', async () => (await cluster.job('orders')) === undefined);
        await cluster.waitForEvent(stream, 'StreamSuspended', /suspended/);

        await resumeStream(operator.temporal, stream);
        const running = await cluster.waitForPhase(stream, 'Running');
        assert.deepEqual(conditionOf(running), shownCondition(plugin, { ...RUNNING, generation: 3 }));
        const after = await cluster.job('orders');
        assert.notEqual(after?.metadata?.uid, before?.metadata?.uid, 'a new Job');
        assert.equal(after?.metadata?.annotations?.['configuration-hash'], running.status?.configurationHash);
        await cluster.waitForEvent(stream, 'StreamResumed');
        const state = await waitForState(
          operator.temporal,
          stream,
          'on the new Job',
          (s) => s.job?.uid === after?.metadata?.uid,
        );
        const phases = state.transitions.map((transition) => transition.to);
        assert.deepEqual(
          phases.slice(phases.lastIndexOf('Running') - 2),
          ['Running', 'Suspended', 'Running'],
          `phases ${phases.join(' -> ')}`,
        );
        assert.equal((await cluster.backfillRequests()).length, 1, 'only the initial backfill');
        const { activities } = await historyOf(operator.temporal, stream);
        const expected = ['applyStreamingJob', 'setSuspended', 'deleteJob', 'setSuspended', 'applyStreamingJob'];
        assert.ok(inOrder(activities, expected), `activities ${activities.join(', ')}`);
      }),
    );

    it(
      'replaces the streaming Job when the spec changes',
      scenario('spec-change', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        const stream = await cluster.createPluginStream(plugin, 'orders');
        const before = await cluster.waitForPhase(stream, 'Running');

        const changed = await cluster.patchSpec(stream, plugin.change('returns'));
        const hash = configurationHash(changed.spec);
        assert.notEqual(hash, before.status?.configurationHash);
        const after = await cluster.waitForStream(
          stream,
          'Running with the new hash',
          (s) => s.status?.phase === 'Running' && s.status.configurationHash === hash,
        );
        assert.deepEqual(conditionOf(after), shownCondition(plugin, { ...RUNNING, generation: 2 }));
        const job = await waitFor('the new Job', async () => {
          const current = await cluster.job('orders');
          return current?.metadata?.annotations?.['configuration-hash'] === hash ? current : undefined;
        });
        assert.deepEqual(JSON.parse(jobEnv(job, 'STREAMCONTEXT__SPEC') ?? '{}'), changed.spec);

        const streaming = (await jobs.of('orders')).filter((logged) => !logged.backfilling);
        assert.equal(streaming.length, 2, 'the streaming Job replaced once');
        assert.equal(streaming[1]?.uid, job.metadata?.uid);
        assert.ok(streaming[0]!.deletedAt! < streaming[1]!.createdAt, 'never two streaming Jobs side by side');
        await cluster.waitForEvent(stream, 'StreamingContinued', /configuration changed/);
        assert.equal((await cluster.backfillRequests()).length, 1, 'a spec change does not backfill');
        const state = await waitForState(
          operator.temporal,
          stream,
          'on the new hash',
          (s) => s.job?.uid === job.metadata?.uid,
        );
        assert.equal(state.configurationHash, hash);
        const { activities } = await historyOf(operator.temporal, stream);
        assert.ok(
          inOrder(activities, ['applyStreamingJob', 'applyStreamingJob']),
          `activities ${activities.join(', ')}`,
        );
      }),
    );

    it(
      'recreates a Job deleted by hand, and deletes the Job and completes when the stream is deleted',
      scenario('deletions', async (cluster) => {
        const stream = await cluster.createPluginStream(plugin, 'orders');
        await cluster.waitForPhase(stream, 'Running');
        const before = await cluster.job('orders');

        await cluster.deleteJob('orders');
        const recreated = await waitFor('the Job recreated', async () => {
          const job = await cluster.job('orders');
          return job && job.metadata?.uid !== before?.metadata?.uid ? job : undefined;
        });
        assert.equal(recreated.metadata?.labels?.['arcane/backfilling'], 'false');
        await cluster.waitForEvent(stream, 'StreamingContinued', /deleted outside the operator/);
        await waitForState(operator.temporal, stream, 'on the new Job', (s) => s.job?.uid === recreated.metadata?.uid);
        assert.equal((await cluster.readStream(stream)).status?.phase, 'Running');

        // Orphaning keeps the garbage collector off the Job: only the workflow can remove it.
        await cluster.deleteStream(stream, { cascade: 'orphan' });
        const final = await waitForCompletion(operator.temporal, stream);
        assert.equal(final.ended, 'deleted');
        // Orphaned, the Job can only have been removed by the workflow. (Its history need not show the call: a round
        // whose workflow task a new signal interrupts is run again, and only the second run is recorded.)
        await waitFor('the Job gone', async () => (await cluster.job('orders')) === undefined);
      }),
    );

    it(
      'stops both processes cleanly on SIGTERM, and applies a change made while they were down once they are back',
      scenario('rolling-update', async (cluster) => {
        const stream = await cluster.createPluginStream(plugin, 'orders');
        const before = await cluster.waitForPhase(stream, 'Running');

        // OperatorProcess.stop fails unless the process exits 0.
        await Promise.all([operator.watcher.stop(), operator.worker.stop()]);
        const changed = await cluster.patchSpec(stream, plugin.change('while-down'));
        await Promise.all([operator.worker.start(), operator.watcher.start()]);

        const hash = configurationHash(changed.spec);
        assert.notEqual(hash, before.status?.configurationHash);
        await cluster.waitForStream(
          stream,
          'Running on the spec changed while the operator was down',
          (s) => s.status?.phase === 'Running' && s.status.configurationHash === hash,
        );
        const job = await cluster.job('orders');
        assert.equal(job?.metadata?.annotations?.['configuration-hash'], hash);
      }),
    );
  }

  for (const plugin of PLUGINS) {
    describe(`on the ${plugin.name} plugin`, () => lifecycleOn(plugin));
  }
});

function now() {
  return { lastTransitionTime: new Date().toISOString() };
}

/** The streaming Job as the upstream operator writes it: our labels and hash, none of our own annotations. */
function upstreamStreamingJob(plugin: TestPlugin, stream: StreamObject, hash: string): V1Job {
  const labels = { ...streamLabels(plugin), 'arcane/backfilling': 'false' };
  const env = {
    STREAMCONTEXT__STREAM_ID: 'orders',
    STREAMCONTEXT__STREAM_KIND: plugin.kind.kind,
    STREAMCONTEXT__SPEC: JSON.stringify(stream.spec),
    STREAMCONTEXT__BACKFILL: 'false',
  };
  return {
    metadata: { name: 'orders', labels, annotations: { 'configuration-hash': hash } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'stream',
              image: 'busybox:1.37',
              env: Object.entries(env).map(([name, value]) => ({ name, value })),
            },
          ],
        },
      },
    },
  };
}
