// What goes wrong and how a stream gets out of it (SPEC 2.6, 6): a failing Job restarted with backoff until the limit,
// and a broken spec reported as InvalidSpec; in both a spec fix brings the stream back to Running.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configurationHash } from '../../resources/configuration-hash.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import type { Transition } from '../../workflows/lifecycle.ts';
import { exampleStream } from '../integration/watcher-harness.ts';
import { MOCK_STREAMS, MOCK_STREAMS_V2, type StreamObject } from './cluster.ts';
import { JobLog } from './job-log.ts';
import { useOperator } from './operator.ts';
import { historyOf, waitForSettled, waitForState } from './workflow.ts';

const template = (name: string) => ({ apiGroup: 'streaming.sneaksanddata.com', kind: 'StreamingJobTemplate', name });
const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';

function message(stream: StreamObject): string {
  return stream.status?.conditions?.[0]?.message ?? '';
}

/** How long each stay in Failed lasted before the stream ran again. */
function restartDelays(transitions: Transition[]): number[] {
  return transitions.flatMap((transition, i) => {
    const next = transitions[i + 1];
    return transition.to === 'Failed' && next?.to === 'Running' ? [next.at - transition.at] : [];
  });
}

describe('failures', () => {
  const operator = useOperator();

  it(
    'restarts a failing Job after growing delays, stays Failed after the limit, and runs again once the spec is fixed',
    operator.scenario('job-failure', async (cluster, t) => {
      const jobs = await JobLog.start(t, operator.kubeConfig, cluster.namespace);
      const stream = await cluster.createStream(MOCK_STREAMS, 'orders', {
        spec: { jobTemplateRef: template('mock-failing-job') },
      });

      const failed = await cluster.waitForStream(stream, 'Failed with a restart due', (s) =>
        /restart 1 of 2 at/.test(message(s)),
      );
      assert.equal(failed.status?.phase, 'Failed');
      assert.deepEqual(
        { type: failed.status?.conditions?.[0]?.type, reason: failed.status?.conditions?.[0]?.reason },
        { type: 'Error', reason: 'StreamFailed' },
      );
      const firstFailure = await cluster.waitForEvent(stream, 'StreamingJobFailed', /restart 1 of 2/);
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
      await cluster.waitForEvent(stream, 'StreamRestarting', /restart 1 of 2/);
      await cluster.waitForEvent(stream, 'StreamRestarting', /restart 2 of 2/);
      const delays = restartDelays(exhausted.transitions);
      assert.equal(delays.length, 2, `ran again twice in between: ${JSON.stringify(exhausted.transitions)}`);
      assert.ok(delays[0]! >= 1_000 && delays[1]! >= 2_000, `backoff delays ${delays.join(', ')} ms`);
      await waitForSettled(operator.temporal, stream);
      assert.equal((await cluster.readStream(stream)).status?.phase, 'Failed', 'stays Failed');
      const streaming = (await jobs.of('orders')).filter((job) => !job.backfilling);
      assert.equal(streaming.length, 3, 'the first Job and two restarts');
      const { timers } = await historyOf(operator.temporal, stream);
      for (const restart of [/restart 1 of 2 at/, /restart 2 of 2 at/]) {
        assert.ok(
          timers.some((summary) => restart.test(summary)),
          `a durable timer ${restart} in ${timers.join('; ')}`,
        );
      }

      const fixed = await cluster.patchSpec(stream, { jobTemplateRef: template('mock-streaming-job') });
      const hash = configurationHash(fixed.spec);
      await cluster.waitForStream(
        stream,
        'Running after the fix',
        (s) => s.status?.phase === 'Running' && s.status.configurationHash === hash,
      );
      const job = await cluster.job('orders');
      assert.equal(job?.spec?.template.metadata?.labels?.[FAIL_LABEL], undefined, 'built from the fixed template');
      const state = await waitForState(
        operator.temporal,
        stream,
        'on the new Job',
        (s) => s.job?.uid === job?.metadata?.uid,
      );
      assert.equal(state.restartCount, 0);
    }),
  );

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
      assert.equal(running.status?.conditions?.[0]?.reason, 'StreamRunning');
      const [request, ...more] = await cluster.backfillRequests('invoices');
      assert.equal(more.length, 0);
      assert.equal(request?.spec.completed, true, 'the initial backfill ran once the spec was valid');
      const job = await cluster.job('invoices');
      const envFrom = job?.spec?.template.spec?.containers[0]?.envFrom ?? [];
      assert.equal(envFrom.at(-1)?.secretRef?.name, 'mock-connection', 'the secretRef of the StreamClass');
    }),
  );
});
