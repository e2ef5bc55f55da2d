// Smoke tests: the local Temporal server runs workflows for real, and replay catches incompatible changes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DeterminismViolationError } from '@temporalio/workflow';
import { NativeConnection, Worker } from '@temporalio/worker';
import { searchAttributeKeys } from '../../client/search-attributes.ts';
import { startTemporalServer, type TemporalServer } from '../../stack/temporal.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { addSignal, finishSignal, totalQuery } from '../fixtures/smoke-workflow/workflows.ts';
import { stackEnv } from './stack-env.ts';
import { takenPortPicker } from './taken-port.ts';

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

/** Stops a server a test started in its own folder, then removes the folder (its database and log). */
async function stopAndRemove(server: TemporalServer, dir: string): Promise<void> {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

describe('starting a local Temporal server', () => {
  it('keeps its database in write-ahead-log mode', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'temporal-wal-'));
    const server = await startTemporalServer({ binary: toolchain().temporal, dir, logDir: dir });
    t.after(() => stopAndRemove(server, dir));
    // SQLite's file header: bytes 18 and 19 (write and read format versions) are 1 for a rollback journal, 2 for WAL.
    const header = readFileSync(server.dbFile).subarray(0, 20);
    assert.equal(header.subarray(0, 15).toString('latin1'), 'SQLite format 3');
    assert.deepEqual([header[18], header[19]], [2, 2]);
    assert.ok(existsSync(`${server.dbFile}-wal`), 'the write-ahead log exists');
  });

  it('starts again on other ports when one it picked was taken before the server bound it', async (t) => {
    // The server's first pick is held by someone else by the time it binds it.
    const { taken, picked, pickPort } = await takenPortPicker(t, 0);
    const dir = mkdtempSync(join(tmpdir(), 'temporal-ports-'));
    const server = await startTemporalServer({ binary: toolchain().temporal, dir, logDir: dir, pickPort });
    t.after(() => stopAndRemove(server, dir));
    assert.equal(picked[0], taken);
    assert.notEqual(server.address, `127.0.0.1:${taken}`);
    assert.match(readFileSync(join(dir, 'temporal.log'), 'utf8'), /address already in use/);
    // The retry started from a fresh database: the search attributes are registered.
    const connection = await Connection.connect({ address: server.address });
    t.after(() => connection.close());
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: server.namespace });
    for (const key of searchAttributeKeys) assert.ok(customAttributes[key.name], `${key.name} is registered`);
  });
});
