// What goes wrong and how a stream gets out of it (SPEC 2.6, 6): a failing Job restarted with backoff until the limit,
// and a broken spec reported as InvalidSpec; in both a spec fix brings the stream back to Running. The failing Job
// runs on each test plugin; the broken spec speaks layout v2.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configurationHash } from '../../resources/configuration-hash.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import { waitFor } from '../../stack/wait.ts';
import type { Transition } from '../../workflows/lifecycle.ts';
import { exampleStream } from '../integration/watcher-harness.ts';
import { PLUGINS, shownCondition, type TestPlugin } from '../fixtures/plugins.ts';
import { conditionOf, MOCK_STREAMS_V2, type Cluster, type JobTemplateSpec } from './cluster.ts';
import { JobLog } from './job-log.ts';
import { scenarioOn, useOperator } from './operator.ts';
import {
  callsAfter,
  historyOf,
  inOrder,
  signalIn,
  waitForSettled,
  waitForState,
  type DurableTimer,
} from './workflow.ts';

const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
const FAILING_TEMPLATE = 'failing-job';

/**
 * A copy of the plugin's streaming template whose pods kwok fails; the Job gives up on its first failed pod, so a
 * failure reaches the operator at once instead of after the Job controller's own pod retries.
 */
async function createFailingTemplate(cluster: Cluster, plugin: TestPlugin): Promise<void> {
  await cluster.copyTemplate(plugin.streamingTemplate, FAILING_TEMPLATE, (job: JobTemplateSpec) => {
    job.spec.backoffLimit = 0;
    job.spec.template.metadata = { ...job.spec.template.metadata };
    job.spec.template.metadata.labels = { ...job.spec.template.metadata.labels, [FAIL_LABEL]: 'true' };
  });
}

/** The due time a Failed condition (or the timer named after it) gives restart `n`: `restart <n> of 2 at <time>`. */
function restartDue(text: string, n: number): number | undefined {
  const due = new RegExp(`restart ${n} of 2 at (\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z)`).exec(text)?.[1];
  return due === undefined ? undefined : Date.parse(due);
}

/**
 * The backoff each restart was given after its failure, from the Failed conditions the workflow wrote; each restart
 * ran no earlier, and any durable timer it slept on was set for no longer.
 */
function restartBackoffs(transitions: Transition[], conditions: string[], timers: DurableTimer[]): number[] {
  const failures = transitions.filter((transition) => transition.to === 'Failed');
  return [1, 2].map((n) => {
    const due = conditions.map((message) => restartDue(message, n)).find((time) => time !== undefined);
    assert.ok(due !== undefined, `a Failed condition names restart ${n}: ${conditions.join('; ')}`);
    const failedAt = failures[n - 1]!.at;
    const restarted = transitions.find((transition) => transition.to === 'Running' && transition.at > failedAt);
    assert.ok(restarted && restarted.at >= due, `restart ${n} ran at ${restarted?.at}, not before ${due}`);
    for (const timer of timers.filter((candidate) => restartDue(candidate.summary, n) !== undefined)) {
      assert.equal(restartDue(timer.summary, n), due, `the timer of restart ${n} is due when the condition says`);
      assert.ok(timer.timeoutMs > 0 && timer.timeoutMs <= due - failedAt, `timer ${n} set for ${timer.timeoutMs} ms`);
    }
    return due - failedAt;
  });
}

describe('failures', () => {
  const operator = useOperator();

  /** The failing Job on one plugin. */
  function jobFailureOn(plugin: TestPlugin) {
    it(
      `restarts a failing Job after growing delays, stays Failed after the limit, and runs again once the spec is fixed (${plugin.name} plugin)`,
      scenarioOn(operator, plugin)('job-failure', async (cluster, t) => {
        const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
        await createFailingTemplate(cluster, plugin);
        const stream = await cluster.createPluginStream(plugin, 'orders', { streamingTemplate: FAILING_TEMPLATE });

        // Events and the history stay; the Failed status of one failure lasts only until its restart.
        const firstFailure = await cluster.waitForEvent(stream, 'StreamingJobFailed', /restart 1 of 2 at/);
        assert.equal(firstFailure.type, 'Warning');
        const exhausted = await waitForState(
          operator.temporal,
          stream,
          'Failed after the restart limit',
          (s) => s.phase === 'Failed' && s.restartCount === 2 && s.nextRestartAt === undefined,
        );
        assert.match(exhausted.message, /all 2 automatic restarts/);
        const lastFailure = await cluster.waitForEvent(
          stream,
          'StreamingJobFailed',
          /all 2 automatic restarts .*; suspend and resume, change the spec or use the restart update/,
        );
        assert.equal(lastFailure.type, 'Warning');
        await cluster.waitForEvent(stream, 'StreamingJobFailed', /restart 2 of 2 at/);
        await cluster.waitForEvent(stream, 'StreamRestarting', /restart 1 of 2/);
        await cluster.waitForEvent(stream, 'StreamRestarting', /restart 2 of 2/);
        await waitForSettled(operator, stream);
        const history = await historyOf(operator.temporal, stream);

        // Failed at once on each failure, with the restart in the condition, and Running again after each restart.
        const failures = exhausted.transitions.filter((transition) => transition.to === 'Failed');
        assert.equal(failures.length, 3, `three failures: ${JSON.stringify(exhausted.transitions)}`);
        assert.deepEqual(
          failures.map((failure) => [failure.from, failure.reason]),
          Array.from({ length: 3 }, () => ['Running', 'StreamFailed']),
        );
        assert.equal(exhausted.transitions.at(-1), failures[2], 'nothing after the last failure');
        const statuses = history.calls.flatMap((call) => (call.action?.type === 'writeStatus' ? [call.action] : []));
        const phases = statuses.map((status) => status.phase);
        assert.ok(
          inOrder(phases, ['Running', 'Failed', 'Running', 'Failed', 'Running', 'Failed']),
          phases.join(' -> '),
        );
        for (const expected of [/restart 1 of 2 at/, /restart 2 of 2 at/, /all 2 automatic restarts/]) {
          const written = statuses.find((status) => expected.test(status.message));
          assert.deepEqual(
            written && [written.phase, written.conditionType, written.reason],
            ['Failed', 'Error', 'StreamFailed'],
            `a Failed status ${expected} was written`,
          );
        }

        // The backoff doubles from the 2 s the operator is configured with, each restart waits for it, on a timer
        // when the workflow has nothing else to do meanwhile.
        const backoffs = restartBackoffs(
          exhausted.transitions,
          statuses.map((status) => status.message),
          history.timers,
        );
        assert.deepEqual(backoffs, [2_000, 4_000]);
        assert.ok(
          history.timers.some((timer) => /restart \d of 2 at/.test(timer.summary)),
          `a restart sleeps on a durable timer: ${history.timers.map((timer) => timer.summary).join('; ')}`,
        );

        // After the limit nothing is left to restart it: no timer pending, the failed Job kept, the status Failed.
        const pending = history.timers.filter((timer) => timer.ended === undefined);
        assert.deepEqual(pending, [], 'no durable timer is pending');
        const streaming = (await jobs.of('orders')).filter((job) => !job.backfilling);
        assert.equal(streaming.length, 3, 'the first Job and two restarts');
        if (plugin.finishedJobsVanish) {
          await waitFor(
            'the last failed Job deleted by its TTL',
            async () => (await cluster.job('orders')) === undefined,
          );
        } else {
          assert.equal((await cluster.job('orders'))?.metadata?.uid, streaming[2]?.uid, 'the last failed Job is kept');
        }
        const stays = await cluster.readStream(stream);
        assert.deepEqual(
          conditionOf(stays),
          shownCondition(plugin, { type: 'Error', status: 'True', reason: 'StreamFailed', generation: 1 }),
        );
        assert.equal(stays.status?.phase, 'Failed');
        assert.match(stays.status?.conditions?.[0]?.message ?? '', /all 2 automatic restarts/);

        const fixed = await cluster.patchSpec(stream, plugin.layout.templates({ streaming: plugin.streamingTemplate }));
        const hash = configurationHash(fixed.spec);
        const running = await cluster.waitForStream(
          stream,
          'Running after the fix',
          (s) => s.status?.phase === 'Running' && s.status.configurationHash === hash,
        );
        assert.deepEqual(
          conditionOf(running),
          shownCondition(plugin, { type: 'Ready', status: 'True', reason: 'StreamRunning', generation: 2 }),
        );
        const job = await cluster.job('orders');
        assert.equal(job?.spec?.template.metadata?.labels?.[FAIL_LABEL], undefined, 'built from the fixed template');
        const state = await waitForState(
          operator.temporal,
          stream,
          'on the new Job',
          (s) => s.job?.uid === job?.metadata?.uid,
        );
        assert.deepEqual([state.phase, state.restartCount, state.configurationHash], ['Running', 0, hash]);
        await cluster.waitForEvent(stream, 'StreamRestarting', /configuration changed/);
        const afterFix = await historyOf(operator.temporal, stream);
        const change = signalIn(afterFix, 'streamObserved', /generation 1 -> 2/);
        const replaced = callsAfter(afterFix, change.position).find((call) => call.type === 'applyStreamingJob');
        const replacedUid = replaced?.action?.type === 'applyStreamingJob' ? replaced.action.replaces : undefined;
        // A failed Job its TTL deleted leaves nothing to replace: the fix just starts the new one.
        const failedJob = plugin.finishedJobsVanish ? undefined : streaming[2]?.uid;
        assert.equal(replacedUid, failedJob, 'the fix replaced the failed Job, if it was still there');
        assert.ok(replaced?.completed);
      }),
    );
  }

  for (const plugin of PLUGINS) jobFailureOn(plugin);

  it(
    'records a broken spec as Failed with InvalidSpec naming the field, and runs once it is fixed',
    operator.scenario('invalid-spec', async (cluster) => {
      const { execution } = exampleStream('mock-v2-job').spec as { execution: JsonObject };
      const stream = await cluster.createStream(MOCK_STREAMS_V2, 'invoices', {
        spec: { execution: { ...execution, layoutVersion: 'v3' } },
      });

      const failed = await cluster.waitForPhase(stream, 'Failed');
      const [condition] = failed.status?.conditions ?? [];
      assert.equal(condition?.type, 'Error');
      assert.equal(condition?.reason, 'InvalidSpec');
      assert.match(condition?.message ?? '', /spec\.execution\.layoutVersion/);
      const event = await cluster.waitForEvent(stream, 'InvalidSpec', /spec\.execution\.layoutVersion/);
      assert.equal(event.type, 'Warning');
      const state = await waitForState(operator.temporal, stream, 'Failed', (s) => s.phase === 'Failed');
      assert.equal(state.lastError?.reason, 'InvalidSpec');
      assert.equal(await cluster.job('invoices'), undefined);
      assert.deepEqual(await cluster.backfillRequests(), []);
      const { activities } = await historyOf(operator.temporal, stream);
      assert.ok(
        !activities.some((activity) => /^(apply|create)/.test(activity)),
        `nothing built: ${activities.join(', ')}`,
      );

      const fixed = await cluster.patchSpec(stream, { execution: { layoutVersion: 'v2' } });
      const running = await cluster.waitForStream(
        stream,
        'Running once fixed',
        (s) => s.status?.phase === 'Running' && s.status.configurationHash === configurationHash(fixed.spec),
      );
      assert.deepEqual(conditionOf(running), { type: 'Ready', status: 'True', reason: 'StreamRunning', generation: 2 });
      const [request, ...more] = await cluster.backfillRequests('invoices');
      assert.equal(more.length, 0);
      assert.equal(request?.spec.completed, true, 'the initial backfill ran once the spec was valid');
      const job = await cluster.job('invoices');
      const recovered = await waitForState(
        operator.temporal,
        stream,
        'streaming once fixed',
        (s) => s.job?.uid === job?.metadata?.uid,
      );
      assert.deepEqual(
        [recovered.phase, recovered.reason, recovered.configurationHash, recovered.openBackfillRequests],
        ['Running', 'StreamRunning', running.status?.configurationHash, []],
      );
      const envFrom = job?.spec?.template.spec?.containers[0]?.envFrom ?? [];
      assert.equal(envFrom.at(-1)?.secretRef?.name, 'mock-connection', 'the secretRef of the StreamClass');
    }),
  );
});
