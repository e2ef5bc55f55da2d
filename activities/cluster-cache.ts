// The worker's cache of what observing a stream reads: StreamClasses, templates, BackfillRequests, Jobs, CronJobs and
// every stream kind a class serves, kept current by watches, so an observation costs no API call. It answers only when
// it is at least as new as the versions the reader requires (what the workflow has already seen, and the activity's
// own writes); otherwise the reader goes to the API server, as it would without a cache.
import type { KubeConfig } from '@kubernetes/client-node';
import { CustomObjectsApi } from '../kubernetes/client-node.ts';
import type { Logger } from 'pino';
import * as api from '../resources/api-group.ts';
import type { StreamClass } from '../resources/stream-class.ts';
import {
  InformerGroup,
  SupervisedInformer,
  type InformerEvent,
  type InformerMetrics,
  type ResourceLocation,
  type WatchedObject,
  withoutManagedFields,
} from '../kubernetes/informer.ts';
import { listObjects } from '../kubernetes/requests.ts';
import { workloadAsObserved } from './observed-workloads.ts';
import { atLeast } from '../workflows/lifecycle/versions.ts';
import { makeKeepAliveClient } from '../operations/keep-alive.ts';
import { customResource } from './kubernetes.ts';

export interface ClusterCacheOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: InformerMetrics;
  /** Only this namespace's streams, requests, templates and workloads (StreamClasses are cluster-wide). */
  watchNamespace?: string;
  /** How long a read waits for the cache to catch up with a version it requires before it asks the API server. */
  catchUpMs: number;
  watchdogMs: number;
  listTimeoutMs: number;
  restartBackoff: { initialMs: number; maxMs: number };
}

/** A cached answer: the object, or null when the cache knows there is none. */
export type CachedObject = WatchedObject | null;

/** How many deletions each resource remembers; an older one is answered by the API server. */
const TOMBSTONES = 10_000;

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** One watched resource, with what it takes to tell whether its answer is new enough. */
class CachedResource {
  readonly informer: SupervisedInformer;
  /** Deleted objects by `namespace/name`, with the last version seen of each. */
  private readonly tombstones = new Map<string, string>();
  private readonly waiters = new Set<() => void>();
  private readonly onChange: ((event: InformerEvent) => void) | undefined;

  constructor(
    options: ClusterCacheOptions,
    resource: string,
    location: ResourceLocation,
    keep: (object: WatchedObject) => WatchedObject,
    group: InformerGroup,
    onChange?: (event: InformerEvent) => void,
  ) {
    this.onChange = onChange;
    const custom = makeKeepAliveClient(options.kubeConfig, CustomObjectsApi);
    this.informer = new SupervisedInformer(
      {
        kubeConfig: options.kubeConfig,
        list: listObjects(custom),
        log: options.log,
        metrics: options.metrics,
        restartBackoff: options.restartBackoff,
        watchdogMs: options.watchdogMs,
        listTimeoutMs: options.listTimeoutMs,
        group,
        resource,
        location,
        keep,
      },
      { event: (event) => this.seen(event), listed: () => this.wake() },
    );
    this.informer.start();
  }

  private seen(event: InformerEvent): void {
    const { metadata } = event.object;
    const version = metadata?.resourceVersion;
    const key = keyOf(metadata?.namespace, metadata?.name ?? '');
    if (event.type === 'deleted') {
      this.tombstones.delete(key);
      if (version !== undefined) this.tombstones.set(key, version);
      if (this.tombstones.size > TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string);
    } else {
      this.tombstones.delete(key);
    }
    this.onChange?.(event);
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The object or null, when the cache can say so at `required` or newer; undefined when it cannot (yet). */
  answer(namespace: string | undefined, name: string, required?: string): CachedObject | undefined {
    if (!this.informer.synced) return undefined;
    const object = this.informer.get(namespace ?? '', name);
    // The informer holds every change up to its newest version (its last list's, or a later event's).
    if (required === undefined || atLeast(this.informer.newestVersion, required)) return object ?? null;
    if (object) return atLeast(object.metadata?.resourceVersion, required) ? object : undefined;
    return atLeast(this.tombstones.get(keyOf(namespace, name)), required) ? null : undefined;
  }

  /** Resolves when `ready` holds, or after `ms` (the last check decides). */
  async until<T>(ready: () => T | undefined, ms: number): Promise<T | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const answer = ready();
      const left = deadline - Date.now();
      if (answer !== undefined || left <= 0) return answer;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  list(namespace?: string): WatchedObject[] {
    return this.informer.list(namespace);
  }

  stop(): Promise<void> {
    this.wake();
    return this.informer.stop();
  }
}

/** What a reader requires of one object: its key in the cache and the version (absent: any). */
export interface CacheRead {
  namespace?: string;
  name: string;
  required?: string;
}

export class ClusterCache {
  private readonly options: ClusterCacheOptions;
  private readonly resources = new Map<string, CachedResource>();
  private readonly informers = new InformerGroup();
  /** BackfillRequest keys by `namespace/streamId`. */
  private readonly requestsByStream = new Map<string, Set<string>>();

  constructor(options: ClusterCacheOptions) {
    this.options = options;
    const namespace = options.watchNamespace;
    const arcane = (plural: string, scoped: boolean) => ({
      group: api.ARCANE_GROUP,
      version: api.ARCANE_VERSION,
      plural,
      ...(scoped && namespace !== undefined ? { namespace } : {}),
    });
    this.watch(api.STREAM_CLASSES.plural, arcane(api.STREAM_CLASSES.plural, false), withoutManagedFields);
    this.watch(
      api.STREAMING_JOB_TEMPLATES.plural,
      arcane(api.STREAMING_JOB_TEMPLATES.plural, true),
      withoutManagedFields,
    );
    this.watch(
      api.BACKFILL_REQUESTS.plural,
      arcane(api.BACKFILL_REQUESTS.plural, true),
      withoutManagedFields,
      (event) => this.indexRequest(event),
    );
    for (const plural of ['jobs', 'cronjobs']) {
      this.watch(plural, { group: 'batch', version: 'v1', plural, namespace }, workloadAsObserved);
    }
  }

  private watch(
    plural: string,
    location: ResourceLocation,
    keep: (object: WatchedObject) => WatchedObject,
    onChange?: (event: InformerEvent) => void,
  ): CachedResource {
    const resource = customResource(location.group, plural);
    const known = this.resources.get(resource);
    if (known) return known;
    const cached = new CachedResource(this.options, resource, location, keep, this.informers, onChange);
    this.resources.set(resource, cached);
    return cached;
  }

  /** Streams of the kind `streamClass` serves are cached from now on (from the next read, once listed). */
  watchStreams(streamClass: StreamClass): void {
    const { group, version, plural } = streamClass;
    this.watch(plural, { group, version, plural, namespace: this.options.watchNamespace }, withoutManagedFields);
  }

  private indexRequest(event: InformerEvent): void {
    const { metadata, spec } = event.object;
    const streamId = (spec as { streamId?: unknown } | undefined)?.streamId;
    if (typeof streamId !== 'string') return;
    const stream = keyOf(metadata?.namespace, streamId);
    const key = keyOf(metadata?.namespace, metadata?.name ?? '');
    const keys = this.requestsByStream.get(stream) ?? new Set<string>();
    if (event.type === 'deleted') keys.delete(key);
    else keys.add(key);
    if (keys.size === 0) this.requestsByStream.delete(stream);
    else this.requestsByStream.set(stream, keys);
  }

  /**
   * The object of `resource` (`jobs.batch`, `<plural>.<group>`) at `read.required` or newer, null when the cache knows
   * it does not exist, or undefined when the cache cannot tell within the catch-up time (not watched, not yet listed, or
   * behind): then the reader asks the API server.
   */
  async get(resource: string, read: CacheRead): Promise<CachedObject | undefined> {
    const cached = this.resources.get(resource);
    if (!cached) return undefined;
    return cached.until(() => cached.answer(read.namespace, read.name, read.required), this.options.catchUpMs);
  }

  /**
   * Whether the object of `resource` named by `read` that has this uid goes (deleted, or replaced by a newer one of the
   * same name) within `ms`, as the cache's watch shows it; false when it is still there then, or the cache cannot tell.
   */
  async gone(resource: string, read: Omit<CacheRead, 'required'>, uid: string, ms: number): Promise<boolean> {
    const cached = this.resources.get(resource);
    if (!cached) return false;
    const goneNow = () => {
      const object = cached.answer(read.namespace, read.name);
      if (object === undefined) return undefined;
      return object === null || object.metadata?.uid !== uid ? true : undefined;
    };
    return (await cached.until(goneNow, ms)) === true;
  }

  /** The stream's BackfillRequests, each required one at its version or newer; undefined when the cache cannot tell. */
  async backfillRequests(
    namespace: string,
    streamId: string,
    required: Record<string, string>,
  ): Promise<WatchedObject[] | undefined> {
    const cached = this.resources.get(customResource(api.ARCANE_GROUP, api.BACKFILL_REQUESTS.plural));
    if (!cached) return undefined;
    const current = () => {
      const fresh = Object.entries(required).every(
        ([name, version]) => cached.answer(namespace, name, version) !== undefined,
      );
      if (!fresh || !cached.informer.synced) return undefined;
      const keys = this.requestsByStream.get(keyOf(namespace, streamId)) ?? new Set();
      return [...keys].flatMap((key) => {
        const object = cached.answer(namespace, key.slice(namespace.length + 1));
        return object ? [object] : [];
      });
    };
    return cached.until(current, this.options.catchUpMs);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.resources.values()].map((cached) => cached.stop()));
  }
}
