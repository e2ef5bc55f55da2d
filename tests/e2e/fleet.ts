// Many streams at once, for the fault tests: create them, change them, wait until every one has converged, and check
// that nothing was lost (each runs on its current spec) and nothing duplicated (one Job, one BackfillRequest each, and
// no Job created more often than the changes required).
import assert from 'node:assert/strict';
import type { V1Job } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { configurationHash } from '../../resources/configuration-hash.ts';
import { waitFor } from '../../stack/wait.ts';
import { TEST, type TestPlugin } from '../fixtures/plugins.ts';
import type { Cluster, Stream, StreamObject } from './cluster.ts';
import type { JobLog } from './job-log.ts';
import { waitForCompletion, waitForState } from './workflow.ts';

export function streamNames(count: number, prefix = 'stream'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
}

/** Streams of the plugin (the project's test plugin unless said otherwise), all created at once. */
export async function createStreams(
  cluster: Cluster,
  names: readonly string[],
  plugin: TestPlugin = TEST,
): Promise<Stream[]> {
  return Promise.all(names.map((name) => cluster.createPluginStream(plugin, name)));
}

/** A spec change for each stream, derived from `value` and its name: a new configuration hash. */
export async function changeStreams(
  cluster: Cluster,
  streams: readonly Stream[],
  value: string,
  plugin: TestPlugin = TEST,
): Promise<void> {
  await Promise.all(streams.map((stream) => cluster.patchSpec(stream, plugin.change(`${value}/${stream.name}`))));
}

/** The stored objects of `streams`, listed once per kind. */
async function objectsOf(cluster: Cluster, streams: readonly Stream[]): Promise<StreamObject[]> {
  const kinds = [...new Set(streams.map((stream) => stream.kind))];
  return (await Promise.all(kinds.map((kind) => cluster.streams(kind)))).flat();
}

/** Why the stream has not converged to `phase` on its current spec (with its Job, when Running), or undefined. */
function divergence(stream: StreamObject | undefined, job: V1Job | undefined, phase: string): string | undefined {
  if (!stream) return 'gone';
  const hash = configurationHash(stream.spec);
  const status = stream.status;
  if (status?.phase !== phase) return `phase ${status?.phase ?? 'none'}`;
  if (status.configurationHash !== hash) return `status hash ${status.configurationHash} is not ${hash}`;
  if (phase !== 'Running') return job === undefined ? undefined : `a Job exists in phase ${phase}`;
  if (job?.metadata?.labels?.['arcane/backfilling'] !== 'false') return 'no streaming Job';
  const jobHash = job.metadata.annotations?.['configuration-hash'];
  return jobHash === hash ? undefined : `Job hash ${jobHash ?? 'none'} is not ${hash}`;
}

/** Waits until every stream is in `phase` on its current spec: status hash and (when Running) its streaming Job. */
export async function waitForConvergence(
  cluster: Cluster,
  streams: readonly Stream[],
  { phase = 'Running', timeoutMs = 120_000 }: { phase?: string; timeoutMs?: number } = {},
): Promise<void> {
  let behind: string[] = [];
  try {
    await waitFor(
      `${streams.length} streams ${phase} on their current spec`,
      async () => {
        const [objects, jobs] = await Promise.all([objectsOf(cluster, streams), cluster.jobs()]);
        behind = streams.flatMap((stream) => {
          const object = objects.find((o) => o.metadata.name === stream.name);
          const job = jobs.find((j) => j.metadata?.name === stream.name);
          const why = divergence(object, job, phase);
          return why === undefined ? [] : [`${stream.name}: ${why}`];
        });
        return behind.length === 0;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; not converged: ${behind.slice(0, 10).join('; ')}`, { cause: error });
  }
}

/** Waits until each stream has started streaming (its StreamStarted Event) and its streaming pod is ready. */
export async function waitForStreamingPods(cluster: Cluster, streams: readonly Stream[]): Promise<void> {
  for (const stream of streams) {
    await cluster.waitForEvent(stream, 'StreamStarted');
    await waitFor(
      `${stream.name}: the streaming pod ready`,
      async () => (await cluster.job(stream.name))?.status?.ready === 1,
    );
  }
}

/**
 * Waits until each stream's workflow says what Kubernetes shows once converged: the phase, the status hash, the Job
 * (none unless Running) and no open BackfillRequest.
 */
export async function waitForWorkflowsAgree(
  temporal: Client,
  cluster: Cluster,
  streams: readonly Stream[],
  phase = 'Running',
): Promise<void> {
  const [objects, jobs] = await Promise.all([objectsOf(cluster, streams), cluster.jobs()]);
  await Promise.all(
    streams.map((stream) => {
      const hash = objects.find((object) => object.metadata.name === stream.name)?.status?.configurationHash;
      const job = jobs.find((candidate) => candidate.metadata?.name === stream.name)?.metadata?.uid;
      return waitForState(
        temporal,
        stream,
        `${phase} on ${hash} with Job ${job ?? 'none'} and no open request`,
        (state) =>
          state.phase === phase &&
          state.configurationHash === hash &&
          state.job?.uid === job &&
          state.openBackfillRequests.length === 0,
      );
    }),
  );
}

/**
 * Nothing duplicated: one Job per running stream and no other, one completed BackfillRequest per stream, one backfill
 * Job per stream and `streamingJobs` streaming Jobs created per stream over the whole test.
 */
export async function assertNothingDuplicated(
  cluster: Cluster,
  log: JobLog,
  expected: { streams: readonly Stream[]; streamingJobs: (stream: Stream) => number; running?: readonly Stream[] },
): Promise<void> {
  const running = (expected.running ?? expected.streams).map((stream) => stream.name).sort();
  const jobs = (await cluster.jobs()).map((job) => job.metadata?.name ?? '').sort();
  assert.deepEqual(jobs, running, 'exactly one Job per running stream');
  const requests = await cluster.backfillRequests();
  for (const stream of expected.streams) {
    const own = requests.filter((request) => request.spec.streamId === stream.name);
    assert.deepEqual(
      own.map((request) => request.spec.completed),
      [true],
      `${stream.name}: exactly one BackfillRequest, completed`,
    );
    const created = await log.of(stream.name);
    const backfills = created.filter((job) => job.backfilling).length;
    assert.equal(backfills, 1, `${stream.name}: one backfill Job`);
    assert.equal(created.length - backfills, expected.streamingJobs(stream), `${stream.name}: streaming Jobs created`);
  }
}

/**
 * The changes a fault test makes around its fault, one stream per role: changed just before the fault (racing it),
 * changed, suspended and deleted while it lasts, one left alone, and one created while it lasts. Afterwards every
 * stream must have converged with nothing lost and nothing duplicated.
 */
type Role = 'changedBefore' | 'changedDuring' | 'suspended' | 'deleted' | 'untouched';

export class FaultDrill {
  private readonly cluster: Cluster;
  private readonly log: JobLog;
  private readonly roles: Record<Role, Stream>;
  private readonly plugin: TestPlugin;
  private readonly untouchedJob: string | undefined;
  private created: Stream | undefined;

  private constructor(
    cluster: Cluster,
    log: JobLog,
    plugin: TestPlugin,
    roles: Record<Role, Stream>,
    untouchedJob: string | undefined,
  ) {
    this.cluster = cluster;
    this.log = log;
    this.plugin = plugin;
    this.roles = roles;
    this.untouchedJob = untouchedJob;
  }

  /** Five running streams of the plugin (the project's test plugin unless said otherwise). */
  static async prepare(cluster: Cluster, log: JobLog, plugin: TestPlugin = TEST): Promise<FaultDrill> {
    const create = (name: string) => cluster.createPluginStream(plugin, name);
    const roles = {
      changedBefore: await create('before'),
      changedDuring: await create('during'),
      suspended: await create('suspended'),
      deleted: await create('deleted'),
      untouched: await create('untouched'),
    };
    await waitForConvergence(cluster, Object.values(roles));
    return new FaultDrill(cluster, log, plugin, roles, (await cluster.job('untouched'))?.metadata?.uid);
  }

  /** The streams there before the fault whose workflows must go on running. */
  get lasting(): Stream[] {
    const { changedBefore, changedDuring, suspended, untouched } = this.roles;
    return [changedBefore, changedDuring, suspended, untouched];
  }

  async changeBefore(): Promise<void> {
    await this.cluster.patchSpec(this.roles.changedBefore, this.plugin.change('changed-before'));
  }

  async changeDuring(): Promise<void> {
    const { changedDuring, suspended, deleted } = this.roles;
    await this.cluster.patchSpec(changedDuring, this.plugin.change('changed-during'));
    await this.cluster.patchSpec(suspended, this.plugin.layout.suspend(true));
    await this.cluster.deleteStream(deleted);
    this.created = await this.cluster.createPluginStream(this.plugin, 'created');
  }

  /**
   * Everything converged: running streams on their current spec, the suspended one stopped, the deleted one gone.
   * `timeoutMs` bounds the wait for convergence (see waitForConvergence).
   */
  async assertRecovered(temporal: Client, { timeoutMs }: { timeoutMs?: number } = {}): Promise<void> {
    const { changedBefore, changedDuring, suspended, deleted, untouched } = this.roles;
    const created = this.created;
    assert.ok(created, 'changeDuring() ran');
    const running = [changedBefore, changedDuring, untouched, created];
    await waitForConvergence(this.cluster, running, { timeoutMs });
    await waitForConvergence(this.cluster, [suspended], { phase: 'Suspended', timeoutMs });
    await waitForWorkflowsAgree(temporal, this.cluster, running);
    await waitForWorkflowsAgree(temporal, this.cluster, [suspended], 'Suspended');
    assert.equal((await waitForCompletion(temporal, deleted)).ended, 'deleted', 'the deleted stream has no workflow');
    await assertNothingDuplicated(this.cluster, this.log, {
      streams: [...running, suspended],
      running,
      streamingJobs: (stream) => (stream === changedBefore || stream === changedDuring ? 2 : 1),
    });
    const untouchedJob = (await this.cluster.job(untouched.name))?.metadata?.uid;
    assert.equal(untouchedJob, this.untouchedJob, 'the stream nobody changed kept its Job');
  }
}
