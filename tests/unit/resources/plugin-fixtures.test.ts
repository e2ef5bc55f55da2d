// The test plugin (tests/fixtures/plugin) is what integration tests run: its resources must read cleanly here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { buildBackfillJob, buildCronJob, buildStreamingJob } from '../../../resources/job-builder.ts';
import { parseBackfillRequest } from '../../../resources/backfill-request.ts';
import { parseStreamClass, type StreamClass } from '../../../resources/stream-class.ts';
import { parseStreamDefinition } from '../../../resources/stream-definition.ts';
import { parseStreamingJobTemplate, type StreamingJobTemplate } from '../../../resources/streaming-job-template.ts';
import { templateCandidates } from '../../../resources/stream-layout.ts';
import { NAMESPACE, UID, unwrap } from './examples.ts';

function load(file: string): Record<string, unknown>[] {
  return loadAllYaml(readFileSync(new URL(`../../fixtures/plugin/${file}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >[];
}

// As the API server returns them: in the test namespace, with a uid.
function stored(resource: Record<string, unknown>): Record<string, unknown> {
  return { ...resource, metadata: { ...(resource.metadata as object), namespace: NAMESPACE, uid: UID } };
}

const classes = new Map<string, StreamClass>(
  load('streamclasses.yaml').map((resource) => {
    const streamClass = unwrap(parseStreamClass(resource));
    return [streamClass.kind, streamClass];
  }),
);
const templates = new Map<string, StreamingJobTemplate>(
  load('templates.yaml').map((resource) => {
    const template = unwrap(parseStreamingJobTemplate(stored(resource)));
    return [template.name, template];
  }),
);

describe('test plugin', () => {
  test('has a StreamClass per kind and three templates', () => {
    assert.deepEqual([...classes.keys()], ['MockStream', 'MockStreamV2']);
    assert.deepEqual([...templates.keys()], ['mock-streaming-job', 'mock-backfill-job', 'mock-failing-job']);
  });

  test('the failing template marks its pods for kwok to fail', () => {
    const labels = templates.get('mock-failing-job')?.job.spec.template.metadata?.labels;
    assert.equal(labels?.['pod-container-running-failed.stage.kwok.x-k8s.io'], 'true');
  });

  for (const resource of load('streams.yaml')) {
    const name = (resource.metadata as { name: string }).name;
    test(`example stream ${name} builds its Jobs from the plugin templates`, () => {
      const streamClass = classes.get(resource.kind as string);
      assert.ok(streamClass);
      const stream = unwrap(parseStreamDefinition(stored(resource), streamClass));
      const { backend } = stream;
      assert.notEqual(backend.kind, 'none');
      if (backend.kind === 'none') return;
      const find = (ref: Parameters<typeof templateCandidates>[0]) =>
        templates.get(templateCandidates(ref)[0]?.name ?? '');
      const streaming = find(backend.jobTemplateRef);
      assert.ok(streaming);
      const input = { stream: stream.ref, spec: stream.spec, template: streaming, secretNames: stream.secretNames };
      if (backend.kind === 'cronjob') {
        unwrap(buildCronJob({ ...input, schedule: backend.schedule }));
        return;
      }
      unwrap(buildStreamingJob(input));
      const backfill = find(backend.backfillJobTemplateRef);
      assert.ok(backfill);
      const request = unwrap(
        parseBackfillRequest({
          metadata: { name: `${name}-backfill`, namespace: NAMESPACE },
          spec: { streamClass: stream.ref.streamClass, streamId: name },
        }),
      );
      unwrap(buildBackfillJob({ ...input, template: backfill }, request));
    });
  }
});
