// The worker's workflow cache: how many workflows stay cached follows a memory budget, not the size of the heap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromSources } from '../../../operations/settings.ts';
import { parseWorkerConfig, WORKER_SETTINGS } from '../../../worker/config.ts';
import { cachedWorkflows } from '../../../worker/worker.ts';

describe('workflow cache', () => {
  it('holds 600 workflows per GiB of budget, at least 2, and none when the budget is 0', () => {
    assert.equal(cachedWorkflows(1_024), 600);
    assert.equal(cachedWorkflows(256), 150);
    assert.equal(cachedWorkflows(1), 2);
    assert.equal(cachedWorkflows(0), 0);
  });

  it('has a 256 MiB budget unless ARCANE_WORKFLOW_CACHE_MEMORY_MIB says otherwise', () => {
    assert.equal(parseWorkerConfig({}).workflowCache.memoryMib, 256);
    const input = configFromSources(WORKER_SETTINGS, { ARCANE_WORKFLOW_CACHE_MEMORY_MIB: '64' });
    assert.equal(parseWorkerConfig(input).workflowCache.memoryMib, 64);
    assert.throws(
      () => parseWorkerConfig(configFromSources(WORKER_SETTINGS, { ARCANE_WORKFLOW_CACHE_MEMORY_MIB: 'lots' })),
      /workflowCache\.memoryMib: must be a whole number from 0 to 1048576/,
    );
  });
});
