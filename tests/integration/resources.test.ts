// The resource model against a real API server: CRDs, the test plugin, schema rejections, and built Jobs.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  ApiextensionsV1Api,
  BatchV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { Registry } from 'prom-client';
import { createKubernetesApi } from '../../activities/kubernetes.ts';
import { kubernetesApiCalls } from '../../kubernetes/api-calls.ts';
import { listBackfillRequests } from '../../activities/stream-resources.ts';
import {
  ARCANE_GROUP,
  ARCANE_VERSION,
  BACKFILL_REQUESTS,
  STREAM_CLASSES,
  STREAMING_JOB_TEMPLATES,
} from '../../resources/api-group.ts';
import { parseBackfillRequest } from '../../resources/backfill-request.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import { buildBackfillJob, buildCronJob, buildStreamingJob, type JobInput } from '../../resources/job-builder.ts';
import type { Result } from '../../resources/result.ts';
import { parseStreamClass, type StreamClass } from '../../resources/stream-class.ts';
import { parseStreamDefinition } from '../../resources/stream-definition.ts';
import { templateCandidates, type TemplateRef } from '../../resources/stream-layout.ts';
import { parseStreamingJobTemplate } from '../../resources/streaming-job-template.ts';
import {
  apiErrorMessage,
  applyObjects,
  applyYaml,
  installArcaneCrds,
  installTestPlugin,
  loadYaml,
  TEST_PLUGIN,
  testNamespace,
} from './kube.ts';
import { kubeConfig } from './stack-env.ts';

const PLUGIN_GROUP = 'streaming.sneaksanddata.com';
const PLUGIN_VERSION = 'v1beta1';

let kc: KubeConfig;

before(async () => {
  kc = kubeConfig();
  await installArcaneCrds(kc);
});

function value<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.reason}: ${result.error.message}`);
  return result.value;
}

function arcaneObject(kind: string, name: string, spec: unknown): KubernetesObject & { spec: unknown } {
  return { apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`, kind, metadata: { name }, spec };
}

async function createArcane(namespace: string, plural: string, body: object, dryRun?: 'All') {
  const api = kc.makeApiClient(CustomObjectsApi);
  return (await api.createNamespacedCustomObject({
    group: ARCANE_GROUP,
    version: ARCANE_VERSION,
    namespace,
    plural,
    body,
    dryRun,
  })) as JsonObject;
}

function createBackfillRequest(namespace: string, name: string, spec: JsonObject) {
  return createArcane(namespace, BACKFILL_REQUESTS.plural, arcaneObject('BackfillRequest', name, spec));
}

describe('Arcane CRDs', () => {
  test('are Established with the names, scope and columns clients use', async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    // SPEC 1: what `kubectl get` shows, and where each column reads it from.
    const expected = [
      {
        plural: STREAM_CLASSES.plural,
        shortName: 'sc',
        scope: 'Cluster',
        columns: [
          ['ApiGroupRef', '.spec.apiGroupRef'],
          ['ApiVersion', '.spec.apiVersion'],
          ['KindRef', '.spec.kindRef'],
          ['PluralName', '.spec.pluralName'],
          ['Phase', '.status.phase'],
        ],
      },
      {
        plural: STREAMING_JOB_TEMPLATES.plural,
        shortName: 'sjt',
        scope: 'Namespaced',
        columns: [
          ['MemoryLimit', '.spec.spec.template.spec.containers[0].resources.limits.memory'],
          ['CpuLimit', '.spec.spec.template.spec.containers[0].resources.limits.cpu'],
          ['Image', '.spec.spec.template.spec.containers[0].image'],
        ],
      },
      {
        plural: BACKFILL_REQUESTS.plural,
        shortName: 'bfr',
        scope: 'Namespaced',
        columns: [
          ['StreamClass', '.spec.streamClass'],
          ['StreamId', '.spec.streamId'],
          ['Completed', '.spec.completed'],
        ],
      },
    ];
    for (const crd of expected) {
      const stored = await api.readCustomResourceDefinition({ name: `${crd.plural}.${ARCANE_GROUP}` });
      const version = stored.spec.versions.find((item) => item.name === ARCANE_VERSION);
      assert.equal(stored.spec.scope, crd.scope);
      assert.deepEqual(stored.spec.names.shortNames, [crd.shortName]);
      assert.equal(stored.spec.names.listKind, `${stored.spec.names.kind}List`);
      assert.deepEqual(
        version?.additionalPrinterColumns?.map((column) => [column.name, column.jsonPath]),
        crd.columns,
      );
      assert.ok(version?.subresources?.status, `${crd.plural} has a status subresource`);
    }
  });

  test('open BackfillRequests of one stream are listed with a field selector', async (t) => {
    const namespace = await testNamespace(t, kc, 'bfr-selector');
    await createBackfillRequest(namespace, 'a-open', { streamClass: 'c', streamId: 'a' });
    await createBackfillRequest(namespace, 'a-done', { streamClass: 'c', streamId: 'a', completed: true });
    await createBackfillRequest(namespace, 'b-open', { streamClass: 'c', streamId: 'b' });
    const api = kc.makeApiClient(CustomObjectsApi);
    const list = (await api.listNamespacedCustomObject({
      group: ARCANE_GROUP,
      version: ARCANE_VERSION,
      namespace,
      plural: BACKFILL_REQUESTS.plural,
      fieldSelector: 'spec.completed=false,spec.streamId=a',
    })) as { items: unknown[] };
    const requests = list.items.map((item) => value(parseBackfillRequest(item)));
    assert.deepEqual(
      requests.map((request) => [request.name, request.completed]),
      [['a-open', false]],
    );
  });
});

describe("a stream's BackfillRequests", () => {
  test('are found by the activities with the field selector: only its own, and no call refused', async (t) => {
    const namespace = await testNamespace(t, kc, 'bfr-lookup');
    await createBackfillRequest(namespace, 'a-open', { streamClass: 'c', streamId: 'a' });
    await createBackfillRequest(namespace, 'a-done', { streamClass: 'c', streamId: 'a', completed: true });
    await createBackfillRequest(namespace, 'a-other-class', { streamClass: 'd', streamId: 'a' });
    await createBackfillRequest(namespace, 'b-open', { streamClass: 'c', streamId: 'b' });
    const calls = kubernetesApiCalls(new Registry());
    const kube = createKubernetesApi(kc, calls);
    const found = await listBackfillRequests(kube, { streamClass: 'c', namespace, name: 'a' });
    assert.deepEqual(found.map((request) => [request.name, request.completed]).sort(), [
      ['a-done', true],
      ['a-open', false],
    ]);
    const codes = (await calls.get()).values.map((value) => value.labels.code);
    assert.deepEqual(codes, ['2xx'], 'one list, answered');
  });
});

describe('test plugin', () => {
  test('its CRDs, StreamClasses, templates and example streams are accepted', async (t) => {
    const namespace = await testNamespace(t, kc, 'plugin');
    await installTestPlugin(kc, namespace);
    const classes = (await applyYaml(kc, [TEST_PLUGIN.streamClassFile])).map((item) => value(parseStreamClass(item)));
    assert.deepEqual(
      classes.map((item) => item.kind),
      ['MockStream', 'MockStreamV2'],
    );
    const streams = await applyYaml(kc, [TEST_PLUGIN.streamsFile], namespace);
    assert.equal(streams.length, 4);
    const api = kc.makeApiClient(CustomObjectsApi);
    const templates = (await api.listNamespacedCustomObject({
      group: ARCANE_GROUP,
      version: ARCANE_VERSION,
      namespace,
      plural: STREAMING_JOB_TEMPLATES.plural,
    })) as { items: unknown[] };
    assert.deepEqual(templates.items.map((item) => value(parseStreamingJobTemplate(item)).name).sort(), [
      'mock-backfill-job',
      'mock-failing-job',
      'mock-streaming-job',
    ]);
  });

  test('nulls in a stream spec are stored, and absent backends default to null', async (t) => {
    const namespace = await testNamespace(t, kc, 'plugin-nulls');
    await installTestPlugin(kc, namespace);
    const [stored] = await applyObjects(
      kc,
      [
        {
          apiVersion: `${PLUGIN_GROUP}/${PLUGIN_VERSION}`,
          kind: 'MockStreamV2',
          metadata: { name: 'no-backend' },
          spec: { execution: { layoutVersion: 'v2' }, connectionStringRef: { name: 'mock-connection' } },
        } as KubernetesObject,
      ],
      namespace,
    );
    const spec = (stored as KubernetesObject & { spec: { execution: JsonObject } }).spec;
    assert.deepEqual(spec.execution.streamingBackend, { changeCapture: null, batch: null });
    const examples = await applyYaml(kc, [TEST_PLUGIN.streamsFile], namespace);
    const v2Job = examples.find((item) => item.metadata?.name === 'mock-v2-job') as KubernetesObject & {
      spec: { execution: { streamingBackend: JsonObject } };
    };
    assert.equal(v2Job.spec.execution.streamingBackend.batch, null);
  });
});

describe('schema rejections', () => {
  const job = (changes: JsonObject = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'stream', image: 'busybox' }] } } },
    ...changes,
  });
  const broken: { name: string; plural: string; body: object; message: RegExp }[] = [
    {
      name: 'a template that is not a Job',
      plural: STREAMING_JOB_TEMPLATES.plural,
      body: arcaneObject('StreamingJobTemplate', 'deployment', job({ kind: 'Deployment' })),
      message: /spec must be a Job \(spec\.kind Job\)/,
    },
    {
      name: 'a template Job of another API version',
      plural: STREAMING_JOB_TEMPLATES.plural,
      body: arcaneObject('StreamingJobTemplate', 'apps', job({ apiVersion: 'apps/v1' })),
      message: /spec\.apiVersion: Unsupported value: "apps\/v1"/,
    },
    {
      name: 'a template without containers',
      plural: STREAMING_JOB_TEMPLATES.plural,
      body: arcaneObject('StreamingJobTemplate', 'empty', job({ spec: { template: { spec: { containers: [] } } } })),
      message: /spec\.spec\.template\.spec\.containers: Invalid value: .*should have at least 1 items/,
    },
    {
      name: 'a template that is a bare JobSpec',
      plural: STREAMING_JOB_TEMPLATES.plural,
      body: arcaneObject('StreamingJobTemplate', 'bare', job().spec),
      message: /spec\.apiVersion: Required value/,
    },
    {
      name: 'a BackfillRequest without streamId',
      plural: BACKFILL_REQUESTS.plural,
      body: arcaneObject('BackfillRequest', 'no-stream', { streamClass: 'c' }),
      message: /spec\.streamId: Required value/,
    },
    {
      name: 'a BackfillRequest whose completed is not a boolean',
      plural: BACKFILL_REQUESTS.plural,
      body: arcaneObject('BackfillRequest', 'completed', { streamClass: 'c', streamId: 's', completed: 'yes' }),
      message: /spec\.completed: Invalid value: "string": spec\.completed in body must be of type boolean/,
    },
  ];
  for (const input of broken) {
    test(`${input.name} is rejected with the reason`, async (t) => {
      const namespace = await testNamespace(t, kc, 'reject');
      await assert.rejects(createArcane(namespace, input.plural, input.body, 'All'), (error: unknown) => {
        assert.match(apiErrorMessage(error), input.message);
        return true;
      });
    });
  }

  test('a StreamClass without kindRef is rejected with the reason', async () => {
    const api = kc.makeApiClient(CustomObjectsApi);
    const body = arcaneObject('StreamClass', 'no-kind', { apiVersion: 'v1', pluralName: 'streams' });
    await assert.rejects(
      api.createClusterCustomObject({
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        plural: STREAM_CLASSES.plural,
        body,
        dryRun: 'All',
      }),
      (error: unknown) => {
        assert.match(apiErrorMessage(error), /spec\.kindRef: Required value/);
        return true;
      },
    );
  });

  test('a BackfillRequest cannot be moved to another stream', async (t) => {
    const namespace = await testNamespace(t, kc, 'reject-move');
    const created = await createBackfillRequest(namespace, 'r', { streamClass: 'c', streamId: 's' });
    const api = kc.makeApiClient(CustomObjectsApi);
    await assert.rejects(
      api.replaceNamespacedCustomObject({
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        namespace,
        plural: BACKFILL_REQUESTS.plural,
        name: 'r',
        body: { ...created, spec: { streamClass: 'c', streamId: 'other' } },
      }),
      (error: unknown) => {
        assert.match(apiErrorMessage(error), /streamId is immutable/);
        return true;
      },
    );
  });

  // A BackfillRequest only: a StreamClass written here would be seen by the watchers other test files run.
  test('a status phase outside the enum is rejected through the status subresource', async (t) => {
    const namespace = await testNamespace(t, kc, 'reject-phase');
    await createBackfillRequest(namespace, 'r', { streamClass: 'c', streamId: 's' });
    const api = kc.makeApiClient(CustomObjectsApi);
    const writeStatus = async (phase: string) =>
      (await api.patchNamespacedCustomObjectStatus(
        {
          group: ARCANE_GROUP,
          version: ARCANE_VERSION,
          namespace,
          plural: BACKFILL_REQUESTS.plural,
          name: 'r',
          body: { status: { phase } },
        },
        mergePatch,
      )) as { status?: { phase?: string } };
    await assert.rejects(writeStatus('Running'), (error: unknown) => {
      assert.match(
        apiErrorMessage(error),
        /status\.phase: Unsupported value: "Running": supported values: "Pending", "Ready", "Failed", "Stopped"/,
      );
      return true;
    });
    assert.equal((await writeStatus('Stopped')).status?.phase, 'Stopped');
  });
});

/** The v1 layout with a CronJob backend, which the examples lack: the v1 Job example with a batch backend instead. */
function v1CronStream(): KubernetesObject {
  const examples = loadYaml(TEST_PLUGIN.streamsFile) as (KubernetesObject & { spec: { execution: JsonObject } })[];
  const v1Job = examples.find((example) => example.metadata?.name === 'mock-v1-job');
  if (!v1Job) throw new Error(`no mock-v1-job in ${TEST_PLUGIN.streamsFile}`);
  const batch = { schedule: '*/5 * * * *', jobTemplateRef: { name: 'mock-backfill-job' } };
  const execution = { ...v1Job.spec.execution, streamingBackend: { changeCapture: null, batch } };
  return { ...v1Job, metadata: { name: 'mock-v1-cron' }, spec: { ...v1Job.spec, execution } } as KubernetesObject;
}

describe('built Jobs are accepted by the API server', () => {
  for (const example of [...loadYaml(TEST_PLUGIN.streamsFile), v1CronStream()]) {
    const name = example.metadata?.name ?? '';
    test(`${name}: its streaming and backfill Jobs or its CronJob pass a server-side dry run`, async (t) => {
      const namespace = await testNamespace(t, kc, name);
      await installTestPlugin(kc, namespace);
      const streamClass = (await applyYaml(kc, [TEST_PLUGIN.streamClassFile]))
        .map((item) => value(parseStreamClass(item)))
        .find((item) => item.kind === example.kind) as StreamClass;
      const [stored] = await applyObjects(kc, [example], namespace);
      const stream = value(parseStreamDefinition(stored, streamClass));
      assert.equal(stream.ref.apiVersion, `${PLUGIN_GROUP}/${PLUGIN_VERSION}`);
      const template = async (ref: TemplateRef) => {
        const api = kc.makeApiClient(CustomObjectsApi);
        const [candidate] = templateCandidates(ref);
        const resource: unknown = await api.getNamespacedCustomObject({
          group: ARCANE_GROUP,
          version: ARCANE_VERSION,
          namespace: candidate?.namespace ?? namespace,
          plural: STREAMING_JOB_TEMPLATES.plural,
          name: candidate?.name ?? '',
        });
        return value(parseStreamingJobTemplate(resource));
      };
      const { backend } = stream;
      assert.equal(backend.kind, name.endsWith('-cron') ? 'cronjob' : 'job');
      const input: JobInput = {
        stream: stream.ref,
        spec: stream.spec,
        template: await template(backend.jobTemplateRef),
        secretNames: stream.secretNames,
      };
      const batch = kc.makeApiClient(BatchV1Api);
      if (backend.kind === 'cronjob') {
        const body = value(buildCronJob({ ...input, schedule: backend.schedule }));
        const accepted = await batch.createNamespacedCronJob({ namespace, body, dryRun: 'All' });
        assert.equal(accepted.spec?.concurrencyPolicy, 'Forbid');
        return;
      }
      const streaming = await batch.createNamespacedJob({
        namespace,
        body: value(buildStreamingJob(input)),
        dryRun: 'All',
      });
      assert.equal(streaming.metadata?.labels?.['arcane/stream-id'], name);
      const request = value(
        parseBackfillRequest(
          await createBackfillRequest(namespace, `${name}-backfill`, {
            streamClass: stream.ref.streamClass,
            streamId: name,
            payload: { from: '2024-01-01' },
          }),
        ),
      );
      const backfillInput = { ...input, template: await template(backend.backfillJobTemplateRef) };
      const backfill = await batch.createNamespacedJob({
        namespace,
        body: value(buildBackfillJob(backfillInput, request)),
        dryRun: 'All',
      });
      assert.equal(backfill.metadata?.labels?.['arcane/backfilling'], 'true');
    });
  }
});
