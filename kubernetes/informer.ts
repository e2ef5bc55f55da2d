// An informer that does not stop: client-node's ListWatch stops for good on an error, so a failed one is replaced
// (after an exponential, capped backoff) by a fresh one that lists again, and a watchdog replaces one that has gone
// silent. The cache and the "previous version" of every object live here, across those restarts.
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { ListWatch, Watch } from './client-node.ts';
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import { describeRequest } from './api-calls.ts';
import { errorMessage, statusCode } from './errors.ts';
import { atLeast } from '../workflows/lifecycle/versions.ts';

/** An object as a list or watch delivers it (raw JSON): any resource, its spec and status unchecked. */
export type WatchedObject = KubernetesObject & { spec?: unknown; status?: unknown };

/** Whether an informer has its resource: still listing, listed, or failing (with what the API server said). */
export interface SourceHealth {
  state: 'pending' | 'synced' | 'failing';
  /** Listed successfully at least once since it was started. */
  everSynced: boolean;
  error?: { code?: number; message: string };
}

export interface ResourceLocation {
  group: string;
  version: string;
  plural: string;
  /** Only this namespace; all namespaces (or a cluster-scoped resource) when absent. */
  namespace?: string;
  labelSelector?: string;
}

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>` (core `/api/v1` for the empty group). */
export function collectionPath(location: ResourceLocation): string {
  const base = location.group === '' ? `/api/${location.version}` : `/apis/${location.group}/${location.version}`;
  const scope = location.namespace === undefined ? '' : `/namespaces/${location.namespace}`;
  return `${base}${scope}/${location.plural}`;
}

/** Which page of a list to ask for: at most `limit` objects, from where the previous page's `continue` token says. */
export interface ListPage {
  limit?: number;
  continue?: string;
}

/**
 * Objects asked for per list request. A list of every object at once arrives as one body that is parsed whole before
 * anything of it is kept: 10,000 Jobs make a response of about 100 MB. In pages, no more than a page is held whole.
 */
export const LIST_PAGE_SIZE = 500;

export interface InformerEvent {
  type: 'added' | 'updated' | 'deleted';
  object: WatchedObject;
  /** The version seen before (also for deletions). */
  previous?: WatchedObject;
  /** Produced by a (re-)list rather than the watch: the `listed` callback that follows covers it. */
  fromList: boolean;
}

export interface InformerHandlers {
  event(event: InformerEvent): void;
  /** The cache is complete after a list (the first one or a re-list after a restart or an expired resourceVersion). */
  listed(): void;
  health?(health: SourceHealth): void;
}

/** The counters an informer reports to (the watcher's metrics have them, and so does the worker's cache). */
export interface InformerMetrics {
  apiCalls: Pick<Counter<'verb' | 'resource' | 'code'>, 'inc'>;
  informerRestarts: Pick<Counter<'resource' | 'cause'>, 'inc'>;
}

/**
 * The informers of one process, which share an API server. An informer that lists again after failing shows that the
 * API server answers again: the others still waiting out their backoff start again at once, rather than each finding
 * out on its own schedule (up to a whole `restartBackoff.maxMs` later, after an outage long enough to reach it).
 */
export class InformerGroup {
  private readonly waiting = new Set<() => void>();

  /** `retry` runs when another informer of the group recovers; the returned function withdraws it. */
  waitFor(retry: () => void): () => void {
    this.waiting.add(retry);
    return () => this.waiting.delete(retry);
  }

  recovered(): void {
    for (const retry of [...this.waiting]) retry();
  }
}

/** What every informer of one process shares; `metrics` may carry more counters that the process's handlers use. */
export interface InformerSettings<Metrics extends InformerMetrics = InformerMetrics> {
  kubeConfig: KubeConfig;
  /** One page of a list; the informer asks for the next while the page's `metadata.continue` names one. */
  list: (location: ResourceLocation, page: ListPage) => Promise<KubernetesListObject<WatchedObject>>;
  log: Logger;
  metrics: Metrics;
  restartBackoff: { initialMs: number; maxMs: number };
  watchdogMs: number;
  /** A list still unanswered after this long is abandoned and the informer restarted. */
  listTimeoutMs: number;
  /** The informers that restart together once the API server answers again; none when absent. */
  group?: InformerGroup;
}

export interface InformerOptions extends InformerSettings {
  /** For logs and metrics, e.g. `jobs.batch` or `mockstreams.streaming.sneaksanddata.com`. */
  resource: string;
  location: ResourceLocation;
  /** What of each object is kept (all but its managed fields when absent): a cache holds what its readers read. */
  keep?: (object: WatchedObject) => WatchedObject;
}

interface WatchHooks {
  /** False for a replaced ListWatch: it must not open a watch any more. */
  beforeWatch(): boolean;
  /** What of a watched object is kept, before the ListWatch caches it. */
  keep(object: WatchedObject): WatchedObject;
  alive(): void;
  /** The answer to a watch request: `200`, another status code, or `error` (no answer). */
  answered(code: string): void;
  /** A bookmark: the watch has sent every change up to this version. */
  bookmark(version: string | undefined): void;
}

/** Watch events that carry an object of the resource. */
const OBJECT_PHASES = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/**
 * A Watch that reports connections and events, keeps only what the cache keeps of each object, asks for bookmarks,
 * and never rejects.
 */
class ReportingWatch extends Watch {
  private readonly hooks: WatchHooks;

  constructor(kubeConfig: KubeConfig, hooks: WatchHooks) {
    super(kubeConfig);
    this.hooks = hooks;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (!this.hooks.beforeWatch()) return new AbortController();
    let ended: { error: unknown } | undefined;
    const onEvent = (phase: string, object: unknown, watchObject?: unknown) => {
      this.hooks.alive();
      if (phase === 'BOOKMARK') this.hooks.bookmark((object as WatchedObject | undefined)?.metadata?.resourceVersion);
      // Bookmarks and errors are passed on whole: the ListWatch reads a Status's code, a bookmark's version.
      const kept = OBJECT_PHASES.has(phase) ? this.hooks.keep(object as WatchedObject) : object;
      callback(phase, kept, watchObject);
    };
    const onDone = (error: unknown) => {
      ended = { error };
      done(error);
    };
    try {
      const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, onEvent, onDone);
      if (ended?.error) {
        this.hooks.answered(String(statusCode(ended.error) ?? 'error'));
      } else {
        this.hooks.answered('200');
        this.hooks.alive();
      }
      return controller;
    } catch (error) {
      // e.g. credentials that cannot be read: report it like any failed watch.
      this.hooks.answered('error');
      if (!ended) onDone(error);
      return new AbortController();
    }
  }
}

/**
 * The object without `metadata.managedFields`, which no reader of a cache reads (a third of a typical object). Left out
 * rather than deleted: V8 keeps an object that lost a property as a hash table, twice the size of the object it was.
 */
export function withoutManagedFields(object: WatchedObject): WatchedObject {
  if (!object.metadata?.managedFields) return object;
  const { managedFields, ...metadata } = object.metadata;
  return { ...object, metadata };
}

function objectKey(object: WatchedObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

export class SupervisedInformer {
  readonly resource: string;
  private readonly options: InformerOptions;
  private readonly handlers: InformerHandlers;
  private readonly objects = new Map<string, WatchedObject>();
  private current: ListWatch<WatchedObject> | undefined;
  private listedKeys: Set<string> | undefined;
  /** The resourceVersion of the list in progress: the cache is at it once every listed object is in. */
  private listedVersion: string | undefined;
  private newest: string | undefined;
  private attempt = 0;
  private lastAlive = Date.now();
  /** When the current ListWatch started its list; undefined once it lists or fails. */
  private listingSince: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Withdraws the pending restart from the group's early restarts. */
  private leaveGroup: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = true;
  private state: SourceHealth = { state: 'pending', everSynced: false };

  constructor(options: InformerOptions, handlers: InformerHandlers) {
    this.options = options;
    this.handlers = handlers;
    this.resource = options.resource;
  }

  get health(): SourceHealth {
    return this.state;
  }

  get synced(): boolean {
    return this.state.everSynced;
  }

  /**
   * The newest resourceVersion the cache is known to be at: its last list's, or the newest of any object it has been
   * told of since (a watch is ordered, so every change up to it is in). Undefined before the first list.
   */
  get newestVersion(): string | undefined {
    return this.newest;
  }

  private advance(version: string | undefined): void {
    if (version !== undefined && version !== '' && !atLeast(this.newest, version)) this.newest = version;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const shortest = Math.min(this.options.watchdogMs, this.options.listTimeoutMs);
    const interval = Math.min(Math.max(shortest / 4, 50), 30_000);
    this.watchdog = setInterval(() => this.checkWatchdog(), interval);
    this.watchdog.unref();
    this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.cancelRestart();
    const informer = this.current;
    this.current = undefined;
    await informer?.stop();
  }

  list(namespace?: string): WatchedObject[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((object) => object.metadata?.namespace === namespace);
  }

  get(namespace: string, name: string): WatchedObject | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  private setHealth(health: SourceHealth): void {
    const changed =
      health.state !== this.state.state ||
      health.everSynced !== this.state.everSynced ||
      health.error?.message !== this.state.error?.message;
    this.state = health;
    if (changed) this.handlers.health?.(health);
  }

  /** A fresh ListWatch: it lists first, so nothing that happened while none was watching is missed. */
  private launch(): void {
    this.lastAlive = Date.now();
    this.listingSince = this.lastAlive;
    const { kubeConfig, location, list } = this.options;
    const keep = this.options.keep ?? withoutManagedFields;
    let informer: ListWatch<WatchedObject> | undefined = undefined;
    const isCurrent = () => informer !== undefined && informer === this.current;
    const watchCall = describeRequest('GET', `${collectionPath(location)}?watch=true`);
    const watch = new ReportingWatch(kubeConfig, {
      beforeWatch: () => {
        if (!isCurrent()) return false;
        if (this.listedKeys) this.finishList();
        return true;
      },
      keep,
      alive: () => {
        if (isCurrent()) this.lastAlive = Date.now();
      },
      // Watches do not go through the clients' counting HTTP layer: counted here, named the same way.
      answered: (code) => this.options.metrics.apiCalls.inc({ ...watchCall, code }),
      // A quiet resource's cache is as current as the API server's bookmarks say, not only as its last change.
      bookmark: (version) => {
        if (isCurrent() && this.listedKeys === undefined) this.advance(version);
      },
    });
    // The ListWatch caches what it lists and watches, and this informer shares those objects: each is kept as the
    // cache keeps it before either holds it, so no object is held whole.
    const listOnce = async () => {
      const items: WatchedObject[] = [];
      let page: KubernetesListObject<WatchedObject>;
      let token: string | undefined;
      do {
        page = await list(location, { limit: LIST_PAGE_SIZE, continue: token });
        for (const item of page.items ?? []) items.push(keep(item));
        token = (page.metadata as { continue?: string } | undefined)?.continue || undefined;
      } while (token !== undefined && isCurrent());
      // Every page is of one snapshot, whose resourceVersion the last one carries like the others: the watch starts
      // there. A continue token that expires fails the list, and the informer lists afresh.
      const result = { ...page, items };
      if (isCurrent()) {
        this.listedKeys = new Set(items.map(objectKey));
        this.listedVersion = page.metadata?.resourceVersion;
      }
      return result;
    };
    informer = new ListWatch<WatchedObject>(collectionPath(location), watch, listOnce, false, location.labelSelector);
    this.current = informer;
    informer.on('add', (object) => isCurrent() && this.upsert(object));
    informer.on('update', (object) => isCurrent() && this.upsert(object));
    informer.on('delete', (object) => isCurrent() && this.remove(object));
    informer.on('error', (error: unknown) => isCurrent() && this.fail(error));
    informer.start().catch((error: unknown) => isCurrent() && this.fail(error));
  }

  /** `object` is kept as the options say already (see launch). */
  private upsert(object: WatchedObject): void {
    const key = objectKey(object);
    const previous = this.objects.get(key);
    this.objects.set(key, object);
    if (this.listedKeys === undefined) this.advance(object.metadata?.resourceVersion);
    this.emit({ type: previous ? 'updated' : 'added', object, previous, fromList: this.listedKeys !== undefined });
  }

  private remove(object: WatchedObject): void {
    const key = objectKey(object);
    const previous = this.objects.get(key);
    if (!previous) return;
    this.objects.delete(key);
    if (this.listedKeys === undefined) this.advance(object.metadata?.resourceVersion);
    this.emit({ type: 'deleted', object, previous, fromList: this.listedKeys !== undefined });
  }

  private emit(event: InformerEvent): void {
    try {
      this.handlers.event(event);
    } catch (error) {
      // A handler bug must not stop the informer (the ListWatch would die on it).
      this.options.log.error({ err: error, resource: this.resource }, 'informer event handler failed');
    }
  }

  /** After a list: objects the list no longer has are gone (a fresh ListWatch cannot know them). */
  private finishList(): void {
    const keys = this.listedKeys ?? new Set();
    for (const [key, object] of [...this.objects]) {
      if (!keys.has(key)) this.remove(object);
    }
    this.listedKeys = undefined;
    this.advance(this.listedVersion);
    this.listedVersion = undefined;
    this.listingSince = undefined;
    this.attempt = 0;
    this.lastAlive = Date.now();
    const recovered = this.state.state === 'failing';
    this.setHealth({ state: 'synced', everSynced: true });
    if (recovered) {
      this.options.log.info({ resource: this.resource }, 'informer recovered');
      this.options.group?.recovered();
    }
    try {
      this.handlers.listed();
    } catch (error) {
      this.options.log.error({ err: error, resource: this.resource }, 'informer list handler failed');
    }
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    const code = statusCode(error);
    const message = errorMessage(error);
    this.current = undefined;
    this.listedKeys = undefined;
    this.listingSince = undefined;
    const delay = this.backoff();
    const { log, location } = this.options;
    const fields = { resource: this.resource, code, retryInMs: delay, attempt: this.attempt };
    if (code === 403) {
      const where = location.namespace === undefined ? 'in all namespaces' : `in namespace ${location.namespace}`;
      log.error(
        fields,
        `forbidden: cannot list/watch ${this.resource} ${where}: grant the watcher's ServiceAccount "list" and "watch" on "${location.plural}"`,
      );
    } else {
      log.warn({ ...fields, error: message }, 'informer failed; restarting it');
    }
    this.restart('error', delay);
    this.setHealth({ state: 'failing', everSynced: this.state.everSynced, error: { code, message } });
  }

  private checkWatchdog(): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    const now = Date.now();
    if (this.listingSince !== undefined && now - this.listingSince >= this.options.listTimeoutMs) {
      const listingMs = now - this.listingSince;
      this.options.log.warn({ resource: this.resource, listingMs }, 'list unanswered for too long; restarting it');
      this.abandon('listTimeout', this.backoff());
      return;
    }
    const silentMs = now - this.lastAlive;
    if (silentMs < this.options.watchdogMs) return;
    this.options.log.warn({ resource: this.resource, silentMs }, 'watch silent for too long; restarting it');
    this.abandon('watchdog', 0);
  }

  /** Drops the current ListWatch (whatever it still answers is ignored) and starts a fresh one after the delay. */
  private abandon(cause: 'watchdog' | 'listTimeout', delayMs: number): void {
    const stale = this.current;
    this.current = undefined;
    this.listedKeys = undefined;
    this.listingSince = undefined;
    void stale?.stop();
    this.restart(cause, delayMs);
  }

  private restart(cause: 'error' | 'watchdog' | 'listTimeout', delayMs: number): void {
    this.options.metrics.informerRestarts.inc({ resource: this.resource, cause });
    this.cancelRestart();
    const relaunch = () => {
      this.cancelRestart();
      if (!this.stopped) this.launch();
    };
    this.restartTimer = setTimeout(relaunch, delayMs);
    this.leaveGroup = this.options.group?.waitFor(relaunch);
  }

  private cancelRestart(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.leaveGroup?.();
    this.leaveGroup = undefined;
  }

  private backoff(): number {
    const { initialMs, maxMs } = this.options.restartBackoff;
    const base = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }
}
