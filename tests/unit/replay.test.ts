// Replays every recorded stream workflow history with the current workflow code: a change that would break
// running workflows fails here. Record them again (RECORD_HISTORIES=1 npm run test:integration) only on purpose.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Runtime, Worker } from '@temporalio/worker';

const histories = join(import.meta.dirname, '../fixtures/histories');
const recorded = readdirSync(histories).filter((file) => file.startsWith('stream-') && file.endsWith('.json'));
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

describe('recorded stream workflow histories', () => {
  it('exist', () => {
    assert.ok(recorded.length >= 3, `expected recorded histories in ${histories}, found ${recorded.join(', ')}`);
  });

  const bundle = (async () => {
    Runtime.install({ logger: quiet });
    return bundleWorkflowCode({ workflowsPath: join(import.meta.dirname, '../../workflows/index.ts'), logger: quiet });
  })();
  for (const file of recorded) {
    it(`replay without nondeterminism: ${file}`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(histories, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await bundle }, history, file);
    });
  }
});
