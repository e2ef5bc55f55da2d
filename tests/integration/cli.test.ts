// The `arcane` command as a separate process against the real stack: downtimes interchangeable with kubectl-arcane
// (both directions, on the v0 and v1 layouts), and stream list, backfill --wait and history on streams a real worker
// runs.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import { stateQuery } from '../../workflows/messages.ts';
import { PLUGINS, TEST, type StreamKind, type TestPlugin } from '../fixtures/plugins.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig, stackEnv } from './stack-env.ts';
import {
  createStream,
  forwardWorkloadEvents,
  observeStream,
  startWorkerHarness,
  waitForState,
  type WorkerHarness,
} from './stream-harness.ts';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const arcane = join(import.meta.dirname, '../../cli/arcane.ts');
const LABEL = 'arcane.sneaksanddata.com/downtime';
const BEGIN = 'arcane.sneaksanddata.com/downtime-begin-ts';

/** The stack's connections, as a user would export them. */
function cliEnv(): NodeJS.ProcessEnv {
  const stack = stackEnv();
  return {
    PATH: process.env.PATH,
    ARCANE_TEMPORAL_ADDRESS: stack.temporalAddress,
    ARCANE_TEMPORAL_NAMESPACE: stack.temporalNamespace,
    ARCANE_KUBECONFIG: stack.kubeconfigPath,
  };
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `arcane` to its end without blocking this process (the worker under test runs here). */
function runArcane(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [arcane, ...args], { env: cliEnv(), timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `arcane`; its output so far can be read while it runs. */
function startArcane(args: string[]): { output: () => string; done: Promise<Ran> } {
  const child = spawn(process.execPath, [arcane, ...args], { env: cliEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  return { output: () => stdout, done };
}

interface Stored {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

function where(kind: StreamKind, namespace: string) {
  return { group: kind.group, version: kind.version, plural: kind.plural, namespace };
}

function named(kind: StreamKind, namespace: string, name: string) {
  return { ...where(kind, namespace), name };
}

async function read(kind: StreamKind, namespace: string, name: string): Promise<Stored> {
  return (await custom.getNamespacedCustomObject(named(kind, namespace, name))) as Stored;
}

/**
 * The write sequence of kubectl-arcane's downtime commands, as that tool performs it: list the class's streams,
 * then per stream GET it, change labels, annotations and the suspended field in the object, and Update the whole
 * object (a PUT carrying the resourceVersion it read).
 */
const kubectlArcane = {
  async declare(plugin: TestPlugin, namespace: string, prefix: string, key: string): Promise<void> {
    const kind = plugin.kind;
    const list = (await custom.listNamespacedCustomObject(where(kind, namespace))) as { items: Stored[] };
    for (const listed of list.items) {
      if (!listed.metadata.name.startsWith(prefix) || plugin.layout.isSuspended(listed.spec as never)) continue;
      const stream = await read(kind, namespace, listed.metadata.name);
      if (stream.metadata.labels?.[LABEL] !== undefined && stream.metadata.labels[LABEL] !== key) continue;
      stream.metadata.labels = { ...stream.metadata.labels, [LABEL]: key };
      // Go's time.Now().UTC().Format(time.RFC3339)
      stream.metadata.annotations = { ...stream.metadata.annotations, [BEGIN]: goRfc3339(new Date()) };
      setSuspended(plugin, stream, true);
      await custom.replaceNamespacedCustomObject({ ...named(kind, namespace, stream.metadata.name), body: stream });
    }
  },
  async stop(plugin: TestPlugin, key: string): Promise<void> {
    const kind = plugin.kind;
    const { group, version, plural } = kind;
    const list = (await custom.listClusterCustomObject({ group, version, plural, labelSelector: LABEL })) as {
      items: Stored[];
    };
    for (const listed of list.items) {
      const stream = await read(kind, listed.metadata.namespace, listed.metadata.name);
      if (stream.metadata.labels?.[LABEL] !== key) continue;
      delete stream.metadata.labels[LABEL];
      delete stream.metadata.annotations?.[BEGIN];
      setSuspended(plugin, stream, false);
      const location = named(kind, stream.metadata.namespace, stream.metadata.name);
      await custom.replaceNamespacedCustomObject({ ...location, body: stream });
    }
  },
};

function goRfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

function setSuspended(plugin: TestPlugin, stream: Stored, suspended: boolean): void {
  if (plugin.layout.name === 'v0') stream.spec.suspended = suspended;
  else (stream.spec.execution as Record<string, unknown>).suspended = suspended;
}

/** Streams `orders-a`, `orders-b` (running), `orders-c` (suspended by someone) and `billing` in `namespace`. */
async function createDowntimeStreams(plugin: TestPlugin, namespace: string): Promise<void> {
  for (const [name, suspended] of [
    ['orders-a', false],
    ['orders-b', false],
    ['orders-c', true],
    ['billing', false],
  ] as const) {
    const body = plugin.stream(name, { suspended });
    await createStream(kc, plugin.kind.streamClass, { ...body, metadata: { ...body.metadata, name, namespace } });
  }
}

async function downtimeState(plugin: TestPlugin, namespace: string, name: string) {
  const stream = await read(plugin.kind, namespace, name);
  return {
    suspended: plugin.layout.isSuspended(stream.spec as never),
    key: stream.metadata.labels?.[LABEL],
    begin: stream.metadata.annotations?.[BEGIN],
    resourceVersion: stream.metadata.resourceVersion,
  };
}

describe('arcane downtime, interchangeable with kubectl-arcane', () => {
  for (const plugin of PLUGINS) {
    const className = plugin.kind.streamClass;

    it(`stops a downtime kubectl-arcane declared (${plugin.name} plugin, layout ${plugin.layout.name})`, async (t) => {
      const namespace = await testNamespace(t, kc, `cli-dt-in-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      await createDowntimeStreams(plugin, namespace);
      const billing = await downtimeState(plugin, namespace, 'billing');
      const key = `window-${randomUUID().slice(0, 8)}`;
      const declaredAt = Date.now();
      await kubectlArcane.declare(plugin, namespace, 'orders-', key);

      const listed = await runArcane(['downtime', 'list', className, '-o', 'json']);
      assert.equal(listed.code, 0, listed.stderr);
      const ours = (JSON.parse(listed.stdout) as { key: string; streams: string[]; since: number }[]).find(
        (summary) => summary.key === key,
      );
      assert.deepEqual(ours?.streams, [`${namespace}/orders-a`, `${namespace}/orders-b`]);
      assert.ok(Math.abs(ours.since - declaredAt) < 60_000, 'the begin time is read from the annotation');

      const stopped = await runArcane(['downtime', 'stop', className, key, '-n', namespace]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(
        stopped.stdout,
        `${namespace}/orders-a: resumed\n${namespace}/orders-b: resumed\n2 of 2 streams in downtime ${key} resumed\n`,
      );
      for (const name of ['orders-a', 'orders-b']) {
        assert.deepEqual(
          { ...(await downtimeState(plugin, namespace, name)), resourceVersion: undefined },
          { suspended: false, key: undefined, begin: undefined, resourceVersion: undefined },
          name,
        );
      }
      assert.equal((await downtimeState(plugin, namespace, 'orders-c')).suspended, true, 'not ours to resume');
      assert.deepEqual(await downtimeState(plugin, namespace, 'billing'), billing, 'outside the prefix: untouched');
    });

    it(`declares a downtime kubectl-arcane stops (${plugin.name} plugin, layout ${plugin.layout.name})`, async (t) => {
      const namespace = await testNamespace(t, kc, `cli-dt-out-${plugin.name}`);
      await installTestPlugin(kc, namespace, plugin.files);
      await createDowntimeStreams(plugin, namespace);
      const billing = await downtimeState(plugin, namespace, 'billing');
      const key = `window-${randomUUID().slice(0, 8)}`;

      const declared = await runArcane(['downtime', 'declare', className, key, '--prefix', 'orders-', '-n', namespace]);
      assert.equal(declared.code, 0, declared.stderr);
      assert.equal(
        declared.stdout,
        [
          `${namespace}/orders-a: suspended (downtime ${key})`,
          `${namespace}/orders-b: suspended (downtime ${key})`,
          `${namespace}/orders-c: skipped, already suspended`,
          `2 of 3 matching streams suspended under downtime ${key}`,
          '',
        ].join('\n'),
      );
      for (const name of ['orders-a', 'orders-b']) {
        const state = await downtimeState(plugin, namespace, name);
        assert.equal(state.suspended, true);
        assert.equal(state.key, key);
        // What kubectl-arcane parses with time.ParseInLocation(time.RFC3339, ...).
        assert.match(state.begin ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      }
      assert.deepEqual(await downtimeState(plugin, namespace, 'billing'), billing);
      const table = await runArcane(['downtime', 'list', className]);
      assert.match(table.stdout, new RegExp(`^${key} +${className} +2 +\\d+s$`, 'm'));

      await kubectlArcane.stop(plugin, key);
      for (const name of ['orders-a', 'orders-b']) {
        const state = await downtimeState(plugin, namespace, name);
        assert.deepEqual([state.suspended, state.key, state.begin], [false, undefined, undefined], name);
      }
      assert.equal((await downtimeState(plugin, namespace, 'orders-c')).suspended, true);
    });
  }

  it('fails in one line with exit code 1 for a StreamClass that does not exist', async () => {
    const ran = await runArcane(['downtime', 'declare', 'no-such-class', 'window-1']);
    assert.equal(ran.code, 1);
    assert.equal(ran.stderr, 'arcane: StreamClass no-such-class not found\n');
  });
});

describe('arcane stream commands on streams a worker runs', () => {
  let harness: WorkerHarness;
  before(async () => {
    harness = await startWorkerHarness(kc);
  });
  after(async () => {
    await harness.stop();
  });

  /** A running stream `orders` of the test plugin in a namespace of its own, its workflow driven by the harness. */
  async function runningStream(t: Parameters<typeof testNamespace>[0], prefix: string) {
    const namespace = await testNamespace(t, kc, prefix);
    await installTestPlugin(kc, namespace, TEST.files);
    const body = TEST.stream('orders');
    const stream: StreamKey = await createStream(kc, TEST.kind.streamClass, {
      ...body,
      metadata: { ...body.metadata, namespace },
    });
    const handle = await observeStream(harness, stream);
    await forwardWorkloadEvents(t, kc, handle, stream);
    await waitForState(handle, 'Running', (s) => s.phase === 'Running' && s.job?.backfilling === false, 60_000);
    return { namespace, stream, handle, target: `${namespace}/orders` };
  }

  it('lists the stream, backfills it with --wait, and shows its history as a timeline', async (t) => {
    const { namespace, target, handle } = await runningStream(t, 'cli-stream');
    const className = TEST.kind.streamClass;

    // Visibility catches up with the workflow's search attributes shortly after it sets them.
    const listed = await waitFor('the stream in the list', async () => {
      const ran = await runArcane(['stream', 'list', '--class', className, '-n', namespace, '-o', 'json']);
      assert.equal(ran.code, 0, ran.stderr);
      const streams = JSON.parse(ran.stdout) as { phase: string; state?: { reason: string; restartCount: number } }[];
      return streams.length === 1 && streams[0]!.phase === 'Running' && streams[0];
    });
    assert.equal(listed.state?.reason, 'StreamRunning');
    const table = await runArcane(['stream', 'list', '--class', className, '-n', namespace]);
    assert.match(table.stdout, /^NAMESPACE +NAME +CLASS +PHASE +REASON +AGE +RESTARTS +NEXT RESTART +BACKFILL\n/);
    assert.match(
      table.stdout,
      new RegExp(`\\n${namespace} +orders +${className} +Running +StreamRunning +\\d+[smh]\\S* +0 +- +-\\n$`),
    );

    const backfill = await runArcane(['stream', 'backfill', className, target, '--wait', '--timeout', '120s']);
    const stateNow = async () => JSON.stringify(await handle.query(stateQuery));
    assert.equal(
      backfill.code,
      0,
      `${backfill.stderr}; workflow state: ${backfill.code === 0 ? '' : await stateNow()}`,
    );
    const request = new RegExp(
      `^BackfillRequest ${namespace}/(orders-backfill-\\w+) created\\nBackfillRequest ${namespace}/\\1 completed\\n$`,
    ).exec(backfill.stdout)?.[1];
    assert.ok(request, backfill.stdout);

    // The timeline names what the workflow did for the request; which phases it passed through is the lifecycle's.
    const history = await runArcane(['stream', 'history', className, target]);
    assert.equal(history.code, 0, history.stderr);
    const lines = history.stdout.split('\n');
    assert.match(lines[0]!, /^TIME +KIND +WHAT HAPPENED$/);
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\d \(UTC\)$/);
    assert.match(lines[2]!, new RegExp(`^[\\d:.]+ +started +started ${namespace}/orders \\(class ${className}\\)$`));
    const after = lines.slice(lines.findIndex((line) => / update +backfill accepted$/.test(line)));
    assert.ok(after.length > 1, 'the backfill update is in the history');
    // An activity per action, or one per lifecycle round whose summary lists its actions: either way, with outcome.
    const did = (action: string) => after.some((line) => new RegExp(` activity +.*${action}\\b.* \\[ok`).test(line));
    assert.ok(did(`create backfill Job ${namespace}/orders for ${request}`), 'the backfill Job in the timeline');
    assert.ok(did(`complete BackfillRequest ${namespace}/${request}`), 'the completion in the timeline');
    assert.ok(after.some((line) => / (status|phase) +\S+ -> Running {2}StreamRunning: /.test(line)));
    const raw = await runArcane(['stream', 'history', className, target, '-o', 'json']);
    const events = (JSON.parse(raw.stdout) as { events: { eventType: string }[] }).events;
    assert.equal(events[0]?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
  });

  it('suspends and resumes a running stream through a downtime, and says how an awaited backfill ended', async (t) => {
    const { namespace, stream, handle, target } = await runningStream(t, 'cli-exit');
    const className = TEST.kind.streamClass;
    const key = `window-${randomUUID().slice(0, 8)}`;

    const declared = await runArcane(['downtime', 'declare', className, key, '--prefix', 'orders', '-n', namespace]);
    assert.equal(declared.code, 0, declared.stderr);
    await observeStream(harness, stream); // the watcher forwards the spec change
    await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended' && s.job === undefined);

    // A suspended stream keeps its backfill open: --wait gives up at the timeout with exit code 3.
    const timedOut = await runArcane(['stream', 'backfill', className, target, '--wait', '--timeout', '3s']);
    assert.equal(timedOut.code, 3, timedOut.stderr);
    const request = /^BackfillRequest \S+\/(\S+) created\n$/.exec(timedOut.stdout)?.[1];
    assert.ok(request, timedOut.stdout);
    assert.equal(timedOut.stderr, `arcane: BackfillRequest ${namespace}/${request} is still open after 3s\n`);

    // The open request is returned again; deleting it while it is awaited ends the wait with exit code 4.
    const waiting = startArcane(['stream', 'backfill', className, target, '--wait', '--timeout', '120s']);
    await waitFor('the awaited request', () => waiting.output().includes('already open'));
    const requests = { group: 'streaming.sneaksanddata.com', version: 'v1', plural: 'backfillrequests', namespace };
    await custom.deleteNamespacedCustomObject({ ...requests, name: request });
    const deleted = await waiting.done;
    assert.equal(deleted.code, 4, deleted.stderr);
    assert.equal(deleted.stdout, `BackfillRequest ${namespace}/${request} already open\n`);
    assert.equal(deleted.stderr, `arcane: BackfillRequest ${namespace}/${request} was deleted before it completed\n`);

    const stopped = await runArcane(['downtime', 'stop', className, key]);
    assert.equal(stopped.code, 0, stopped.stderr);
    await observeStream(harness, stream);
    await waitForState(handle, 'Running again', (s) => s.phase === 'Running' && s.job?.backfilling === false, 60_000);
  });
});
