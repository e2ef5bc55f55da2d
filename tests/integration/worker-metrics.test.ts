// The worker's /metrics (SPEC 7) after real stream workflows ran on it: activity latency by type and outcome, and the
// Temporal SDK's own metrics, on the one port `arcane worker` serves them on.
import { defaultPayloadConverter } from '@temporalio/common';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../../client/connection.ts';
import type { Running } from '../../operations/run-process.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAMING_JOB_TEMPLATES } from '../../resources/api-group.ts';
import { freePort } from '../../operations/ports.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { parseWorkerConfig } from '../../worker/config.ts';
import { runWorker } from '../../worker/run.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig, stackEnv } from './stack-env.ts';
import { forwardWorkloadEvents, observeStream, waitForState } from './stream-harness.ts';
import { MOCK_STREAMS, Streams } from './watcher-harness.ts';

const kc = kubeConfig();
const LATENCY = 'arcane_activity_duration_seconds';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function samples(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]);
    return [{ name: match[1]!, labels: Object.fromEntries(labels) as Record<string, string>, value: Number(match[3]) }];
  });
}

/** How many times each `activityType/outcome` ended in the workflow's history: what the worker must have timed. */
async function endedActivities(handle: WorkflowHandle): Promise<Map<string, number>> {
  const { events } = await handle.fetchHistory();
  const scheduled = new Map((events ?? []).map((event) => [Number(event.eventId), event]));
  const ended = new Map<string, number>();
  const count = (key: string) => ended.set(key, (ended.get(key) ?? 0) + 1);
  for (const event of events ?? []) {
    // A lifecycle round is a local activity: its marker names the type and holds the result.
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = marker.details?.data?.payloads?.[0];
      const type = data && defaultPayloadConverter.fromPayload<{ activity_type: string }>(data).activity_type;
      count(`${type}/${marker.failure ? 'retryable_failure' : 'success'}`);
      continue;
    }
    const end = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes;
    if (!end) continue;
    const type = scheduled.get(Number(end.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name;
    const failure = event.activityTaskFailedEventAttributes?.failure;
    const outcome = !failure
      ? 'success'
      : failure.applicationFailureInfo?.nonRetryable
        ? 'non_retryable_failure'
        : 'retryable_failure';
    count(`${type}/${outcome}`);
  }
  return ended;
}

describe('worker metrics', () => {
  const env = stackEnv();
  const taskQueue = `metrics-${randomUUID()}`;
  let metricsPort: number;
  let worker: Running;
  let client: Client;

  /** Creates a MockStream in a namespace of its own and drives its workflow as the watcher would. */
  async function startStream(t: TestContext, prefix: string, refuseBackfill = false): Promise<WorkflowHandle> {
    const namespace = await testNamespace(t, kc, prefix);
    await installTestPlugin(kc, namespace);
    if (refuseBackfill) {
      // A Job whose pods always restart is invalid: the API server answers 422, a non-retryable InvalidTemplate.
      const body = { spec: { spec: { template: { spec: { restartPolicy: 'Always' } } } } };
      const template = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAMING_JOB_TEMPLATES.plural };
      await kc
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObject({ ...template, namespace, name: 'mock-backfill-job', body }, mergePatch);
    }
    await new Streams(kc, namespace).create(MOCK_STREAMS, 'orders');
    const stream: StreamKey = { streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' };
    // This worker is the real process's: the harness lends only the client and the task queue.
    const handle = await observeStream({ client, taskQueue }, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    return handle;
  }

  async function scrape(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(response.status, 200);
    return response.text();
  }

  before(async () => {
    metricsPort = await freePort();
    const temporal = { address: env.temporalAddress, namespace: env.temporalNamespace, taskQueue };
    worker = await runWorker(
      parseWorkerConfig({
        kubernetes: { kubeconfig: env.kubeconfigPath },
        temporal,
        health: { port: 0, host: '127.0.0.1' },
        metrics: { port: metricsPort, host: '127.0.0.1' },
        log: { level: 'warn' },
      }),
    );
    client = await connectClient(parseWorkerConfig({ temporal }).temporal);
  });

  after(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  it('times every activity under its type and outcome, with no stream in the labels', async (t) => {
    const running = await startStream(t, 'metrics-running');
    const refused = await startStream(t, 'metrics-refused', true);
    await waitForState(running, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false);
    const failed = await waitForState(refused, 'Failed', (s) => s.phase === 'Failed');
    assert.equal(failed.reason, 'InvalidTemplate');

    // Histories first: the worker times an activity before the server records its end, so the scrape has them all.
    const ended = new Map<string, number>();
    for (const handle of [running, refused]) {
      for (const [key, count] of await endedActivities(handle)) ended.set(key, (ended.get(key) ?? 0) + count);
    }
    // Rounds run as local activities: an observation, then the decision's actions and the next observation as one.
    // A refused action is part of a round's result (the round itself succeeded), so both streams end in successes.
    assert.ok(ended.get('observeStream/success'), 'the streams were observed');
    assert.ok(ended.get('act/success'), "the streams' actions ran");
    const timed = samples(await scrape()).filter((sample) => sample.name === `${LATENCY}_count`);
    for (const [key, count] of ended) {
      const [type, outcome] = key.split('/');
      const sample = timed.find((s) => s.labels.activity_type === type && s.labels.outcome === outcome);
      assert.ok(sample && sample.value >= count, `${key}: ${count} in the histories, ${sample?.value ?? 0} timed`);
    }
    for (const sample of timed) assert.deepEqual(Object.keys(sample.labels).sort(), ['activity_type', 'outcome']);
  });

  it('serves the Temporal SDK metrics of its task queue on the same port', async (t) => {
    const handle = await startStream(t, 'metrics-sdk');
    await waitForState(handle, 'Running', (s) => s.phase === 'Running');
    const scraped = samples(await scrape());
    const ours = (name: string) =>
      scraped.filter((sample) => sample.name === name && sample.labels.task_queue === taskQueue);
    const localExecutions = ours('temporal_local_activity_execution_latency_seconds_count');
    assert.ok(
      localExecutions.some((sample) => sample.labels.activity_type === 'observeStream' && sample.value > 0),
      `observeStream executions in the SDK metrics (${localExecutions.map((s) => s.labels.activity_type).join(', ')})`,
    );
    assert.ok(
      ours('temporal_workflow_task_execution_latency_seconds_count').some((sample) => sample.value > 0),
      'workflow task executions in the SDK metrics',
    );
    assert.ok(
      scraped.some((sample) => sample.name === `${LATENCY}_count`),
      'next to the worker its own metrics',
    );
  });

  it('declares every metric family once', async () => {
    const declared = (await scrape()).split('\n').filter((line) => line.startsWith('# TYPE '));
    const names = declared.map((line) => line.split(' ')[2]);
    assert.ok(names.some((name) => name?.startsWith('temporal_')));
    assert.deepEqual(
      names.filter((name, index) => names.indexOf(name) !== index),
      [],
      'families declared twice',
    );
  });
});
