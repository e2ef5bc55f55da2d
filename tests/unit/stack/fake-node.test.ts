// The stack's one fake node holds every pod a benchmark burst makes, on either test plugin: a node that fills up
// leaves pods Pending, and their streams wait for a backfill that never runs (at 10,000 production-shaped streams the
// node used to be full at 8,192 pods).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { V1Container } from '@kubernetes/client-node';
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { parseStreamingJobTemplate } from '../../../resources/streaming-job-template.ts';
import { loadYaml } from '../../../stack/manifests.ts';
import { PLUGINS } from '../../fixtures/plugins.ts';

const ROOT = join(import.meta.dirname, '../../..');
/** Ten times the largest burst the bench runs, streaming and backfill pods of every stream at once. */
const PODS = 10 * 10_000 * 2;

const amount = (quantity: string) => Number(quantityToScalar(quantity));

/** The fake node's allocatable resources, as the stage file reports them (the file is a Go template). */
function allocatable(): Record<string, number> {
  const text = readFileSync(join(ROOT, 'stack/kwok-stages.yaml'), 'utf8');
  const line = /allocatable: \{ (.*) \}/.exec(text);
  assert.ok(line, 'the stage file sets the node allocatable');
  return Object.fromEntries(
    line[1]!.split(', ').map((pair) => {
      const [name, quantity] = pair.split(': ');
      return [name!, amount(quantity!)];
    }),
  );
}

/** What one pod of each job template in `files` requests, summed over its containers. */
function podRequests(files: readonly string[]): Record<string, number>[] {
  const templates = files.flatMap(loadYaml).filter((object) => object.kind === 'StreamingJobTemplate');
  return templates.map((object) => {
    // Applied into each test's namespace, the files name none.
    const parsed = parseStreamingJobTemplate({ ...object, metadata: { ...object.metadata, namespace: 'any' } });
    assert.ok(parsed.ok, `${object.metadata?.name} is a valid template`);
    const sum: Record<string, number> = {};
    for (const container of parsed.value.job.spec.template.spec.containers as V1Container[]) {
      for (const [name, quantity] of Object.entries(container.resources?.requests ?? {})) {
        sum[name] = (sum[name] ?? 0) + amount(quantity);
      }
    }
    return sum;
  });
}

describe('the fake node', () => {
  const node = allocatable();

  for (const plugin of PLUGINS) {
    it(`holds ${PODS} pods of each job template of the ${plugin.name} plugin`, () => {
      const pods = podRequests(plugin.files.namespacedFiles);
      assert.ok(pods.length > 0, 'the plugin has job templates');
      assert.ok(node.pods! >= PODS, `room for ${PODS} pods`);
      for (const requests of pods) {
        for (const [name, perPod] of Object.entries(requests)) {
          assert.ok(
            (node[name] ?? 0) >= perPod * PODS,
            `${name}: ${PODS} pods request ${perPod * PODS}, the node has ${node[name]}`,
          );
        }
      }
    });
  }
});
