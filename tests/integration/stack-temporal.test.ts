// Smoke tests: the local Temporal server runs workflows for real, and replay catches incompatible changes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DeterminismViolationError } from '@temporalio/workflow';
import { NativeConnection, Worker } from '@temporalio/worker';
import { waitFor } from '../../stack/wait.ts';
import { addSignal, finishSignal, totalQuery } from '../fixtures/smoke-workflow/workflows.ts';
import { stackEnv } from './stack-env.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const workflowsPath = join(fixtures, 'smoke-workflow', 'workflows.ts');
const changedWorkflowsPath = join(fixtures, 'smoke-workflow', 'workflows-changed.ts');
const recordedHistory = join(fixtures, 'histories', 'smoke-counter.json');

describe('local Temporal server', () => {
  const env = stackEnv();
  const taskQueue = `smoke-${randomUUID()}`;
  let connection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    connection = await Connection.connect({ address: env.temporalAddress });
    client = new Client({ connection, namespace: env.temporalNamespace });
    const workerConnection = await NativeConnection.connect({ address: env.temporalAddress });
    worker = await Worker.create({
      connection: workerConnection,
      namespace: env.temporalNamespace,
      taskQueue,
      workflowsPath,
    });
    running = worker.run();
  });
  after(async () => {
    worker.shutdown();
    await running;
    await connection.close();
  });

  it('runs a workflow that answers a signal and a query', async () => {
    const handle = await client.workflow.start('counter', { taskQueue, workflowId: `counter-${randomUUID()}` });
    await handle.signal(addSignal, 2);
    await handle.signal(addSignal, 3);
    await waitFor('the query to see both signals', async () => (await handle.query(totalQuery)) === 5);
    await handle.signal(finishSignal);
    assert.equal(await handle.result(), 5);

    const history = await handle.fetchHistory();
    if (process.env.RECORD_HISTORIES === '1') {
      writeFileSync(recordedHistory, historyToJSON(history));
    }
    await Worker.runReplayHistory({ workflowsPath }, history, handle.workflowId);
  });

  it('replays the recorded history with the current workflow', async () => {
    assert.ok(existsSync(recordedHistory), `${recordedHistory} is missing: record it with RECORD_HISTORIES=1`);
    const history = historyFromJSON(JSON.parse(readFileSync(recordedHistory, 'utf8')));
    await Worker.runReplayHistory({ workflowsPath }, history, 'recorded-counter');
  });

  it('fails to replay the recorded history with an incompatibly changed workflow', async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(recordedHistory, 'utf8')));
    await assert.rejects(
      Worker.runReplayHistory({ workflowsPath: changedWorkflowsPath }, history, 'recorded-counter'),
      DeterminismViolationError,
    );
  });
});
