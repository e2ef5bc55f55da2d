// The Job contract (SPEC 3): what a plugin container sees, and how Jobs and CronJobs tie back to their stream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBackfillRequest, type BackfillRequest } from '../../../resources/backfill-request.ts';
import { configurationHash } from '../../../resources/configuration-hash.ts';
import type { JsonObject } from '../../../resources/go-json.ts';
import { buildBackfillJob, buildCronJob, buildStreamingJob, type JobInput } from '../../../resources/job-builder.ts';
import { specJson } from '../../../resources/stream-context.ts';
import type { StreamRef } from '../../../resources/stream-ref.ts';
import { NAMESPACE, template, templateJob, UID, unwrap } from './examples.ts';

const stream: StreamRef = {
  streamClass: 'mock-stream-v2',
  apiVersion: 'streaming.sneaksanddata.com/v1beta1',
  kind: 'MockStreamV2',
  namespace: NAMESPACE,
  name: 'orders',
  uid: UID,
};
const spec: JsonObject = {
  execution: {
    layoutVersion: 'v2',
    streamingBackend: { changeCapture: { jobTemplateRef: { name: 't' } }, batch: null },
  },
  connectionStringRef: { name: 'sql-connection' },
  description: '<orders> & more',
};
const hash = configurationHash(spec);
const ownerReferences = [
  {
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MockStreamV2',
    name: 'orders',
    uid: UID,
    controller: true,
  },
];
const annotations = {
  'owner.example.com/contact': 'data-team',
  'configuration-hash': hash,
  'arcane.sneaksanddata.com/stream-class': 'mock-stream-v2',
  'arcane.sneaksanddata.com/template-generation': '7',
};

function input(job: JsonObject = templateJob(), secretNames: string[] = ['sql-connection']): JobInput {
  return { stream, spec, template: template(job), secretNames };
}

function request(fields: JsonObject = {}): BackfillRequest {
  return unwrap(
    parseBackfillRequest({
      metadata: { name: 'orders-backfill-1', namespace: NAMESPACE },
      spec: { streamClass: 'mock-stream-v2', streamId: 'orders', ...fields },
    }),
  );
}

function labels(backfilling: boolean) {
  return {
    'arcane/stream-id': 'orders',
    'arcane/stream-kind': 'MockStreamV2',
    'arcane/backfilling': String(backfilling),
  };
}

function envOf(job: { spec?: { template?: { spec?: { containers?: { env?: unknown[] }[] } } } }, index = 0) {
  return job.spec?.template?.spec?.containers?.[index]?.env;
}

const streamContext = [
  { name: 'STREAMCONTEXT__STREAM_ID', value: 'orders' },
  { name: 'STREAMCONTEXT__STREAM_KIND', value: 'MockStreamV2' },
  { name: 'STREAMCONTEXT__SPEC', value: specJson(spec) },
];

describe('streaming Job', () => {
  test('is the template Job named after the stream, labelled, annotated and owned by it', () => {
    assert.deepEqual(unwrap(buildStreamingJob(input())), {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'orders',
        namespace: NAMESPACE,
        labels: { team: 'data', ...labels(false) },
        annotations,
        ownerReferences,
      },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { app: 'stream', ...labels(false) } },
          spec: {
            restartPolicy: 'Never',
            initContainers: [{ name: 'init', image: 'busybox', env: [{ name: 'INIT', value: '1' }] }],
            containers: [
              {
                name: 'stream',
                image: 'ghcr.io/example/stream:1.0.0',
                env: [
                  { name: 'LOG_LEVEL', value: 'info' },
                  ...streamContext,
                  { name: 'STREAMCONTEXT__BACKFILL', value: 'false' },
                ],
                envFrom: [{ configMapRef: { name: 'stream-settings' } }, { secretRef: { name: 'sql-connection' } }],
              },
              {
                name: 'sidecar',
                image: 'ghcr.io/example/sidecar:1.0.0',
                env: [...streamContext, { name: 'STREAMCONTEXT__BACKFILL', value: 'false' }],
                envFrom: [{ secretRef: { name: 'sql-connection' } }],
              },
            ],
          },
        },
      },
    });
  });

  test('passes the spec in Go JSON form, keys sorted and HTML escaped', () => {
    assert.equal(
      specJson(spec),
      '{"connectionStringRef":{"name":"sql-connection"},"description":"\\u003corders\\u003e \\u0026 more",' +
        '"execution":{"layoutVersion":"v2","streamingBackend":{"batch":null,"changeCapture":{"jobTemplateRef":{"name":"t"}}}}}',
    );
  });

  test('loads every secret of the class into every container after its own envFrom', () => {
    const job = unwrap(buildStreamingJob(input(templateJob(), ['sql-connection', 'audit'])));
    const containers = job.spec?.template.spec?.containers ?? [];
    assert.deepEqual(
      containers.map((container) => container.envFrom),
      [
        [
          { configMapRef: { name: 'stream-settings' } },
          { secretRef: { name: 'sql-connection' } },
          { secretRef: { name: 'audit' } },
        ],
        [{ secretRef: { name: 'sql-connection' } }, { secretRef: { name: 'audit' } }],
      ],
    );
  });

  test('leaves init containers alone', () => {
    const job = unwrap(buildStreamingJob(input()));
    assert.deepEqual(job.spec?.template.spec?.initContainers, [
      { name: 'init', image: 'busybox', env: [{ name: 'INIT', value: '1' }] },
    ]);
  });

  test('sets an existing STREAMCONTEXT__BACKFILL in place', () => {
    const job = templateJob([
      {
        name: 'stream',
        env: [
          { name: 'STREAMCONTEXT__BACKFILL', valueFrom: { configMapKeyRef: { name: 'x', key: 'y' } } },
          { name: 'LOG_LEVEL', value: 'info' },
        ],
      },
    ]);
    assert.deepEqual(envOf(unwrap(buildStreamingJob(input(job)))), [
      { name: 'STREAMCONTEXT__BACKFILL', value: 'false' },
      { name: 'LOG_LEVEL', value: 'info' },
      ...streamContext,
    ]);
  });

  test('does not change the template it was built from', () => {
    const job = templateJob();
    const parsed = template(job);
    const before = structuredClone(parsed);
    const built = unwrap(buildStreamingJob({ stream, spec, template: parsed, secretNames: ['s'] }));
    built.spec?.template.spec?.containers[0]?.env?.push({ name: 'LATER', value: 'x' });
    assert.deepEqual(parsed, before);
    assert.deepEqual(job, templateJob());
  });

  test('records the template generation, so a template change can roll out', () => {
    const job = unwrap(buildStreamingJob({ ...input(), template: { ...template(), generation: 12 } }));
    assert.equal(job.metadata?.annotations?.['arcane.sneaksanddata.com/template-generation'], '12');
  });
});

describe('a template container that claims the stream identity', () => {
  for (const name of ['STREAMCONTEXT__STREAM_ID', 'STREAMCONTEXT__STREAM_KIND']) {
    test(`setting ${name} is an InvalidTemplate error naming the env entry`, () => {
      const job = templateJob([
        { name: 'stream' },
        {
          name: 'sidecar',
          env: [
            { name: 'A', value: '1' },
            { name, value: 'x' },
          ],
        },
      ]);
      const built = buildStreamingJob(input(job));
      assert.deepEqual(built, {
        ok: false,
        error: {
          reason: 'InvalidTemplate',
          field: 'spec.spec.template.spec.containers[1].env[1]',
          message:
            `spec.spec.template.spec.containers[1].env[1] sets ${name}, which Arcane sets itself; ` +
            `remove it from StreamingJobTemplate ${NAMESPACE}/standard-job`,
        },
      });
    });
  }

  test('is an error for backfill Jobs and CronJobs too', () => {
    const broken = input(templateJob([{ name: 'stream', env: [{ name: 'STREAMCONTEXT__STREAM_ID', value: 'x' }] }]));
    assert.equal(buildBackfillJob(broken, request()).ok, false);
    assert.equal(buildCronJob({ ...broken, schedule: '* * * * *' }).ok, false);
  });
});

describe('backfill Job', () => {
  test('runs in backfill mode with the request name and the request as override', () => {
    const job = unwrap(buildBackfillJob(input(), request()));
    assert.deepEqual(job.metadata?.labels, { team: 'data', ...labels(true) });
    assert.deepEqual(job.metadata?.annotations, annotations);
    assert.deepEqual(job.metadata?.ownerReferences, ownerReferences);
    assert.equal(job.metadata?.name, 'orders');
    assert.deepEqual(job.spec?.template.metadata?.labels, { app: 'stream', ...labels(true) });
    assert.deepEqual(envOf(job, 1), [
      ...streamContext,
      { name: 'STREAMCONTEXT__BACKFILL', value: 'true' },
      { name: 'STREAMCONTEXT__BACKFILL_ID', value: 'orders-backfill-1' },
      { name: 'STREAMCONTEXT__OVERRIDE', value: '{"streamClass":"mock-stream-v2","streamId":"orders"}' },
    ]);
  });

  test('the override carries completed only when true and the payload only when present', () => {
    const override = (fields: JsonObject) =>
      envOf(unwrap(buildBackfillJob(input(), request(fields))), 1)?.find(
        (variable) => (variable as { name: string }).name === 'STREAMCONTEXT__OVERRIDE',
      );
    assert.deepEqual(override({ completed: true, payload: { from: '2024-01-01', note: '<a&b>' } }), {
      name: 'STREAMCONTEXT__OVERRIDE',
      value:
        '{"streamClass":"mock-stream-v2","streamId":"orders","completed":true,' +
        '"payload":{"from":"2024-01-01","note":"\\u003ca\\u0026b\\u003e"}}',
    });
    assert.deepEqual(override({ completed: false, payload: null }), {
      name: 'STREAMCONTEXT__OVERRIDE',
      value: '{"streamClass":"mock-stream-v2","streamId":"orders"}',
    });
  });

  test('updates existing BACKFILL and BACKFILL_ID entries in place', () => {
    const job = templateJob([
      {
        name: 'stream',
        env: [
          { name: 'STREAMCONTEXT__BACKFILL_ID', value: 'stale' },
          { name: 'STREAMCONTEXT__BACKFILL', value: 'false' },
        ],
      },
    ]);
    assert.deepEqual(envOf(unwrap(buildBackfillJob(input(job), request()))), [
      { name: 'STREAMCONTEXT__BACKFILL_ID', value: 'orders-backfill-1' },
      { name: 'STREAMCONTEXT__BACKFILL', value: 'true' },
      ...streamContext,
      { name: 'STREAMCONTEXT__OVERRIDE', value: '{"streamClass":"mock-stream-v2","streamId":"orders"}' },
    ]);
  });
});

describe('CronJob', () => {
  test('runs the template on schedule, one run at a time, each run a backfill named by its Job', () => {
    const cronJob = unwrap(buildCronJob({ ...input(templateJob(), []), schedule: '*/5 * * * *' }));
    const podLabels = { app: 'stream', ...labels(true) };
    const cronEnv = [
      ...streamContext,
      { name: 'STREAMCONTEXT__BACKFILL', value: 'true' },
      { name: 'STREAMCONTEXT__BACKFILL_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['job-name']" } } },
      { name: 'STREAMCONTEXT__OVERRIDE', value: '{"streamClass":"","streamId":""}' },
    ];
    assert.deepEqual(cronJob, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: {
        name: 'orders',
        namespace: NAMESPACE,
        labels: labels(true),
        annotations: {
          'configuration-hash': hash,
          'arcane.sneaksanddata.com/stream-class': 'mock-stream-v2',
          'arcane.sneaksanddata.com/template-generation': '7',
        },
        ownerReferences,
      },
      spec: {
        schedule: '*/5 * * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: {
          metadata: {
            labels: { team: 'data', ...labels(true) },
            annotations: { 'owner.example.com/contact': 'data-team' },
          },
          spec: {
            backoffLimit: 0,
            template: {
              metadata: { labels: podLabels },
              spec: {
                restartPolicy: 'Never',
                initContainers: [{ name: 'init', image: 'busybox', env: [{ name: 'INIT', value: '1' }] }],
                containers: [
                  {
                    name: 'stream',
                    image: 'ghcr.io/example/stream:1.0.0',
                    env: [{ name: 'LOG_LEVEL', value: 'info' }, ...cronEnv],
                    envFrom: [{ configMapRef: { name: 'stream-settings' } }],
                  },
                  { name: 'sidecar', image: 'ghcr.io/example/sidecar:1.0.0', env: cronEnv },
                ],
              },
            },
          },
        },
      },
    });
  });
});
