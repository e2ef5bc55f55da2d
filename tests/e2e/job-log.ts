// Every Job that ever existed in a namespace, in the order the API server reported creations and deletions: Jobs
// come and go within milliseconds (a backfill Job completes at once on the fake node), so only a watch sees them all,
// and only a watch shows duplicates that were deleted again.
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BatchV1Api, Watch, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { BACKFILLING_LABEL } from '../../resources/job-metadata.ts';
import { waitFor } from '../../stack/wait.ts';

export interface LoggedJob {
  uid: string;
  name: string;
  backfilling: boolean;
  job: V1Job;
  /** Position of its creation and (once seen) its deletion among all events of the log. */
  createdAt: number;
  deletedAt?: number;
}

export class JobLog {
  private readonly jobs = new Map<string, LoggedJob>();
  private sequence = 0;
  private stopped = false;
  private watch: AbortController | undefined;
  private readonly running: Promise<void>;
  private readonly kubeConfig: KubeConfig;
  private readonly namespace: string;

  private constructor(kubeConfig: KubeConfig, namespace: string, resourceVersion: string) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
    this.running = this.follow(resourceVersion);
  }

  /** Starts logging the namespace's Jobs (those already there included) until the test ends. */
  static async start(t: TestContext, kubeConfig: KubeConfig, namespace: string): Promise<JobLog> {
    const list = await kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
    const log = new JobLog(kubeConfig, namespace, list.metadata?.resourceVersion ?? '');
    for (const job of list.items) log.created(job);
    t.after(() => log.stop());
    return log;
  }

  /**
   * Jobs named `name` in order of creation, once the log has seen the Job of that name the API server shows now (the
   * watch may trail a read).
   */
  async of(name: string): Promise<LoggedJob[]> {
    const batch = this.kubeConfig.makeApiClient(BatchV1Api);
    const list = await batch.listNamespacedJob({ namespace: this.namespace, fieldSelector: `metadata.name=${name}` });
    const uid = list.items[0]?.metadata?.uid;
    if (uid !== undefined) {
      await waitFor(`the Job log to see Job ${name} (uid ${uid})`, () => this.jobs.has(uid), { timeoutMs: 10_000 });
    }
    return [...this.jobs.values()].filter((job) => job.name === name).sort((a, b) => a.createdAt - b.createdAt);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.abort();
    await this.running;
  }

  private created(job: V1Job): void {
    const uid = job.metadata?.uid ?? '';
    if (this.jobs.has(uid)) return;
    this.jobs.set(uid, {
      uid,
      name: job.metadata?.name ?? '',
      backfilling: job.metadata?.labels?.[BACKFILLING_LABEL] === 'true',
      job,
      createdAt: ++this.sequence,
    });
  }

  private deleted(job: V1Job): void {
    const logged = this.jobs.get(job.metadata?.uid ?? '');
    if (logged && logged.deletedAt === undefined) logged.deletedAt = ++this.sequence;
  }

  /**
   * Watches from `resourceVersion` and resumes where it left off when the watch ends (e.g. an API server restart). A
   * watch without a resourceVersion starts with every existing Job, so a lost position costs nothing but deletions.
   */
  private async follow(resourceVersion: string): Promise<void> {
    let from: string | undefined = resourceVersion;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const onEvent = (type: string, job: V1Job) => {
          if (type === 'ERROR') {
            from = undefined; // the position is too old (410 Gone)
            return;
          }
          from = job.metadata?.resourceVersion ?? from;
          if (type === 'ADDED') this.created(job);
          if (type === 'DELETED') this.deleted(job);
        };
        new Watch(this.kubeConfig)
          .watch(
            `/apis/batch/v1/namespaces/${this.namespace}/jobs`,
            { resourceVersion: from, allowWatchBookmarks: true },
            onEvent,
            () => resolve(),
          )
          .then(
            (controller) => (this.watch = controller),
            () => resolve(),
          );
      });
      if (!this.stopped) await delay(200); // the API server may be restarting: do not spin
    }
  }
}
