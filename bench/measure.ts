// What the benchmark reads off a run: when each stream reached a phase, latency percentiles, counters scraped from
// /metrics (the operator's and the API server's), process memory, and a bounded pool so "N at once" does not mean N
// sockets at once.
import { readdirSync, readFileSync } from 'node:fs';
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

/** One sample of a Prometheus metric: its labels and value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of one metric in Prometheus text, with its labels. */
export function samples(text: string, name: string): Sample[] {
  const found: Sample[] = [];
  const line = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)`);
  for (const row of text.split('\n')) {
    const match = line.exec(row);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    found.push({ labels, value: Number(match[2]) });
  }
  return found;
}

/** Requests kube-apiserver served, by what was asked; watches are left out (one long request, not a call). */
export interface ApiserverCalls {
  /** Calls on what an Arcane operator reads and writes: the arcane group, stream kinds, Jobs, CronJobs, Secrets. */
  operator: number;
  /** Events recorded (by anyone: the operator, the Job controller, the scheduler). */
  events: number;
  /** Every call but watches, from every client (the stack's controllers and kwok included). */
  all: number;
  /** The operator's calls by `VERB resource[/subresource]`. */
  byResource: Record<string, number>;
}

const OPERATOR_GROUPS = new Set(['streaming.sneaksanddata.com']);
const OPERATOR_RESOURCES = new Set(['batch/jobs', 'batch/cronjobs', '/secrets', '/configmaps']);

/**
 * Sorts kube-apiserver's `apiserver_request_total` into the calls an operator makes and the rest. Status writes of
 * Jobs are the Job controller's and pods are the stack's, so neither counts; a stream kind counts in any group.
 */
export function apiserverCalls(text: string, streamGroups: readonly string[] = []): ApiserverCalls {
  const calls: ApiserverCalls = { operator: 0, events: 0, all: 0, byResource: {} };
  const groups = new Set([...OPERATOR_GROUPS, ...streamGroups]);
  for (const { labels, value } of samples(text, 'apiserver_request_total')) {
    const { verb = '', group = '', resource = '', subresource = '' } = labels;
    if (verb === 'WATCH' || verb === 'WATCHLIST' || verb === 'CONNECT') continue;
    calls.all += value;
    if (resource === 'events') {
      calls.events += value;
      continue;
    }
    const isJobStatus = group === 'batch' && subresource === 'status';
    if (!groups.has(group) && (isJobStatus || !OPERATOR_RESOURCES.has(`${group}/${resource}`))) continue;
    calls.operator += value;
    const key = `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;
    calls.byResource[key] = (calls.byResource[key] ?? 0) + value;
  }
  return calls;
}

/** How much each of a set of counters grew between two readings; the counters that did not are left out. */
export function countsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) grown[key] = delta;
  }
  return grown;
}

/** What happened between two readings of the API server's counters. */
export function callsBetween(before: ApiserverCalls, after: ApiserverCalls): ApiserverCalls {
  return {
    operator: after.operator - before.operator,
    events: after.events - before.events,
    all: after.all - before.all,
    byResource: countsBetween(before.byResource, after.byResource),
  };
}

/**
 * The operator's own count of its Kubernetes API calls (`arcane_kubernetes_api_calls_total`) by `verb resource`,
 * summed over its processes' metrics.
 */
export function ownApiCalls(...metricsTexts: string[]): Record<string, number> {
  const byCall: Record<string, number> = {};
  for (const { labels, value } of metricsTexts.flatMap((text) => samples(text, 'arcane_kubernetes_api_calls_total'))) {
    const key = `${labels.verb ?? ''} ${labels.resource ?? ''}`;
    byCall[key] = (byCall[key] ?? 0) + value;
  }
  return byCall;
}

export interface Memory {
  rssBytes: number;
  peakRssBytes: number;
}

/** Resident memory of a process now and at its peak, in bytes (Linux /proc). */
export function processMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

/** Which part of a run a process is, by its command: the stack's components, this operator's two, upstream's. */
const COMPONENTS: [string, RegExp][] = [
  ['apiserver', /kube-apiserver/],
  ['etcd', /\/etcd /],
  ['controllers', /kube-controller-manager|kube-scheduler/],
  ['kwok', /\/kwok /],
  ['temporal', /temporal server/],
  ['worker', /arcane\.[jt]s worker/],
  ['watcher', /arcane\.[jt]s watcher/],
  ['upstream', /arcane-operator /],
];

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * CPU seconds (user + system) used so far by each component of the run whose command line or environment names
 * `stackDir` (every process of one bench stack does: its files live there, and the operators' kubeconfig does too).
 */
export function cpuSeconds(stackDir: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const command = readOr(`/proc/${entry}/cmdline`).replaceAll('\0', ' ');
    if (!command.includes(stackDir) && !readOr(`/proc/${entry}/environ`).includes(stackDir)) continue;
    const component = COMPONENTS.find(([, pattern]) => pattern.test(command))?.[0];
    // The stat line's fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = readOr(`/proc/${entry}/stat`).split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (component === undefined || !Number.isFinite(ticks)) continue;
    seconds[component] = (seconds[component] ?? 0) + ticks / TICKS_PER_SECOND;
  }
  return seconds;
}

/** CPU seconds each component used between two readings. */
export function cpuBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([component, total]) => [
      component,
      Math.round((total - (before[component] ?? 0)) * 10) / 10,
    ]),
  );
}

/** The process a launched command runs as: the only child of the reaper shell `launch` puts in front of it. */
export function launchedPid(reaperPid: number): number {
  const child = readFileSync(`/proc/${reaperPid}/task/${reaperPid}/children`, 'utf8').trim().split(/\s+/)[0];
  if (!child) throw new Error(`process ${reaperPid} has no child`);
  return Number(child);
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
