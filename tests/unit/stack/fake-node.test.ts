// The stack's one fake node holds every pod a benchmark burst makes, on either test plugin: a node that fills up
// leaves pods Pending, and their streams wait for a backfill that never runs (at 10,000 production-shaped streams the
// node used to be full at 8,192 pods).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { PRODUCTION_PLUGIN, TEST_PLUGIN } from '../../../stack/manifests.ts';

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
  const pods: Record<string, number>[] = [];
  for (const file of files) {
    for (const doc of loadAllYaml(readFileSync(join(ROOT, file), 'utf8')) as { spec?: unknown }[]) {
      const containers = findContainers(doc);
      if (containers === undefined) continue;
      const sum: Record<string, number> = {};
      for (const container of containers) {
        for (const [name, quantity] of Object.entries(container.resources?.requests ?? {})) {
          sum[name] = (sum[name] ?? 0) + amount(quantity);
        }
      }
      pods.push(sum);
    }
  }
  return pods;
}

interface Container {
  resources?: { requests?: Record<string, string> };
}

/** The containers of the pod template somewhere inside a job template. */
function findContainers(value: unknown): Container[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const object = value as Record<string, unknown>;
  if (Array.isArray(object.containers)) return object.containers as Container[];
  for (const child of Object.values(object)) {
    const found = findContainers(child);
    if (found) return found;
  }
  return undefined;
}

describe('the fake node', () => {
  const node = allocatable();

  for (const plugin of [TEST_PLUGIN, PRODUCTION_PLUGIN]) {
    it(`holds ${PODS} pods of each job template of ${plugin.streamClassFile.split('/').at(-2)}`, () => {
      const pods = podRequests(plugin.namespacedFiles);
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
