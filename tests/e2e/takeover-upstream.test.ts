// Migration from the real upstream Go operator (v1.1.6) and back, on a stack of its own, for each test plugin: upstream
// brings streams to Running (their initial backfills done), holds one backfill open and keeps one stream suspended;
// then this operator takes over in place (same Jobs, same BackfillRequests, same phases) and handles what comes next;
// then upstream takes back over the same way, and the outcome finalizer this operator leaves on Jobs is shown and
// cleared with the README's command.
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import type { JsonObject } from '../../resources/go-json.ts';
import { OUTCOME_FINALIZER, CONFIGURATION_HASH_ANNOTATION } from '../../resources/job-metadata.ts';
import { applyYaml, installArcaneCrds, installTestPluginClasses } from '../../stack/manifests.ts';
import type { OperatorProcess } from '../../stack/operator-process.ts';
import { waitFor } from '../../stack/wait.ts';
import { PLUGINS, type TestPlugin } from '../fixtures/plugins.ts';
import { Cluster, jobEnv, type Stream } from './cluster.ts';
import { JobLog } from './job-log.ts';
import { RECHECK_MS } from './operator.ts';
import { useOwnStack } from './own-stack.ts';
import { startUpstreamFor, readmeFinalizerCommand, runReadmeCommand, type Upstream } from './upstream-operator.ts';
import { waitForSettled } from './workflow.ts';

/**
 * Streams upstream brings to Running (their initial backfill runs and completes, then a streaming Job runs): after the
 * take-over this operator changes the spec of the first and suspends the second; upstream, back, suspends the third.
 */
const RUNNING = ['orders', 'payments', 'refunds'] as const;
/** A stream whose initial backfill Job's pod is held (a scheduling gate), so its BackfillRequest stays open. */
const HELD = 'history';
/** A stream created suspended: no Job, no request. */
const SUSPENDED = 'archive';
type Name = (typeof RUNNING)[number] | typeof HELD | typeof SUSPENDED;
const NAMES: readonly Name[] = [...RUNNING, HELD, SUSPENDED];
const HELD_TEMPLATE = 'held-backfill';
const STEP_TIMEOUT = 300_000;

/** What a take-over must keep, per namespace: Jobs by name (uid, hash, deleting), requests, phases. */
interface Snapshot {
  jobs: Record<string, { uid: string; hash: string | undefined; deleting: boolean }>;
  requests: Record<string, { stream: string; completed: boolean }>;
  phases: Record<string, string | undefined>;
  /** `status.configurationHash` and the first condition's type and message, as stored. */
  statuses: Record<string, string>;
}

/** One plugin's namespace, its streams, and what was there before each hand-over. */
interface Scene {
  plugin: TestPlugin;
  cluster: Cluster;
  streams: Record<Name, Stream>;
  beforeTakeOver?: Snapshot;
  beforeRollback?: Snapshot;
}

function taken(snapshot: Snapshot | undefined): Snapshot {
  if (!snapshot) throw new Error('no snapshot: an earlier step of this file failed');
  return snapshot;
}

async function snapshot(scene: Scene): Promise<Snapshot> {
  const [jobs, requests, streams] = await Promise.all([
    scene.cluster.jobs(),
    scene.cluster.backfillRequests(),
    Promise.all(Object.values(scene.streams).map((stream) => scene.cluster.readStream(stream))),
  ]);
  return {
    jobs: Object.fromEntries(
      jobs.map((job) => [
        job.metadata?.name ?? '',
        {
          uid: job.metadata?.uid ?? '',
          hash: job.metadata?.annotations?.[CONFIGURATION_HASH_ANNOTATION],
          deleting: job.metadata?.deletionTimestamp !== undefined,
        },
      ]),
    ),
    requests: Object.fromEntries(
      requests.map((request) => [
        request.metadata.name ?? '',
        { stream: request.spec.streamId, completed: request.spec.completed === true },
      ]),
    ),
    phases: Object.fromEntries(streams.map((stream) => [stream.metadata.name ?? '', stream.status?.phase])),
    statuses: Object.fromEntries(
      streams.map((stream) => {
        const [condition] = stream.status?.conditions ?? [];
        const shown = `hash ${stream.status?.configurationHash}, ${condition?.type}: ${condition?.message}`;
        return [stream.metadata.name ?? '', shown];
      }),
    ),
  };
}

const isStreaming = (job: V1Job | undefined) => jobEnv(job, 'STREAMCONTEXT__BACKFILL') === 'false';
const isBackfill = (job: V1Job | undefined) => jobEnv(job, 'STREAMCONTEXT__BACKFILL') === 'true';
const isRunning = (job: V1Job | undefined) => (job?.status?.active ?? 0) > 0;

/** A merge patch of a layout-v1 spec that adds `namespace` to both template references. */
function namespacedRefs(namespace: string): JsonObject {
  return {
    execution: {
      backfillJobTemplateRef: { namespace },
      streamingBackend: { changeCapture: { jobTemplateRef: { namespace } } },
    },
  };
}

/** Asserts that no Job of the scene's streams was created since the log started, other than those `kept` holds. */
async function assertNoJobCreated(scene: Scene, log: JobLog, kept: Snapshot): Promise<void> {
  for (const name of NAMES) {
    const created = (await log.of(name)).map((job) => job.uid);
    const uid = kept.jobs[name]?.uid;
    assert.deepEqual(created, uid ? [uid] : [], `${scene.plugin.name}/${name}: no Job created`);
  }
}

/** Waits until the stream has exactly one BackfillRequest, completed or open as `completed` says, and a Job `job`. */
async function waitForJobAndRequest(
  scene: Scene,
  name: Name,
  job: (job: V1Job | undefined) => boolean,
  completed: boolean,
) {
  const { cluster } = scene;
  await waitFor(
    `${cluster.namespace}/${name}: its Job as expected and one ${completed ? 'completed' : 'open'} request`,
    async () => {
      const [found, requests] = await Promise.all([cluster.job(name), cluster.backfillRequests(name)]);
      return job(found) && requests.length === 1 && (requests[0]?.spec.completed === true) === completed;
    },
    { timeoutMs: 120_000 },
  );
}

describe('take-over from the upstream Go operator and rollback to it', () => {
  const scenes: Scene[] = [];
  let worker: OperatorProcess;
  let watcher: OperatorProcess;
  let upstream: Upstream | undefined;
  // Registered before the stack's own teardown, so upstream stops while its API server still answers.
  after(() => upstream?.stop());
  const own = useOwnStack(async (own) => {
    await installArcaneCrds(own.admin);
    await installTestPluginClasses(own.admin);
    const common = { ...own.operatorEnv('arcane-takeover'), ARCANE_LOG_LEVEL: 'debug' };
    worker = own.process('worker', common);
    // The recheck interval the settled window of tests/e2e/workflow.ts is derived from.
    watcher = own.process('watcher', { ...common, ARCANE_LIFECYCLE_RECHECK: `${RECHECK_MS / 1_000}s` });
  });
  const streamClasses = () => PLUGINS.map((plugin) => plugin.kind.streamClass);
  const allStreams = () => scenes.flatMap((scene) => Object.values(scene.streams));
  /** This operator settled: every stream's workflow waits for input and nothing happens for a window. */
  const oursSettled = () =>
    Promise.all(
      allStreams().map((stream) =>
        waitForSettled({ temporal: own.temporal, worker }, stream, {}, { timeoutMs: 120_000 }),
      ),
    );

  it(
    'upstream brings streams to Running with their backfills done, holds one backfill open, keeps one suspended',
    { timeout: STEP_TIMEOUT },
    own.step(async () => {
      for (const plugin of PLUGINS) {
        const namespace = await Cluster.createNamespace(own.admin, `takeover-${plugin.name}`);
        await applyYaml(own.admin, plugin.files.namespacedFiles, namespace);
        const cluster = new Cluster(own.admin, namespace);
        await cluster.copyTemplate(plugin.backfillTemplate, HELD_TEMPLATE, (job) => {
          job.spec.template.spec.schedulingGates = [{ name: 'arcane.test/held' }];
        });
        const create = (name: Name, options = {}) => cluster.createPluginStream(plugin, name, options);
        const streams: Record<Name, Stream> = {
          orders: await create('orders'),
          payments: await create('payments'),
          refunds: await create('refunds'),
          history: await create(HELD, { backfillTemplate: HELD_TEMPLATE }),
          archive: await create(SUSPENDED, { suspended: true }),
        };
        // Upstream resolves a layout-v1 template reference in the namespace it names, with no default (a reference
        // without one reads "/<name>" and fails); production streams name it, so these do too.
        if (plugin.layout.name === 'v1') {
          for (const stream of Object.values(streams)) await cluster.patchSpec(stream, namespacedRefs(namespace));
        }
        scenes.push({ plugin, cluster, streams });
      }
      upstream = await startUpstreamFor(own.stack, own.admin, streamClasses());
      try {
        for (const scene of scenes) {
          const { cluster, streams } = scene;
          for (const name of RUNNING) {
            await cluster.waitForPhase(streams[name], 'Running', 120_000);
            await waitForJobAndRequest(scene, name, (job) => isStreaming(job) && isRunning(job), true);
          }
          await cluster.waitForPhase(streams[HELD], 'Backfilling', 120_000);
          await waitForJobAndRequest(scene, HELD, isBackfill, false);
          await cluster.waitForPhase(streams[SUSPENDED], 'Suspended', 60_000);
        }
        await upstream.settled(allStreams().length);
      } finally {
        await upstream.stop();
        upstream = undefined;
      }

      for (const scene of scenes) {
        const before = await snapshot(scene);
        scene.beforeTakeOver = before;
        assert.deepEqual(Object.keys(before.jobs).sort(), [HELD, ...RUNNING].sort());
        assert.equal(Object.keys(before.requests).length, RUNNING.length + 1);
        assert.ok(Object.values(before.jobs).every((job) => !job.deleting));
      }
    }),
  );

  it(
    'this operator takes over: every Job adopted in place, no backfill rerun, no request duplicated, phases kept',
    { timeout: STEP_TIMEOUT },
    own.step(async (t: TestContext) => {
      const logs = await Promise.all(scenes.map((scene) => JobLog.start(t, own.admin, scene.cluster.namespace)));
      await worker.start();
      await watcher.start();
      // Adoption shows on the Job: this operator puts its outcome finalizer on every Job it takes charge of.
      for (const { cluster } of scenes) {
        await waitFor(
          `${cluster.namespace}: every Job adopted (finalizer ${OUTCOME_FINALIZER})`,
          async () => {
            const jobs = await cluster.jobs();
            return jobs.length > 0 && jobs.every((job) => job.metadata?.finalizers?.includes(OUTCOME_FINALIZER));
          },
          { timeoutMs: 120_000 },
        );
      }
      await oursSettled();

      for (const [index, scene] of scenes.entries()) {
        const before = taken(scene.beforeTakeOver);
        const now = await snapshot(scene);
        assert.deepEqual(now.phases, before.phases, `${scene.plugin.name}: phases kept`);
        assert.deepEqual(now.requests, before.requests, `${scene.plugin.name}: requests neither added nor completed`);
        assert.deepEqual(now.jobs, before.jobs, `${scene.plugin.name}: the same Jobs (uids and hashes)`);
        // What the take-over changed in the stored status, for the notes (this operator writes its own condition).
        for (const name of NAMES) {
          const [was, is] = [before.statuses[name], now.statuses[name]];
          if (was !== is) t.diagnostic(`${scene.plugin.name}/${name} status: ${was} -> ${is}`);
        }
        // The Job log also counts Jobs created and gone again meanwhile (it reads the API server's audit log).
        const log = logs[index];
        assert.ok(log);
        await assertNoJobCreated(scene, log, before);
      }
      const jobs = scenes.length * (RUNNING.length + 1);
      t.diagnostic(`take-over: ${allStreams().length} streams, ${jobs} Jobs kept, ${jobs} requests unchanged`);
    }),
  );

  it(
    'this operator finishes the held backfill, then handles a spec change and a suspend',
    { timeout: STEP_TIMEOUT },
    own.step(async () => {
      for (const scene of scenes) {
        const { plugin, cluster, streams } = scene;
        const before = taken(scene.beforeTakeOver);
        await cluster.releasePods(HELD);
        await cluster.waitForPhase(streams[HELD], 'Running', 120_000);
        await waitForJobAndRequest(scene, HELD, (job) => isStreaming(job) && isRunning(job), true);

        await cluster.patchSpec(streams.orders, plugin.change('after-take-over'));
        await cluster.patchSpec(streams.payments, plugin.layout.suspend(true));
        await waitFor(
          `${cluster.namespace}/orders: a new streaming Job for the new spec`,
          async () => {
            const job = await cluster.job('orders');
            const hash = job?.metadata?.annotations?.[CONFIGURATION_HASH_ANNOTATION];
            const replaced = job?.metadata?.uid !== before.jobs.orders?.uid && hash !== before.jobs.orders?.hash;
            return replaced && isStreaming(job) && isRunning(job);
          },
          { timeoutMs: 120_000 },
        );
        await cluster.waitForPhase(streams.orders, 'Running');
        await cluster.waitForPhase(streams.payments, 'Suspended', 120_000);
        await waitFor(`${cluster.namespace}/payments: its Job gone`, async () => !(await cluster.job('payments')));
      }
      await oursSettled();
      for (const scene of scenes) {
        const now = await snapshot(scene);
        scene.beforeRollback = now;
        // Nothing else moved: the third running stream keeps its Job, and no request was added.
        assert.equal(now.jobs.refunds?.uid, taken(scene.beforeTakeOver).jobs.refunds?.uid);
        assert.equal(Object.keys(now.requests).length, RUNNING.length + 1);
      }
    }),
  );

  it(
    'rollback: upstream takes back over without restarting a Job',
    { timeout: STEP_TIMEOUT },
    own.step(async (t: TestContext) => {
      await watcher.stop();
      await worker.stop();
      const logs = await Promise.all(scenes.map((scene) => JobLog.start(t, own.admin, scene.cluster.namespace)));
      upstream = await startUpstreamFor(own.stack, own.admin, streamClasses());
      await upstream.settled(allStreams().length);
      let jobs = 0;
      for (const [index, scene] of scenes.entries()) {
        const before = taken(scene.beforeRollback);
        assert.deepEqual(await snapshot(scene), before, `${scene.plugin.name}: Jobs, requests, phases kept`);
        const log = logs[index];
        assert.ok(log);
        await assertNoJobCreated(scene, log, before);
        jobs += Object.keys(before.jobs).length;
      }
      t.diagnostic(`rollback: ${allStreams().length} streams, ${jobs} Jobs kept`);
    }),
  );

  it(
    'rollback: a Job upstream deletes keeps the outcome finalizer until the README command clears it',
    { timeout: STEP_TIMEOUT },
    own.step(async (t: TestContext) => {
      assert.ok(upstream, 'upstream runs after the rollback');
      for (const { plugin, cluster, streams } of scenes) {
        const kept = await cluster.job('refunds');
        await cluster.patchSpec(streams.refunds, plugin.layout.suspend(true));
        await cluster.waitForPhase(streams.refunds, 'Suspended', 60_000);
        // Upstream deletes in the foreground: the garbage collector removes the pods and its own finalizer; then only
        // this operator's finalizer holds the Job, and nothing upstream runs removes it.
        const held = await waitFor(
          `${cluster.namespace}/refunds: held only by the outcome finalizer`,
          async () => {
            const job = await cluster.job('refunds');
            const finalizers = job?.metadata?.finalizers ?? [];
            const onlyOurs = finalizers.length === 1 && finalizers[0] === OUTCOME_FINALIZER;
            return job?.metadata?.deletionTimestamp && onlyOurs && job;
          },
          { timeoutMs: 60_000 },
        );
        assert.equal(held.metadata?.uid, kept?.metadata?.uid);

        // Resumed, upstream finds a Job of that name with the right hash and calls the stream Running, though the Job
        // is being deleted and runs nothing.
        await cluster.patchSpec(streams.refunds, plugin.layout.suspend(false));
        await cluster.waitForPhase(streams.refunds, 'Running', 60_000);
        const stuck = await cluster.job('refunds');
        assert.equal(stuck?.metadata?.uid, kept?.metadata?.uid);
        assert.ok(stuck?.metadata?.deletionTimestamp, 'the Job upstream counts as running is still being deleted');
      }

      const output = await runReadmeCommand(own.stack, readmeFinalizerCommand());
      t.diagnostic(`README command output:\n${output}`);
      for (const { cluster } of scenes) {
        await waitFor(`${cluster.namespace}: no Job carries ${OUTCOME_FINALIZER}`, async () =>
          (await cluster.jobs()).every((job) => !job.metadata?.finalizers?.includes(OUTCOME_FINALIZER)),
        );
        // The held Job is gone, and upstream starts the stream's Job afresh.
        await waitFor(
          `${cluster.namespace}/refunds: a new running streaming Job from upstream`,
          async () => {
            const job = await cluster.job('refunds');
            return !job?.metadata?.deletionTimestamp && isStreaming(job) && isRunning(job);
          },
          { timeoutMs: 60_000 },
        );
      }
      await upstream.stop();
      upstream = undefined;
    }),
  );
});
