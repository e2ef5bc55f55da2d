// What the benchmark keeps: one JSON record per run in bench/results.jsonl (the source of truth), and, generated from
// it, the table in bench/results.md, the plot bench/results.svg and the latest figures in the README.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { Latencies } from './measure.ts';
import { latest, plotSvg } from './plot.ts';

/** What every contender reports. API calls are the API server's count, watches and the streams' creates left out. */
export interface ContenderResult extends Latencies {
  apiCallsPerStream: number;
  /** Events recorded per stream by anyone (the operator, the Job controller, the scheduler). */
  eventsPerStream?: number;
  /** Every call but watches, the stack's controllers and kwok included. */
  clusterApiCallsPerStream?: number;
  /** The contender's calls over the whole burst, by `VERB resource[/subresource]`. */
  apiCalls?: Record<string, number>;
  /** The contender's own count of its calls, where it keeps one. */
  reportedApiCallsPerStream?: number;
  /** The upstream operator's process. */
  upstream?: ProcessMemory;
  /** Seconds the stack's controller-manager and scheduler held requests back in their client-side rate limiters. */
  stackThrottleSeconds?: number;
  /** CPU seconds each process of the run used from the first create until all streams ran: the stack's components
   * (apiserver, etcd, controllers, kwok, temporal) and the contender's own (worker and watcher, or upstream). */
  cpuSeconds?: Record<string, number>;
}

export interface ProcessMemory {
  peakRssBytes: number;
  /** After the burst and the idle window (upstream: after the burst). */
  steadyRssBytes: number;
}

export interface OperatorResult extends ContenderResult {
  historyEventsPerStream: number;
  /** The operator's own count of its calls in the burst, by `verb resource` (absent in records before it was kept). */
  reportedApiCalls?: Record<string, number>;
  /** Per stream, by event type; signals by name (absent in records before it was measured). */
  historyEventsPerStreamByType?: Record<string, number>;
  worker: ProcessMemory;
  watcher: ProcessMemory;
  idle: { windowSeconds: number; apiCallsPerStreamHour: number; historyEventsPerStreamHour: number };
  /** A watcher restart after the idle window (absent in records before it was measured). */
  watcherRestart?: WatcherRestart;
}

export interface WatcherRestart {
  /** The API server's count of the operator's calls from the stop to the end of the window after the first resync. */
  apiCallsPerStream: number;
  /** The new watcher's own count (its LISTs and watches' lists included). */
  ownApiCallsPerStream: number;
  historyEventsPerStream: number;
  /** Resyncs the new watcher ran in the window, and the streams they skipped as at rest (summed over them). */
  resyncs: number;
  unchangedStreams: number;
  /**
   * The new watcher's RSS at the end of the window, and its peak: its first LIST of every object (absent in records
   * before it was measured).
   */
  rssBytes?: number;
  peakRssBytes?: number;
}

export const OPERATOR_CODES = ['dist', 'sources'] as const;
export type OperatorCode = (typeof OPERATOR_CODES)[number];

export interface BurstRecord {
  at: string;
  streams: number;
  plugin: string;
  /** What the run measured, e.g. the change it checks; empty for a plain run. */
  label: string;
  machine?: string;
  controllerApiQps?: number;
  /** The operator's code that ran: compiled to dist/ as the image runs it, or the TypeScript sources (older runs). */
  operatorCode?: OperatorCode;
  operator?: OperatorResult;
  upstream?: ContenderResult;
  floor?: ContenderResult;
  /** Why a contender has no figures: what stopped it. */
  failed?: Partial<Record<'operator' | 'upstream' | 'floor', string>>;
  /** Why a contender asked for was not started: it cannot run the plugin's streams. */
  notRun?: Partial<Record<'operator' | 'upstream' | 'floor', string>>;
}

const DIR = import.meta.dirname;
const JSONL = join(DIR, 'results.jsonl');
const README = join(DIR, '../README.md');

/** Records from before the upstream runs: operator's own API counts, a floor of 50 lanes, the stack at 20 QPS. */
interface FirstRecord {
  at: string;
  streams: number;
  operator: Latencies & {
    apiCallsPerStream: number;
    historyEventsPerStream: number;
    workerMemory: { rssBytes: number; peakRssBytes: number };
    watcherMemory: { rssBytes: number; peakRssBytes: number };
  };
  idle: OperatorResult['idle'];
  floor?: ContenderResult;
}

function fromFirstShape(old: FirstRecord): BurstRecord {
  const memory = (m: { rssBytes: number; peakRssBytes: number }) => ({
    peakRssBytes: m.peakRssBytes,
    // Read right after the burst, not after an idle window.
    steadyRssBytes: Number.NaN,
  });
  return {
    at: old.at,
    streams: old.streams,
    plugin: 'test',
    label: 'first bench: client-side API counts, floor in 50 lanes',
    controllerApiQps: 20,
    operator: {
      ...old.operator,
      // Counted by the operator itself, not by the API server.
      apiCallsPerStream: Number.NaN,
      reportedApiCallsPerStream: old.operator.apiCallsPerStream,
      worker: memory(old.operator.workerMemory),
      watcher: memory(old.operator.watcherMemory),
      idle: old.idle,
    },
    floor: old.floor && {
      ...old.floor,
      apiCallsPerStream: Number.NaN,
      reportedApiCallsPerStream: old.floor.apiCallsPerStream,
    },
  };
}

export function readRecords(text: string): BurstRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as BurstRecord | FirstRecord)
    .map((record) => ('plugin' in record ? record : fromFirstShape(record)));
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1_000).toFixed(1));
const mib = (bytes: number | undefined) =>
  bytes === undefined || !Number.isFinite(bytes) ? '-' : (bytes / 2 ** 20).toFixed(0);
/** Two decimals below 10, one below 100, none above; trailing zeros dropped. */
const figure = (value: number | undefined) => {
  if (value === undefined || Number.isNaN(value)) return '-';
  const text = value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
};
/** Why a contender has no result when its deadline passed first: how far it got (`--deadline`). */
export function unfinished(reached: number, streams: number, afterMs: number): string {
  return `${reached} of ${streams} Running at the deadline, ${Math.round(afterMs / 1_000)} s`;
}

const UNFINISHED = /^(\d+) of (\d+) Running at the deadline, (\d+) s$/;

const times = (result: ContenderResult | undefined, failed: string | undefined, notRun?: string) => {
  if (result) return `${seconds(result.totalMs)} (${seconds(result.p50Ms)}, ${seconds(result.p99Ms)})`;
  if (notRun !== undefined) return 'not run';
  const cut = failed === undefined ? undefined : UNFINISHED.exec(failed);
  if (cut) return `${cut[1]} of ${cut[2]} by ${cut[3]}`;
  return failed === undefined ? '-' : 'failed';
};
const memory = (m: ProcessMemory | undefined) => (m ? `${mib(m.peakRssBytes)} / ${mib(m.steadyRssBytes)}` : '-');

const COLUMNS = [
  'date',
  'run',
  'plugin',
  'streams',
  'controller QPS',
  'stack throttled s (operator / upstream / floor)',
  'operator s (p50, p99)',
  'upstream s (p50, p99)',
  'floor s (p50, p99)',
  'API calls/stream (operator / upstream / floor)',
  'own count of API calls/stream',
  'history events/stream',
  'CPU s: own (operator / upstream / floor)',
  'CPU s: Temporal / apiserver+etcd (operator run)',
  'worker MiB (peak / steady)',
  'watcher MiB (peak / steady)',
  'upstream MiB (peak / steady)',
  'idle API calls/stream/h',
  'idle history events/stream/h',
  'watcher restart: API calls/stream (server / own), history events/stream, streams skipped, peak RSS',
];

function restartFigures(restart: WatcherRestart | undefined): string {
  if (!restart) return '-';
  const calls = `${figure(restart.apiCallsPerStream)} / ${figure(restart.ownApiCallsPerStream)}`;
  const figures = `${calls}, ${figure(restart.historyEventsPerStream)}, ${figure(restart.unchangedStreams)}`;
  return restart.peakRssBytes === undefined ? figures : `${figures}, ${mib(restart.peakRssBytes)} MiB peak`;
}

/** CPU seconds of some of a run's processes during the burst, '-' when the run did not measure them. */
function ownCpu(result: ContenderResult | undefined, components: readonly string[]): string {
  const cpu = result?.cpuSeconds;
  if (!cpu) return '-';
  return figure(components.reduce((sum, component) => sum + (cpu[component] ?? 0), 0));
}

function row(record: BurstRecord): string {
  const { operator, upstream, floor } = record;
  const cells = [
    record.at.slice(0, 16).replace('T', ' '),
    record.label || '-',
    record.plugin,
    String(record.streams),
    record.controllerApiQps === undefined ? '-' : String(record.controllerApiQps),
    [operator, upstream, floor].map((result) => figure(result?.stackThrottleSeconds)).join(' / '),
    times(operator, record.failed?.operator),
    times(upstream, record.failed?.upstream, record.notRun?.upstream),
    times(floor, record.failed?.floor),
    [operator, upstream, floor].map((result) => figure(result?.apiCallsPerStream)).join(' / '),
    [operator, upstream, floor].map((result) => figure(result?.reportedApiCallsPerStream)).join(' / '),
    figure(operator?.historyEventsPerStream),
    [ownCpu(operator, ['worker', 'watcher']), ownCpu(upstream, ['upstream']), '-'].join(' / '),
    [ownCpu(operator, ['temporal']), ownCpu(operator, ['apiserver', 'etcd'])].join(' / '),
    memory(operator?.worker),
    memory(operator?.watcher),
    memory(upstream?.upstream),
    figure(operator?.idle.apiCallsPerStreamHour),
    figure(operator?.idle.historyEventsPerStreamHour),
    restartFigures(operator?.watcherRestart),
  ];
  return `| ${cells.join(' | ')} |`;
}

export function table(records: readonly BurstRecord[]): string {
  const rule = COLUMNS.map((column) => '-'.repeat(column.length));
  return [`| ${COLUMNS.join(' | ')} |`, `| ${rule.join(' | ')} |`, ...records.map(row)].join('\n');
}

const RESULTS_HEADER = `# Benchmark results

Generated by \`npm run bench\` (bench/burst.ts) from bench/results.jsonl; one row per run, oldest first. N streams are
created at once (50 creates in flight) and each contender, on a fresh local stack of its own, takes them to Running
(backfill done): this operator (worker and watcher processes), the upstream Go operator, and the floor (the same
writes issued directly, every stream driven at once). Times: from the first create to the last stream Running, and
per stream from its create to Running (p50, p99). API calls: counted by kube-apiserver (\`apiserver_request_total\`)
from the first create until the contender went quiet, watches and the streams' own creates left out, on what an
operator reads and writes (the arcane group, the stream kind, Jobs but not their status, CronJobs, Secrets); the
Job controller's and kwok's calls on pods and Job status are not counted, but the garbage collector's reads and
finalizer patch of a Job deleted in the foreground are (about 5 per deleted Job); the per-resource split is in the
JSON. Own count: what each contender counted itself (this operator's \`arcane_kubernetes_api_calls_total\`, client-go's
\`rest_client_requests_total\` for upstream with its few watches, the floor's calls). Rows before the upstream runs
have only the operator's own count. History events: Temporal events per stream.
Stack throttled: seconds the controller-manager's and the scheduler's requests waited in
their client-side rate limiters during the burst (\`rest_client_rate_limiter_duration_seconds\`); near 0 means the stack
did not hold the contender back. CPU s: CPU seconds (user + system) from the first create until all streams ran, of
the contender's own processes (this operator's worker and watcher; upstream's binary) and, for this operator's run, of
its Temporal server and of kube-apiserver with etcd, all on the same cores. RSS: peak and steady (after a ${'`--idle-seconds`'} window) of each process. Idle: calls and events per idle stream per
hour, extrapolated from the idle window. Watcher restart: after the idle window the watcher is restarted; what that
cost per stream, how many streams its resync skipped as at rest, and the new watcher's peak RSS (its first LIST of
every object; the watcher MiB column is read before the restart, of the watcher that ran the burst). The machines are
shared: compare rows of the same day and machine.

`;

/** Appends the record and regenerates everything shown from the records. */
export async function publish(record: BurstRecord): Promise<void> {
  appendFileSync(JSONL, `${JSON.stringify(record)}\n`);
  await render();
}

/** Markdown as the project's formatter lays it out (aligned table columns), so generated files pass its check. */
async function writeMarkdown(file: string, text: string): Promise<void> {
  writeFileSync(file, await format(text, { ...(await resolveConfig(file)), filepath: file }));
}

/** Regenerates bench/results.md, bench/results.svg and the README's table from bench/results.jsonl. */
export async function render(): Promise<void> {
  const records = readRecords(readFileSync(JSONL, 'utf8'));
  const machines = [...new Set(records.flatMap((record) => (record.machine ? [record.machine] : [])))];
  const machineLine = `Machines: ${machines.join('; ') || 'unrecorded'}.`;
  await writeMarkdown(join(DIR, 'results.md'), `${RESULTS_HEADER}${machineLine}\n\n${table(records)}\n`);
  writeFileSync(join(DIR, 'results.svg'), plotSvg(records));
  if (existsSync(README)) {
    // Formatted first, then read, spliced and written with nothing in between: others edit the README too.
    const section = await format(readmeSection(records), { ...(await resolveConfig(README)), parser: 'markdown' });
    writeFileSync(README, withSection(readFileSync(README, 'utf8'), section.trimEnd()));
  }
}

const START = '<!-- bench:latest -->';
const END = '<!-- /bench:latest -->';

/** What goes between the README's markers: the latest row of each plugin and stream count, and the plot. */
function readmeSection(records: readonly BurstRecord[]): string {
  return `${START}\n\n${table(latest(records))}\n\n![Time to Running against N](bench/results.svg)\n\n${END}\n`;
}

/** The README with `section` in place of what its markers enclose (unchanged without them). */
function withSection(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return readme;
  return readme.slice(0, start) + section + readme.slice(end + END.length);
}

/** The README with the latest row of each plugin and stream count between its markers (unchanged without them). */
export function withReadmeTable(readme: string, records: readonly BurstRecord[]): string {
  return withSection(readme, readmeSection(records).trimEnd());
}

if (import.meta.main) await render();
