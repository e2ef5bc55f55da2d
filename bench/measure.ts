// What the benchmark reads off a run: when each stream reached a phase, latency percentiles, counters scraped from
// the operator's /metrics, and a bounded pool so "N at once" does not mean N sockets at once.
import {
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPromise,
} from '@kubernetes/client-node';

/** An informer that lists and watches again after any error, until it is stopped. */
export class Follower<T extends KubernetesObject> {
  readonly informer: Informer<T>;
  private stopped = false;

  constructor(kubeConfig: KubeConfig, path: string, list: ListPromise<T>) {
    this.informer = makeInformer<T>(kubeConfig, path, list);
    // What a dropped watch missed is seen on the re-list: late, never lost.
    this.informer.on('error', () => this.again());
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  private again(): void {
    setTimeout(() => {
      if (!this.stopped) this.informer.start().catch(() => this.again());
    }, 500);
  }
}

export interface StreamKind {
  group: string;
  version: string;
  plural: string;
}

interface StreamObject extends KubernetesObject {
  status?: { phase?: string };
}

/** Records, from a watch, the first moment each stream of a namespace shows `phase`. */
export class PhaseClock {
  readonly reached = new Map<string, number>();
  private readonly follower: Follower<StreamObject>;

  private constructor(kubeConfig: KubeConfig, kind: StreamKind, namespace: string, phase: string) {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const { group, version, plural } = kind;
    const path = `/apis/${group}/${version}/namespaces/${namespace}/${plural}`;
    const list = () =>
      custom.listNamespacedCustomObject({ group, version, plural, namespace }) as Promise<
        KubernetesListObject<StreamObject>
      >;
    this.follower = new Follower<StreamObject>(kubeConfig, path, list);
    const see = (stream: StreamObject) => {
      const name = stream.metadata?.name ?? '';
      if (stream.status?.phase === phase && !this.reached.has(name)) this.reached.set(name, Date.now());
    };
    this.follower.informer.on('add', see);
    this.follower.informer.on('update', see);
  }

  static async start(kubeConfig: KubeConfig, kind: StreamKind, namespace: string, phase: string): Promise<PhaseClock> {
    const clock = new PhaseClock(kubeConfig, kind, namespace, phase);
    await clock.follower.start();
    return clock;
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }
}

/** The value below which `fraction` of the samples lie (nearest rank). */
export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

/** The sum over all label sets of one metric in Prometheus text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)`).exec(line);
    if (match) sum += Number(match[2]);
  }
  return sum;
}

/** Runs `work` for every item with at most `limit` in flight. */
export async function inPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

export interface Latencies {
  count: number;
  /** From the first create sent to the last stream reaching the phase. */
  totalMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Per-stream latency from its create to the moment it reached the phase. */
export function latencies(created: ReadonlyMap<string, number>, reached: ReadonlyMap<string, number>): Latencies {
  const samples = [...created].map(([name, at]) => (reached.get(name) ?? NaN) - at);
  const first = Math.min(...created.values());
  const last = Math.max(...reached.values());
  return {
    count: samples.length,
    totalMs: last - first,
    p50Ms: percentile(samples, 0.5),
    p99Ms: percentile(samples, 0.99),
    maxMs: Math.max(...samples),
  };
}
