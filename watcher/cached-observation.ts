// A stream's observation read from the watcher's informer caches: what observing a stream reads for its workflow
// (activities/observe.ts), with no API call, so that a resync can tell which streams are at rest. A read the caches
// cannot answer fails the observation, and that stream gets its resync as before.
import { ApiException, BatchV1Api } from '../kubernetes/client-node.ts';
import type { Logger } from 'pino';
import { KubernetesApiError, type ApiCall } from '../activities/errors.ts';
import { customResource, type KubernetesApi } from '../activities/kubernetes.ts';
import { observeStream } from '../activities/observe.ts';
import { versionKeyOf } from '../activities/versioned-reads.ts';
import type { SupervisedInformer, WatchedObject } from '../kubernetes/informer.ts';
import { ARCANE_GROUP, BACKFILL_REQUESTS } from '../resources/api-group.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { versionKey, type ObjectVersions, type Observation } from '../workflows/lifecycle.ts';
import type { KubernetesClients } from './kubernetes-client.ts';
import { versionAt } from './runtime/signals.ts';
import type { StreamSource } from './stream-source.ts';

/** The caches an observation reads besides the stream's own source. */
export interface ObservationCaches {
  clients: KubernetesClients;
  log: Logger;
  classes: SupervisedInformer;
  jobs: SupervisedInformer;
  cronJobs: SupervisedInformer;
  templates: SupervisedInformer;
  requests: SupervisedInformer;
}

/** Observes one stream of `source` from the caches; rejects when they cannot answer a read. */
export type StreamObserver = (source: StreamSource, stream: StreamKey) => Promise<Observation>;

const requestsResource = customResource(ARCANE_GROUP, BACKFILL_REQUESTS.plural);

function requestKey(namespace: string | undefined, streamId: unknown): string {
  return `${namespace ?? ''}/${typeof streamId === 'string' ? streamId : ''}`;
}

/** The cached requests by namespace and stream id, so that each stream's lookup is not a pass over all of them. */
function requestsByStream(requests: SupervisedInformer): Map<string, WatchedObject[]> {
  const grouped = new Map<string, WatchedObject[]>();
  for (const request of requests.list()) {
    const key = requestKey(request.metadata?.namespace, (request.spec as { streamId?: unknown } | undefined)?.streamId);
    const same = grouped.get(key);
    if (same) same.push(request);
    else grouped.set(key, [request]);
  }
  return grouped;
}

/** What the API server answers for an object that does not exist, which observing reads as "absent". */
function notFound(call: ApiCall): KubernetesApiError {
  const status = { kind: 'Status', code: 404, reason: 'NotFound', message: 'not in the watcher cache' };
  return new KubernetesApiError(call, new ApiException(404, 'Not Found', status, {}));
}

export class CachedObservations {
  private readonly caches: ObservationCaches;
  /** Only there for the KubernetesApi type: reads are answered by the caches, and nothing is ever sent. */
  private readonly batch: BatchV1Api;
  /** The cache of each kind of object named by one key in an observation's versions. */
  private readonly byKey: Record<string, SupervisedInformer | undefined>;

  constructor(caches: ObservationCaches) {
    this.caches = caches;
    this.byKey = {
      [versionKey.streamClass]: caches.classes,
      [versionKey.job]: caches.jobs,
      [versionKey.cronJob]: caches.cronJobs,
    };
    this.batch = caches.clients.kubeConfig.makeApiClient(BatchV1Api);
  }

  /** Every cache an observation reads has listed: a cache that has not cannot show that something is absent. */
  listed(): boolean {
    const { classes, jobs, cronJobs, templates, requests } = this.caches;
    return [classes, jobs, cronJobs, templates, requests].every((informer) => informer.synced);
  }

  /**
   * The versions of the stream's Job and CronJob as the caches show them, so that an observation at least this new
   * shows them as the watcher does, or newer: each one's own version, and for a Job the cache has not, the version the
   * cache is at (it shows the absence as of then: a Job gone while no watch saw it must not be read as running). A
   * missing CronJob requires nothing: CronJobs change rarely, so a worker's CronJob cache would rarely be that new and
   * every observation would wait for it, and a CronJob wrongly read as present is deleted or replaced by an action
   * that then finds it gone.
   */
  workloadVersions(stream: StreamKey): ObjectVersions {
    const { jobs, cronJobs } = this.caches;
    const { namespace, name } = stream;
    const job = jobs.get(namespace, name)?.metadata?.resourceVersion ?? jobs.newestVersion;
    const cronJob = cronJobs.get(namespace, name)?.metadata?.resourceVersion;
    return { ...versionAt(versionKey.job, job), ...versionAt(versionKey.cronJob, cronJob) };
  }

  /** An observer for one pass over many streams, or undefined while a cache has not listed yet. */
  observer(): StreamObserver | undefined {
    const { requests, log } = this.caches;
    if (!this.listed()) return undefined;
    const grouped = requestsByStream(requests);
    return (source, stream) => {
      const kube = this.api((call) => this.answer(call, source, stream, grouped));
      return observeStream({ kube, log, occurrence: '' }, stream);
    };
  }

  /** The cached object a read asks for, null when the cache knows there is none, undefined when it cannot say. */
  private answer(
    call: ApiCall,
    source: StreamSource,
    stream: StreamKey,
    grouped: Map<string, WatchedObject[]>,
  ): WatchedObject | { items: WatchedObject[] } | null | undefined {
    if (call.verb === 'list' && call.resource === requestsResource) {
      return { items: grouped.get(requestKey(call.namespace, stream.name)) ?? [] };
    }
    const key = versionKeyOf(call, stream);
    if (call.verb !== 'get' || call.name === undefined || key === undefined) return undefined;
    const { namespace = '', name } = call;
    const { group, plural } = source.streamClass;
    if (key === versionKey.stream) {
      return call.resource === customResource(group, plural) ? (source.get(namespace, name) ?? null) : undefined;
    }
    const cache = key === versionKey.template(namespace, name) ? this.caches.templates : this.byKey[key];
    return cache && (cache.get(namespace, name) ?? null);
  }

  /** A KubernetesApi whose reads `answer` answers; anything else fails without being sent. */
  private api(answer: (call: ApiCall) => ReturnType<CachedObservations['answer']>): KubernetesApi {
    const { custom, core } = this.caches.clients;
    return {
      batch: this.batch,
      core,
      custom,
      call<T>(call: ApiCall): Promise<T> {
        const found = answer(call);
        if (found === null) return Promise.reject(notFound(call));
        if (found === undefined) {
          return Promise.reject(new Error(`${call.verb} ${call.resource}: the watcher's caches cannot answer it`));
        }
        return Promise.resolve(found as T);
      },
    };
  }
}
