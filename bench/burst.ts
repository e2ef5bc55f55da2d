// The burst benchmark (SPEC 9): N streams created at once, taken to Running by each contender on a local stack of its
// own: this operator's real processes (`arcane worker`, `arcane watcher`), the upstream Go operator, and the floor
// (the same writes issued directly). API calls are counted on the API server's side, the same way for all three.
// Appends to bench/results.jsonl, then rewrites bench/results.md, bench/results.svg and the README's table from it.
//   npm run bench -- --streams 100,1000 --plugin test,production --contenders operator,upstream,floor
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { Command, InvalidArgumentError, Option } from 'commander';
import proto from '@temporalio/proto';
import { formatTimeline, historyTimeline } from '../cli/history-timeline.ts';
import { connectClient, temporalSettingsSchema } from '../client/connection.ts';
import { streamWorkflowId } from '../client/stream-id.ts';
import { CONTROLLER_API_QPS } from '../stack/kubernetes.ts';
import { startStack, type Stack } from '../stack/index.ts';
import { applyYaml, installArcaneCrds, installTestPluginClasses } from '../stack/manifests.ts';
import { OperatorProcess } from '../stack/operator-process.ts';
import { waitFor } from '../stack/wait.ts';
import { PLUGINS, type TestPlugin } from '../tests/fixtures/plugins.ts';
import { startFloor } from './floor.ts';
import {
  apiserverCalls,
  cpuBetween,
  cpuSeconds,
  callsBetween,
  countsBetween,
  inPool,
  latencies,
  metricSum,
  ownApiCalls,
  PhaseClock,
  type ApiserverCalls,
  type Latencies,
  type Memory,
} from './measure.ts';
import {
  OPERATOR_CODES,
  publish,
  unfinished,
  type BurstRecord,
  type OperatorCode,
  type ContenderResult,
  type OperatorResult,
  type WatcherRestart,
} from './report.ts';
import { startUpstream, upstreamCannotRun } from './upstream.ts';

const CONTENDERS = ['operator', 'upstream', 'floor'] as const;
type Contender = (typeof CONTENDERS)[number];

interface Options {
  streams: number[];
  plugin: TestPlugin[];
  contenders: Contender[];
  pool: number;
  /** Seconds a contender may take to bring every stream to Running (`--deadline`; see deadlineMs). */
  deadline?: number;
  idleSeconds: number;
  controllerQps: number;
  label: string;
  record: boolean;
  /** Settings of the operator's processes (ARCANE_* variables), e.g. to compare two values of one. */
  operatorEnv: Record<string, string>;
  operatorCode: OperatorCode;
}

/** A fresh stack with the Arcane CRDs, one plugin's classes and a namespace with its templates and Secret. */
interface BenchStack {
  stack: Stack;
  kubeConfig: KubeConfig;
  plugin: TestPlugin;
  namespace: string;
}

function streamNames(count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `stream-${String(i).padStart(width, '0')}`);
}

async function onFreshStack<T>(
  contender: Contender,
  plugin: TestPlugin,
  options: Options,
  run: (bench: BenchStack) => Promise<T>,
): Promise<T> {
  const stack = await startStack({ controllerApiQps: options.controllerQps });
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(stack.kubeconfigPath);
    await installArcaneCrds(kubeConfig);
    await installTestPluginClasses(kubeConfig, [plugin.files]);
    const namespace = `bench-${contender}`;
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await applyYaml(kubeConfig, plugin.files.namespacedFiles, namespace);
    return await run({ stack, kubeConfig, plugin, namespace });
  } catch (error) {
    throw new Error(`${contender}: ${(error as Error).message} (logs in ${stack.logDir})`, { cause: error });
  } finally {
    await stack.stop();
  }
}

/** The API server's counters now. */
async function readCalls(bench: BenchStack): Promise<ApiserverCalls> {
  return apiserverCalls(await bench.stack.kubernetes.apiserverMetrics(), [bench.plugin.kind.group]);
}

/** Waits until the operator's calls on the API server have not changed for `quietMs`: the burst's work is done. */
async function quiet(bench: BenchStack, quietMs = 5_000): Promise<void> {
  let last = (await readCalls(bench)).operator;
  let since = Date.now();
  await waitFor(
    'the contender to go quiet',
    async () => {
      const now = (await readCalls(bench)).operator;
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= quietMs;
    },
    { timeoutMs: 600_000, intervalMs: 1_000 },
  );
}

interface Burst {
  latency: Latencies;
  /** What the contender asked of the API server from the first create until it went quiet (creates not counted). */
  calls: ApiserverCalls;
  /** Seconds the controller-manager's and the scheduler's requests waited in their client-side rate limiters. */
  stackThrottleSeconds: number;
  /** CPU seconds each process of the run used during the burst. */
  cpuSeconds: Record<string, number>;
}

/** Total time the stack's controllers have held requests back to stay within their request rate. */
async function stackThrottle(bench: BenchStack): Promise<number> {
  const { controllerManager, scheduler } = await bench.stack.kubernetes.controllerMetrics();
  const waited = 'rest_client_rate_limiter_duration_seconds_sum';
  return metricSum(controllerManager, waited) + metricSum(scheduler, waited);
}

/**
 * How long a contender may take to bring `streams` streams to Running: `--deadline`, else 5 minutes plus what a slow,
 * shared machine needs per stream.
 */
export function deadlineMs(options: Pick<Options, 'deadline'>, streams: number): number {
  return (options.deadline ?? 300 + streams * 5) * 1_000;
}

/**
 * Creates the streams (at most `pool` creates in flight, the same for every contender), hands each to `afterCreate`
 * without waiting for it, and waits until all are Running and the contender has gone quiet.
 */
async function burstOf(
  bench: BenchStack,
  names: readonly string[],
  options: Pick<Options, 'pool' | 'deadline'>,
  afterCreate: (name: string) => Promise<void> = () => Promise.resolve(),
): Promise<Burst> {
  const { pool } = options;
  const { kubeConfig, plugin, namespace } = bench;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const kind = plugin.kind;
  const clock = await PhaseClock.start(kubeConfig, kind, namespace, 'Running');
  try {
    const before = await readCalls(bench);
    const throttleBefore = await stackThrottle(bench);
    const stackDir = dirname(bench.stack.logDir);
    const cpuBefore = cpuSeconds(stackDir);
    const created = new Map<string, number>();
    const failures: string[] = [];
    await inPool(names, pool, async (name) => {
      created.set(name, Date.now());
      await custom.createNamespacedCustomObject({ ...kind, namespace, body: plugin.stream(name) });
      afterCreate(name).catch((error: unknown) => failures.push(`${name}: ${(error as Error).message}`));
    });
    const deadline = deadlineMs(options, names.length);
    const start = Math.min(...created.values());
    await waitFor(
      `${names.length} streams Running`,
      () => clock.reached.size >= names.length || Date.now() - start > deadline,
      { timeoutMs: deadline + 60_000, intervalMs: 250, abortIf: () => failures.slice(0, 3).join('; ') || undefined },
    );
    if (clock.reached.size < names.length) throw new Error(unfinished(clock.reached.size, names.length, deadline));
    const latency = latencies(created, clock.reached);
    const cpu = cpuBetween(cpuBefore, cpuSeconds(stackDir));
    await quiet(bench);
    const calls = callsBetween(before, await readCalls(bench));
    // The benchmark's own creates are not the contender's.
    const creates = `POST ${kind.plural}`;
    calls.byResource[creates] = (calls.byResource[creates] ?? 0) - names.length;
    calls.operator -= names.length;
    calls.all -= names.length;
    return { latency, calls, stackThrottleSeconds: (await stackThrottle(bench)) - throttleBefore, cpuSeconds: cpu };
  } finally {
    await clock.stop();
  }
}

function perStream(burst: Burst, count: number): ContenderResult {
  return {
    ...burst.latency,
    apiCallsPerStream: burst.calls.operator / count,
    eventsPerStream: burst.calls.events / count,
    clusterApiCallsPerStream: burst.calls.all / count,
    apiCalls: burst.calls.byResource,
    stackThrottleSeconds: burst.stackThrottleSeconds,
    cpuSeconds: burst.cpuSeconds,
  };
}

interface HistoryCount {
  total: number;
  /** Events per type, with signals counted under their names ("signal streamObserved"). */
  byType: Record<string, number>;
}

async function historyEvents(bench: BenchStack, names: readonly string[]): Promise<HistoryCount> {
  const temporal = await connectClient(
    temporalSettingsSchema.parse({ address: bench.stack.temporalAddress, namespace: bench.stack.temporalNamespace }),
  );
  try {
    const count: HistoryCount = { total: 0, byType: {} };
    await inPool(names, 20, async (name) => {
      const id = streamWorkflowId({ streamClass: bench.plugin.kind.streamClass, namespace: bench.namespace, name });
      const events = (await temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
      // One stream's whole history, kept with the stack's logs, shows where its events go.
      if (name === names[0]) {
        writeFileSync(join(bench.stack.logDir, `history-${name}.txt`), `${formatTimeline(historyTimeline(events))}\n`);
        writeFileSync(join(bench.stack.logDir, `history-${name}.json`), JSON.stringify(events, null, 1));
      }
      count.total += events.length;
      for (const event of events) {
        const type = eventTypeName(event);
        count.byType[type] = (count.byType[type] ?? 0) + 1;
      }
    });
    return count;
  } finally {
    await temporal.connection.close();
  }
}

function eventTypeName(event: proto.temporal.api.history.v1.IHistoryEvent): string {
  const type = proto.temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? 'unknown';
  const short = type.replace(/^EVENT_TYPE_/, '').toLowerCase();
  const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
  return signal ? `signal ${signal}` : short;
}

const perStreamCounts = (count: HistoryCount, streams: number): Record<string, number> =>
  Object.fromEntries(
    Object.entries(count.byType)
      .sort(([, a], [, b]) => b - a)
      .map(([type, n]) => [type, Math.round((n / streams) * 100) / 100]),
  );

const steadyAndPeak = (afterIdle: Memory) => ({
  steadyRssBytes: afterIdle.rssBytes,
  peakRssBytes: afterIdle.peakRssBytes,
});

/** How long after a restarted watcher's first resync its signals are given to land, before they are counted. */
const RESTART_SETTLE_MS = 10_000;

/**
 * The watcher stopped and started again with every stream Running: the API calls (the API server's count, and the new
 * watcher's own, LISTs included) and history events it costs per stream, how many streams its resyncs skipped, and the
 * new watcher's memory.
 */
async function restartWatcher(
  bench: BenchStack,
  watcher: OperatorProcess,
  names: readonly string[],
): Promise<WatcherRestart> {
  const before = await readCalls(bench);
  const historyBefore = (await historyEvents(bench, names)).total;
  await watcher.stop();
  await watcher.start();
  await waitFor(
    'the restarted watcher to finish its first resync',
    async () => metricSum(await watcher.metrics(), 'arcane_watcher_resyncs_total') >= 1,
  );
  // A measurement window, not a wait for a condition: any signal the resync sent lands in it.
  await delay(RESTART_SETTLE_MS);
  const metrics = await watcher.metrics();
  const memory = watcher.memory();
  const calls = callsBetween(before, await readCalls(bench));
  const history = (await historyEvents(bench, names)).total - historyBefore;
  const round = (value: number) => Math.round(value * 1_000) / 1_000;
  return {
    apiCallsPerStream: round(calls.operator / names.length),
    ownApiCallsPerStream: round(metricSum(metrics, 'arcane_kubernetes_api_calls_total') / names.length),
    historyEventsPerStream: round(history / names.length),
    resyncs: metricSum(metrics, 'arcane_watcher_resyncs_total'),
    unchangedStreams: metricSum(metrics, 'arcane_watcher_resync_unchanged_streams_total'),
    rssBytes: memory.rssBytes,
    peakRssBytes: memory.peakRssBytes,
  };
}

const operatorClasses = new Map<OperatorCode, Promise<typeof OperatorProcess>>();

/**
 * What starts the operator's processes with its code as `code` says. `dist`: compiled as the image runs it (built here
 * once per bench run, then started through the compiled stack/operator-process.js, which starts the compiled CLI).
 */
function operatorProcessClass(code: OperatorCode): Promise<typeof OperatorProcess> {
  const known = operatorClasses.get(code);
  if (known) return known;
  const loaded = (async () => {
    if (code === 'sources') return OperatorProcess;
    const root = join(import.meta.dirname, '..');
    execFileSync(process.execPath, [join(root, 'tools/build-dist.ts')], { stdio: 'inherit' });
    const compiled = pathToFileURL(join(root, 'dist/stack/operator-process.js')).href;
    return ((await import(compiled)) as typeof import('../stack/operator-process.ts')).OperatorProcess;
  })();
  operatorClasses.set(code, loaded);
  return loaded;
}

/** RSS, JS heap and external memory of one of the operator's processes, for the log. */
function heapFigures(memory: Memory, metrics: string): string {
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  const reported = (name: string) => mib(metricSum(metrics, name));
  return (
    `RSS ${mib(memory.rssBytes)} MiB, JS heap used ${reported('nodejs_heap_size_used_bytes')} of ` +
    `${reported('nodejs_heap_size_total_bytes')} MiB, external ${reported('nodejs_external_memory_bytes')} MiB`
  );
}

async function runOperator(bench: BenchStack, names: readonly string[], options: Options): Promise<OperatorResult> {
  const { stack } = bench;
  const env = {
    ARCANE_KUBECONFIG: stack.kubeconfigPath,
    ARCANE_TEMPORAL_ADDRESS: stack.temporalAddress,
    ARCANE_TEMPORAL_NAMESPACE: stack.temporalNamespace,
    ARCANE_LOG_LEVEL: 'info',
    ...options.operatorEnv,
  };
  const Operator = await operatorProcessClass(options.operatorCode);
  const worker = new Operator('worker', env, stack.logDir);
  const watcher = new Operator('watcher', { ...env, ARCANE_LEADER_ELECTION_ENABLED: 'false' }, stack.logDir);
  try {
    await worker.start();
    await watcher.start();
    // The watcher's first resync (it runs once the StreamClasses' streams are listed) is part of starting, not of the
    // burst: streams created before it would get its signal too.
    await waitFor(
      'the watcher to finish its first resync',
      async () => metricSum(await watcher.metrics(), 'arcane_watcher_resyncs_total') >= 1,
    );
    const ownCalls = async () => ownApiCalls(await worker.metrics(), await watcher.metrics());
    const reportedBefore = await ownCalls();
    const burst = await burstOf(bench, names, options);
    const reportedCalls = countsBetween(reportedBefore, await ownCalls());
    for (const [name, process] of [
      ['worker', worker],
      ['watcher', watcher],
    ] as const) {
      console.log(`[bench] ${name} after the burst: ${heapFigures(process.memory(), await process.metrics())}`);
    }
    const history = await historyEvents(bench, names);
    const historyByType = perStreamCounts(history, names.length);
    console.log(`[bench] operator: all Running after ${burst.latency.totalMs} ms; idle for ${options.idleSeconds} s`);
    console.log(`[bench] operator: history events per stream by type ${JSON.stringify(historyByType)}`);

    const idleBefore = await readCalls(bench);
    // A measurement window, not a wait for a condition: what an idle operator does in it is the figure.
    await delay(options.idleSeconds * 1_000);
    const idleCalls = callsBetween(idleBefore, await readCalls(bench));
    const idleHistory = (await historyEvents(bench, names)).total - history.total;
    const perStreamHour = (total: number) => (total / names.length) * (3_600 / options.idleSeconds);
    // Read before the restart replaces the watcher's process, so that its peak is the burst's and not the new
    // process's first LIST of every object (the restart records that one); the worker's at the same point.
    const workerMemory = steadyAndPeak(worker.memory());
    const watcherMemory = steadyAndPeak(watcher.memory());
    const restart = await restartWatcher(bench, watcher, names);
    console.log(`[bench] operator: watcher restart ${JSON.stringify(restart)}`);
    const result: OperatorResult = {
      ...perStream(burst, names.length),
      reportedApiCallsPerStream: Object.values(reportedCalls).reduce((sum, n) => sum + n, 0) / names.length,
      reportedApiCalls: reportedCalls,
      historyEventsPerStream: history.total / names.length,
      historyEventsPerStreamByType: historyByType,
      worker: workerMemory,
      watcher: watcherMemory,
      idle: {
        windowSeconds: options.idleSeconds,
        apiCallsPerStreamHour: perStreamHour(idleCalls.operator),
        historyEventsPerStreamHour: perStreamHour(idleHistory),
      },
      watcherRestart: restart,
    };
    await watcher.stop();
    await worker.stop();
    return result;
  } finally {
    await Promise.allSettled([watcher.kill(), worker.kill()]);
  }
}

async function runUpstream(bench: BenchStack, names: readonly string[], options: Options): Promise<ContenderResult> {
  const { stack, kubeConfig, plugin } = bench;
  const upstream = await startUpstream(kubeConfig, stack.kubeconfigPath, stack.logDir, plugin.kind.streamClass);
  try {
    // client-go's count of upstream's requests, its few watches included.
    const reported = async () => metricSum(await upstream.metrics(), 'rest_client_requests_total');
    const reportedBefore = await reported();
    const burst = await burstOf(bench, names, options);
    return {
      ...perStream(burst, names.length),
      reportedApiCallsPerStream: ((await reported()) - reportedBefore) / names.length,
      upstream: steadyAndPeak(upstream.memory()),
    };
  } finally {
    await upstream.stop();
  }
}

async function runFloor(bench: BenchStack, names: readonly string[], options: Options): Promise<ContenderResult> {
  const floor = await startFloor(bench.kubeConfig, bench.namespace, {
    streamClass: bench.plugin.kind.streamClass,
    streamingTemplate: bench.plugin.streamingTemplate,
    backfillTemplate: bench.plugin.backfillTemplate,
  });
  try {
    const burst = await burstOf(bench, names, options, (name) => floor.drive(name));
    return { ...perStream(burst, names.length), reportedApiCallsPerStream: floor.apiCalls() / names.length };
  } finally {
    await floor.stop();
  }
}

const RUNS: Record<Contender, (bench: BenchStack, names: readonly string[], options: Options) => Promise<object>> = {
  operator: runOperator,
  upstream: runUpstream,
  floor: runFloor,
};

function machine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
}

async function runAll(count: number, plugin: TestPlugin, options: Options): Promise<BurstRecord> {
  const record: BurstRecord = {
    at: new Date().toISOString(),
    streams: count,
    plugin: plugin.name,
    label: options.label,
    machine: machine(),
    controllerApiQps: options.controllerQps,
    ...(options.contenders.includes('operator') ? { operatorCode: options.operatorCode } : {}),
  };
  const names = streamNames(count);
  for (const contender of options.contenders) {
    const refused = contender === 'upstream' ? upstreamCannotRun(plugin) : undefined;
    if (refused !== undefined) {
      record.notRun = { ...record.notRun, [contender]: refused };
      console.error(`[bench] ${count} streams, ${plugin.name} plugin: ${contender} not run: ${refused}`);
      continue;
    }
    console.log(`[bench] ${count} streams, ${plugin.name} plugin: ${contender} on a fresh stack`);
    try {
      const result = await onFreshStack(contender, plugin, options, (bench) => RUNS[contender](bench, names, options));
      Object.assign(record, { [contender]: result });
      console.log(`[bench] ${contender}: ${JSON.stringify(result)}`);
    } catch (error) {
      // One contender that cannot run the streams must not cost the others' figures.
      record.failed = { ...record.failed, [contender]: (error as Error).message };
      console.error(`[bench] ${contender} failed: ${(error as Error).message}`);
    }
  }
  return record;
}

function wholeNumber(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}, not "${text}"`);
    }
    return value;
  };
}

/** `NAME=value` of one ARCANE_* setting (or Node's flags), added to those given before. */
function operatorSetting(text: string, previous: Record<string, string>): Record<string, string> {
  const match = /^(ARCANE_[A-Z0-9_]+|NODE_OPTIONS|MALLOC_ARENA_MAX)=(.*)$/.exec(text);
  if (!match)
    throw new InvalidArgumentError('expected ARCANE_<SETTING>=<value>, NODE_OPTIONS=<flags> or MALLOC_ARENA_MAX=<n>');
  return { ...previous, [match[1] as string]: match[2] as string };
}

function streamCounts(text: string): number[] {
  return text.split(',').map((part) => wholeNumber(1, 100_000)(part.trim()));
}

function oneOf<T extends string>(known: readonly T[]) {
  return (text: string): T[] =>
    text.split(',').map((part) => {
      const name = part.trim();
      if (!known.includes(name as T))
        throw new InvalidArgumentError(`must be among ${known.join(', ')}, not "${name}"`);
      return name as T;
    });
}

function plugins(text: string): TestPlugin[] {
  const names = oneOf(PLUGINS.map((plugin) => plugin.name))(text);
  return PLUGINS.filter((plugin) => names.includes(plugin.name));
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('Burst benchmark: N streams created at once, run by this operator, upstream, and direct writes.')
    .option('--streams <counts>', 'comma-separated stream counts, one run (and stack) each', streamCounts, [100])
    .addOption(
      new Option('--plugin <names>', `test plugins (${PLUGINS.map((p) => p.name).join(', ')})`)
        .argParser(plugins)
        .default([...PLUGINS], PLUGINS.map((p) => p.name).join(',')),
    )
    .option('--contenders <names>', `who runs the streams (${CONTENDERS.join(', ')})`, oneOf(CONTENDERS), [
      ...CONTENDERS,
    ])
    .option('--pool <n>', 'stream creates in flight at once', wholeNumber(1, 1_000), 50)
    .option(
      '--deadline <s>',
      'give up on a contender whose streams are not all Running this long after the first create (default 300 + 5 per stream)',
      wholeNumber(1, 1_000_000),
    )
    .option('--idle-seconds <s>', "length of the operator's idle window after the burst", wholeNumber(1, 3_600), 60)
    .option(
      '--controller-qps <n>',
      'request rate of the stack’s controller-manager and scheduler (burst twice that)',
      wholeNumber(1, 1_000_000),
      CONTROLLER_API_QPS,
    )
    .option('--label <text>', 'what this run measures, kept with its results', '')
    .option(
      '--operator-env <NAME=value>',
      "an ARCANE_* setting, NODE_OPTIONS or MALLOC_ARENA_MAX for the operator's worker and watcher (repeatable), e.g. ARCANE_WORKFLOW_CACHE_MEMORY_MIB=1024",
      operatorSetting,
      {},
    )
    .addOption(
      new Option('--operator-code <code>', 'run the operator compiled, as its image does, or from its sources')
        .choices(OPERATOR_CODES)
        .default('dist'),
    )
    .option('--no-record', 'print only; do not append to bench/results.jsonl')
    .showHelpAfterError()
    .action(async (options: Options) => {
      for (const count of options.streams) {
        for (const plugin of options.plugin) {
          const record = await runAll(count, plugin, options);
          if (options.record) await publish(record);
        }
      }
    });
}

if (import.meta.main) await benchCommand().parseAsync();
