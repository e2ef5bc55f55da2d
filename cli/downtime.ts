// `arcane downtime`: suspend a group of streams under a key and resume exactly that group later, with the same
// label and annotation as kubectl-arcane, so a downtime declared with one tool can be stopped with the other.
// Like kubectl-arcane, each stream is read and written back whole (GET, then Update with its resourceVersion); a
// conflict means someone changed the stream meanwhile, so it is read again and the change re-applied.
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException, CustomObjectsApi } from '../kubernetes/client-node.ts';
import { ARCANE_GROUP, ARCANE_VERSION, STREAM_CLASSES } from '../resources/api-group.ts';
import { parseStreamClass } from '../resources/stream-class.ts';
import { CliError } from './output.ts';

/** The label holding the downtime key; its presence marks a stream suspended by a downtime. */
export const DOWNTIME_LABEL = 'arcane.sneaksanddata.com/downtime';
/** When the downtime began, UTC in RFC 3339 to the second, as kubectl-arcane writes and reads it. */
export const DOWNTIME_BEGIN_ANNOTATION = 'arcane.sneaksanddata.com/downtime-begin-ts';

/** A stream object as stored: the whole of it is written back. */
export interface StreamObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

/** What one stream's change came to. */
export type Change = { updated: StreamObject } | { skipped: string };

/** The object holding `suspended` in the stream's layout: the spec (v0) or `spec.execution` (v1, v2). */
function suspensionHolder(stream: StreamObject): Record<string, unknown> {
  const spec = (stream.spec ??= {});
  const execution = spec.execution as Record<string, unknown> | null | undefined;
  const layout = execution?.layoutVersion;
  if (layout === undefined || layout === null || layout === '') return spec;
  if ((layout === 'v1' || layout === 'v2') && execution) return execution;
  throw new Error('spec.execution.layoutVersion is not one of "", "v1", "v2", so suspended cannot be set');
}

export function isSuspended(stream: StreamObject): boolean {
  return suspensionHolder(structuredClone(stream)).suspended === true;
}

/** RFC 3339 in UTC without fractions, e.g. 2026-12-06T01:02:03Z (what Go's time.RFC3339 format gives). */
export function downtimeTimestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The stream with the downtime `key` declared on it, or why it is left alone. */
export function declareDowntimeOn(stream: StreamObject, key: string, now: Date): Change {
  const current = stream.metadata.labels?.[DOWNTIME_LABEL];
  if (current !== undefined && current !== key) return { skipped: `already in downtime ${current}` };
  if (isSuspended(stream)) {
    // A stream someone else suspended stays theirs: stopping this downtime must not resume it.
    return { skipped: current === undefined ? 'already suspended' : 'already in this downtime' };
  }
  const updated = structuredClone(stream);
  updated.metadata.labels = { ...updated.metadata.labels, [DOWNTIME_LABEL]: key };
  updated.metadata.annotations = {
    ...updated.metadata.annotations,
    [DOWNTIME_BEGIN_ANNOTATION]: downtimeTimestamp(now),
  };
  suspensionHolder(updated).suspended = true;
  return { updated };
}

/** The stream with the downtime `key` lifted (label and annotation removed, resumed), or why it is left alone. */
export function stopDowntimeOn(stream: StreamObject, key: string): Change {
  const current = stream.metadata.labels?.[DOWNTIME_LABEL];
  if (current !== key) return { skipped: current === undefined ? 'not in a downtime' : `in downtime ${current}` };
  const updated = structuredClone(stream);
  delete updated.metadata.labels?.[DOWNTIME_LABEL];
  delete updated.metadata.annotations?.[DOWNTIME_BEGIN_ANNOTATION];
  suspensionHolder(updated).suspended = false;
  return { updated };
}

/** Where a class's streams live in the API. */
export interface StreamLocation {
  streamClass: string;
  group: string;
  version: string;
  plural: string;
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? (error as ApiException<unknown>).code : undefined;
}

export class DowntimeClient {
  private readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async location(streamClass: string): Promise<StreamLocation> {
    const where = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAM_CLASSES.plural, name: streamClass };
    const stored: unknown = await this.api.getClusterCustomObject(where).catch((error: unknown) => {
      if (statusOf(error) === 404) throw new CliError(`StreamClass ${streamClass} not found`);
      throw error;
    });
    const parsed = parseStreamClass(stored);
    if (!parsed.ok) throw new CliError(`StreamClass ${streamClass} is invalid: ${parsed.error.message}`);
    return { streamClass, group: parsed.value.group, version: parsed.value.version, plural: parsed.value.plural };
  }

  async classNames(): Promise<string[]> {
    const list = (await this.api.listClusterCustomObject({
      group: ARCANE_GROUP,
      version: ARCANE_VERSION,
      plural: STREAM_CLASSES.plural,
    })) as { items: { metadata: { name: string } }[] };
    return list.items.map((item) => item.metadata.name).sort();
  }

  /** The class's streams in `namespace` (all namespaces when absent), optionally by label selector. */
  async streams(at: StreamLocation, namespace?: string, labelSelector?: string): Promise<StreamObject[]> {
    const { group, version, plural } = at;
    const list = (await (namespace
      ? this.api.listNamespacedCustomObject({ group, version, plural, namespace, labelSelector })
      : this.api.listClusterCustomObject({ group, version, plural, labelSelector }))) as { items: StreamObject[] };
    return list.items.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
    );
  }

  /**
   * Reads the stream, applies `change` and writes the whole object back; on a conflict reads again and retries, so
   * a concurrent writer's change is kept and ours applied on top.
   */
  async update(at: StreamLocation, stream: StreamObject, change: (s: StreamObject) => Change): Promise<Change> {
    const { group, version, plural } = at;
    const { name, namespace } = stream.metadata;
    for (let attempt = 1; ; attempt++) {
      let fresh: StreamObject;
      try {
        fresh = (await this.api.getNamespacedCustomObject({ group, version, plural, namespace, name })) as StreamObject;
      } catch (error) {
        if (statusOf(error) === 404) return { skipped: 'deleted meanwhile' };
        throw error;
      }
      const outcome = change(fresh);
      if ('skipped' in outcome) return outcome;
      try {
        const body = outcome.updated;
        const written: unknown = await this.api.replaceNamespacedCustomObject({
          group,
          version,
          plural,
          namespace,
          name,
          body,
        });
        return { updated: written as StreamObject };
      } catch (error) {
        if (statusOf(error) !== 409 || attempt >= maxAttempts) throw error;
      }
    }
  }
}

/** Writes to one stream before giving up on conflicts (each one means another writer got in between). */
const maxAttempts = 5;

/** One downtime key as `downtime list` shows it. */
export interface DowntimeSummary {
  key: string;
  streamClasses: string[];
  /** `<namespace>/<name>` of every stream in the downtime. */
  streams: string[];
  /** The earliest begin time of its streams (epoch ms), when any carries a readable annotation. */
  since?: number;
}

/** Groups streams labelled with a downtime key by that key, earliest begin first. */
export function summarizeDowntimes(found: { streamClass: string; stream: StreamObject }[]): DowntimeSummary[] {
  const byKey = new Map<string, DowntimeSummary>();
  for (const { streamClass, stream } of found) {
    const key = stream.metadata.labels?.[DOWNTIME_LABEL];
    if (key === undefined) continue;
    const summary = byKey.get(key) ?? { key, streamClasses: [], streams: [] };
    byKey.set(key, summary);
    if (!summary.streamClasses.includes(streamClass)) summary.streamClasses.push(streamClass);
    summary.streams.push(`${stream.metadata.namespace}/${stream.metadata.name}`);
    const begin = Date.parse(stream.metadata.annotations?.[DOWNTIME_BEGIN_ANNOTATION] ?? '');
    if (Number.isFinite(begin) && (summary.since === undefined || begin < summary.since)) summary.since = begin;
  }
  return [...byKey.values()].sort((a, b) => (a.since ?? 0) - (b.since ?? 0) || a.key.localeCompare(b.key));
}
