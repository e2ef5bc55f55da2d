// Every Job that ever existed in a namespace, with where its creation and deletion fall among all writes. Jobs come
// and go within milliseconds (a backfill Job completes at once on the fake node), so a list cannot see them; a watch
// sees them come and go but loses its place when the API server forgets the position it would resume from (410 Gone,
// e.g. after an API server restart). The API server's audit log of Job creations (stack/job-audit.ts) has no such gap:
// after a lost place the log lists again and takes what happened meanwhile from there.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BatchV1Api, Watch, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { BACKFILLING_LABEL } from '../../resources/job-metadata.ts';
import { jobAuditLog } from '../../stack/job-audit.ts';
import { waitFor } from '../../stack/wait.ts';

export interface LoggedJob {
  uid: string;
  name: string;
  backfilling: boolean;
  /** The Job as it was created. */
  job: V1Job;
  /**
   * Where its creation and (once known) its deletion fall among all writes: resourceVersions, which on the local stack
   * are etcd revisions, one counter for every write. A deletion the watch missed (in a gap) gets the position of the
   * list that found the Job gone, so it may be later than the deletion was, never earlier.
   */
  createdAt: number;
  deletedAt?: number;
}

const position = (job: V1Job): number => Number(job.metadata?.resourceVersion ?? 0);
const uidOf = (job: V1Job): string => job.metadata?.uid ?? '';

export class JobLog {
  private readonly jobs = new Map<string, LoggedJob>();
  private readonly batch: BatchV1Api;
  private readonly kubeConfig: KubeConfig;
  private readonly namespace: string;
  private readonly creations: JobCreations;
  /** Jobs created up to here and gone when the log started are not logged. */
  private since = 0;
  private stopped = false;
  private watch: AbortController | undefined;
  private running: Promise<void> = Promise.resolve();
  /** While set, the watch stays stopped (see `interrupt`) until `openGate`; `parked` tells that it has stopped. */
  private gate: Promise<void> | undefined;
  private openGate = () => undefined as void;
  private parked = false;
  private relisted = 0;

  private constructor(kubeConfig: KubeConfig, namespace: string, creations: JobCreations) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.creations = creations;
  }

  /** Starts logging the namespace's Jobs (those already there included) until the test ends. */
  static async start(t: TestContext, kubeConfig: KubeConfig, namespace: string): Promise<JobLog> {
    const server = kubeConfig.getCurrentCluster()?.server ?? '';
    const auditLog = jobAuditLog(server);
    if (auditLog === undefined) {
      throw new Error(`no audit log of Job creations for the API server at ${server}: start it with stack/index.ts`);
    }
    const batch = kubeConfig.makeApiClient(BatchV1Api);
    const log = new JobLog(kubeConfig, namespace, new JobCreations(auditLog, namespace, batch));
    const list = await batch.listNamespacedJob({ namespace });
    log.since = Number(list.metadata?.resourceVersion ?? 0);
    const created = new Map((await log.creations.read()).map((job) => [uidOf(job), job]));
    // Created before the log started, so only the audit log knows when.
    for (const job of list.items) log.created(created.get(uidOf(job)) ?? job);
    log.running = log.follow(list.metadata?.resourceVersion ?? '');
    t.after(() => log.stop());
    return log;
  }

  /**
   * Jobs named `name` in order of creation, once the log has seen every one the audit log shows created so far (the
   * watch may trail).
   */
  async of(name: string): Promise<LoggedJob[]> {
    const created = (await this.creations.read()).filter(
      (job) => job.metadata?.name === name && position(job) > this.since,
    );
    await waitFor(
      `the Job log to see the ${created.length} Jobs named ${name} created so far`,
      () => created.every((job) => this.jobs.has(uidOf(job))),
      { timeoutMs: 10_000 },
    );
    return [...this.jobs.values()].filter((job) => job.name === name).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** How often the watch could not resume where it was (410 Gone) and the log listed again instead. */
  get relists(): number {
    return this.relisted;
  }

  /**
   * Stops the watch while `during` runs, as a dropped connection would, then lets it resume from the position it had.
   * For tests of the log itself: what happens meanwhile is the gap it must still account for.
   */
  async interrupt(during: () => Promise<void>): Promise<void> {
    this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    try {
      await waitFor('the Job log to stop watching', () => {
        this.watch?.abort();
        return this.parked;
      });
      await during();
    } finally {
      this.reopen();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reopen();
    this.watch?.abort();
    await this.running;
  }

  private reopen(): void {
    this.gate = undefined;
    this.openGate();
  }

  private created(job: V1Job): void {
    const uid = uidOf(job);
    if (this.jobs.has(uid)) return;
    const name = job.metadata?.name ?? '';
    const backfilling = job.metadata?.labels?.[BACKFILLING_LABEL] === 'true';
    this.jobs.set(uid, { uid, name, backfilling, job, createdAt: position(job) });
  }

  private deleted(uid: string, at: number): void {
    const logged = this.jobs.get(uid);
    if (logged && logged.deletedAt === undefined) logged.deletedAt = at;
  }

  /** Watches from `from`, resumes where it left off when a watch ends, and recovers when that place is gone. */
  private async follow(from: string): Promise<void> {
    let resumeAt = from;
    while (!this.stopped) {
      if (this.gate) {
        this.parked = true;
        await this.gate;
        this.parked = false;
        continue;
      }
      const gone = await this.watchFrom(resumeAt, (at) => (resumeAt = at));
      if (this.stopped) break;
      if (gone) {
        resumeAt = await this.recover().catch(() => resumeAt);
      } else if (!this.gate) {
        await delay(200); // the API server may be restarting: do not spin
      }
    }
  }

  /** One watch from `from`, until it ends; true when the API server no longer has that position (410 Gone). */
  private watchFrom(from: string, moved: (at: string) => void): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let gone = false;
      const onEvent = (type: string, object: V1Job & { code?: number }) => {
        if (type === 'ERROR') {
          gone ||= object.code === 410;
          return;
        }
        moved(object.metadata?.resourceVersion ?? from);
        if (type === 'ADDED') this.created(object);
        if (type === 'DELETED') this.deleted(uidOf(object), position(object));
      };
      const ended = (error: unknown) => resolve(gone || (error as { statusCode?: number } | null)?.statusCode === 410);
      new Watch(this.kubeConfig)
        .watch(
          `/apis/batch/v1/namespaces/${this.namespace}/jobs`,
          { resourceVersion: from, allowWatchBookmarks: true },
          onEvent,
          ended,
        )
        .then((controller) => (this.watch = controller), ended);
    });
  }

  /**
   * After the watch lost its place: a fresh list shows which Jobs went meanwhile, and the audit log which came (also
   * those that came and went again). Returns the position to watch from.
   */
  private async recover(): Promise<string> {
    const list = await this.batch.listNamespacedJob({ namespace: this.namespace });
    const listedAt = Number(list.metadata?.resourceVersion ?? 0);
    const listed = new Set(list.items.map(uidOf));
    for (const job of await this.creations.read()) {
      // Later ones the watch from the list's position will see.
      if (position(job) > this.since && position(job) <= listedAt) this.created(job);
    }
    for (const logged of this.jobs.values()) if (!listed.has(logged.uid)) this.deleted(logged.uid, listedAt);
    this.relisted++;
    return list.metadata?.resourceVersion ?? '';
  }
}

interface AuditEvent {
  verb?: string;
  stage?: string;
  requestURI?: string;
  objectRef?: { resource?: string; namespace?: string };
  responseStatus?: { code?: number };
  responseObject?: V1Job;
}

/** The Job creations of one namespace that the API server's audit log records. */
class JobCreations {
  private readonly path: string;
  private readonly namespace: string;
  private readonly batch: BatchV1Api;
  /** The successful creations read so far (dry runs included), and where reading goes on. */
  private readonly entries: AuditEvent[] = [];
  private offset = 0;

  constructor(path: string, namespace: string, batch: BatchV1Api) {
    this.path = path;
    this.namespace = namespace;
    this.batch = batch;
  }

  /**
   * Every Job created in the namespace, as created, up to the moment of the call: the API server writes an entry just
   * after it answers, so this makes one more request (a dry run, which creates nothing) and reads until its entry shows.
   */
  async read(): Promise<V1Job[]> {
    const barrier = `job-log-barrier-${randomBytes(4).toString('hex')}`;
    const body: V1Job = {
      metadata: { name: barrier },
      spec: {
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'barrier', image: 'busybox:1.37' }] } },
      },
    };
    await this.batch.createNamespacedJob({ namespace: this.namespace, body, dryRun: 'All' });
    const dryRun = (entry: AuditEvent) => entry.requestURI?.includes('dryRun=') ?? false;
    await waitFor(
      `the audit log (${this.path}) to record Job ${barrier}, a dry run made after every creation so far`,
      () => this.readMore().some((entry) => dryRun(entry) && entry.responseObject?.metadata?.name === barrier),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    return this.entries.filter((entry) => !dryRun(entry)).map((entry) => entry.responseObject as V1Job);
  }

  /** Reads the entries the API server appended since the last call (whole lines only). */
  private readMore(): AuditEvent[] {
    const file = openSync(this.path, 'r');
    try {
      const appended = Buffer.alloc(Math.max(0, fstatSync(file).size - this.offset));
      readSync(file, appended, 0, appended.length, this.offset);
      const complete = appended.subarray(0, appended.lastIndexOf('\n') + 1);
      this.offset += complete.length;
      for (const line of complete.toString('utf8').split('\n')) {
        if (line === '') continue;
        const entry = JSON.parse(line) as AuditEvent;
        if (this.isCreation(entry)) this.entries.push(entry);
      }
      return this.entries;
    } finally {
      closeSync(file);
    }
  }

  private isCreation(entry: AuditEvent): boolean {
    return (
      entry.verb === 'create' &&
      entry.stage === 'ResponseComplete' &&
      entry.objectRef?.resource === 'jobs' &&
      entry.objectRef.namespace === this.namespace &&
      (entry.responseStatus?.code ?? 0) < 300 &&
      entry.responseObject?.metadata?.name !== undefined
    );
  }
}
