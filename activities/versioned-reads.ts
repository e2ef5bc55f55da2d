// Reads of one stream's objects with their resourceVersions: which version each read or write saw (so an observation
// says what it was read at), and reads answered by the worker's cache when it is at least that new.
import { ApiException } from '../kubernetes/client-node.ts';
import { ARCANE_GROUP, BACKFILL_REQUESTS, STREAM_CLASSES, STREAMING_JOB_TEMPLATES } from '../resources/api-group.ts';
import { parseStreamClass } from '../resources/stream-class.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { newest, versionKey, type ObjectVersions } from '../workflows/lifecycle/versions.ts';
import type { CachedObject, ClusterCache } from './cluster-cache.ts';
import { isAlreadyExists, isConflict, isInvalid, isNotFound, KubernetesApiError, type ApiCall } from './errors.ts';
import type { KubernetesApi } from './kubernetes.ts';

interface Versioned {
  kind?: string;
  status?: unknown;
  metadata?: { name?: string; resourceVersion?: string; deletionTimestamp?: unknown; finalizers?: string[] };
}

/**
 * Whether a write's answer says the write removed its object. A write that released the last finalizer of an object
 * being deleted is answered with the object as it was stored before, at that older resourceVersion (being deleted, no
 * finalizer left), so the version proves nothing about what the write did. A deletion is answered with a Status of
 * success when the object went at once (no finalizer to wait for), and with the object itself when it stays.
 */
function removedBy(call: ApiCall, object: Versioned | undefined): boolean {
  if (call.verb === 'delete') return object?.kind === 'Status' && object.status === 'Success';
  const metadata = object?.metadata;
  return metadata?.deletionTimestamp != null && (metadata.finalizers ?? []).length === 0;
}

const requestsPrefix = versionKey.backfillRequest('');

/** The key in ObjectVersions of the object `call` reads or writes, when it is one of the stream's. */
export function versionKeyOf(call: ApiCall, stream: StreamKey): string | undefined {
  const [plural = '', ...rest] = call.resource.replace(/\/status$/, '').split('.');
  const group = rest.join('.');
  if (group === ARCANE_GROUP) {
    if (plural === STREAM_CLASSES.plural) return versionKey.streamClass;
    if (plural === STREAMING_JOB_TEMPLATES.plural) {
      return call.namespace && call.name ? versionKey.template(call.namespace, call.name) : undefined;
    }
    if (plural === BACKFILL_REQUESTS.plural) return call.name ? versionKey.backfillRequest(call.name) : undefined;
  }
  if (group === 'batch')
    return plural === 'jobs' ? versionKey.job : plural === 'cronjobs' ? versionKey.cronJob : undefined;
  const ours = group !== '' && call.name === stream.name && call.namespace === stream.namespace;
  return ours ? versionKey.stream : undefined;
}

function isRequestList(call: ApiCall): boolean {
  return call.verb === 'list' && call.resource === `${BACKFILL_REQUESTS.plural}.${ARCANE_GROUP}`;
}

/** The versions seen through one KubernetesApi: what was read, and what writes left behind. */
export interface VersionRecord {
  kube: KubernetesApi;
  /** Each object's newest version seen. */
  versions(): ObjectVersions;
  /**
   * Objects written whose new version is unknown, for example a deletion that the API server answered with a Status
   * instead of the object, or a write that removed the object (the last finalizer released). The cache cannot prove it
   * is as new as that write, so these are read from the API server.
   */
  unknown(): ReadonlySet<string>;
  /**
   * Objects a write removed (it released the last finalizer of an object being deleted), and nothing wrote or read
   * since: they are gone, and a read of one needs no answer from anyone.
   */
  removed(): ReadonlySet<string>;
}

export function recordVersions(kube: KubernetesApi, stream: StreamKey): VersionRecord {
  let seen: ObjectVersions = {};
  const unknown = new Set<string>();
  const removed = new Set<string>();
  const note = (call: ApiCall, key: string, object: Versioned | undefined, write: boolean) => {
    const version = object?.metadata?.resourceVersion;
    if (write && removedBy(call, object)) {
      unknown.delete(key);
      removed.add(key);
      return;
    }
    removed.delete(key);
    if (version !== undefined) {
      seen = newest(seen, { [key]: version });
      unknown.delete(key);
    } else if (write) {
      unknown.add(key);
    }
  };
  return {
    kube: {
      ...kube,
      async call<T>(call: ApiCall, send: () => Promise<T>): Promise<T> {
        const result = await kube.call(call, send);
        const write = call.verb !== 'get' && call.verb !== 'list';
        if (isRequestList(call)) {
          for (const item of (result as { items?: Versioned[] }).items ?? []) {
            note(call, versionKey.backfillRequest(item.metadata?.name ?? ''), item, false);
          }
        } else {
          const key = versionKeyOf(call, stream);
          if (key !== undefined) note(call, key, result as Versioned, write);
        }
        return result;
      },
    },
    versions: () => seen,
    unknown: () => unknown,
    removed: () => removed,
  };
}

function notFound(call: ApiCall): KubernetesApiError {
  const body = { kind: 'Status', reason: 'NotFound', code: 404, message: 'not found in the cache' };
  return new KubernetesApiError(call, new ApiException(404, 'Not Found', body, {}));
}

/** Requests' required versions by request name. */
function requiredRequests(required: ObjectVersions): Record<string, string> {
  return Object.fromEntries(
    Object.entries(required)
      .filter(([key]) => key.startsWith(requestsPrefix))
      .map(([key, version]) => [key.slice(requestsPrefix.length), version]),
  );
}

/** What cached reads must show: versions at least as new as `required()`, and `mustRead()` from the API server. */
export interface ReadGuard {
  required(): ObjectVersions;
  mustRead(): ReadonlySet<string>;
  /** Objects known to be gone (see VersionRecord.removed): a read of one answers Not Found at once. */
  removed(): ReadonlySet<string>;
}

/**
 * Reads of the stream's objects answered by `cache` when it holds them at the guard's required versions or newer;
 * everything else, and every write, goes to `kube`. An object a write conflicted on, found gone or failed a JSON
 * patch's test on (its read was outdated) is read from the API server from then on. Answers from the cache are the
 * objects as a watch sent them (plain JSON, times as strings), which is what the reads of observing and acting use.
 */
export function cachedReads(
  kube: KubernetesApi,
  cache: ClusterCache,
  stream: StreamKey,
  guard: ReadGuard,
): KubernetesApi {
  const conflicted = new Set<string>();
  const skipsCache = (key: string) => conflicted.has(key) || guard.mustRead().has(key);
  const fromCache = async (call: ApiCall): Promise<{ answer: CachedObject | { items: unknown[] } } | undefined> => {
    if (isRequestList(call) && call.namespace !== undefined) {
      if ([...guard.mustRead(), ...conflicted].some((key) => key.startsWith(requestsPrefix))) return undefined;
      const items = await cache.backfillRequests(call.namespace, stream.name, requiredRequests(guard.required()));
      return items && { answer: { items } };
    }
    const key = versionKeyOf(call, stream);
    if (call.verb !== 'get' || call.name === undefined || key === undefined || skipsCache(key)) return undefined;
    if (guard.removed().has(key)) return { answer: null };
    const resource = call.resource.replace(/\/status$/, '');
    const read = { namespace: call.namespace, name: call.name, required: guard.required()[key] };
    const answer = await cache.get(resource, read);
    return answer === undefined ? undefined : { answer };
  };
  const write = async <T>(call: ApiCall, send: () => Promise<T>): Promise<T> => {
    try {
      return await kube.call(call, send);
    } catch (error) {
      const key = versionKeyOf(call, stream);
      // 422 too: a JSON patch whose `test` failed was made from an outdated read.
      const outdated = isConflict(error) || isAlreadyExists(error) || isNotFound(error) || isInvalid(error);
      if (key !== undefined && outdated) conflicted.add(key);
      throw error;
    }
  };
  return {
    ...kube,
    async call<T>(call: ApiCall, send: () => Promise<T>): Promise<T> {
      if (call.verb !== 'get' && call.verb !== 'list') return write(call, send);
      const cached = await fromCache(call);
      if (cached?.answer === null) throw notFound(call);
      const result = cached ? cached.answer : await kube.call(call, send);
      // Reading a StreamClass tells the cache to watch the streams of the kind it serves. Only from then on are those
      // streams cached, so the first observation of a stream of each kind reads it from the API server.
      if (versionKeyOf(call, stream) === versionKey.streamClass) {
        const streamClass = parseStreamClass(result);
        if (streamClass.ok) cache.watchStreams(streamClass.value);
      }
      return result as T;
    },
  };
}
