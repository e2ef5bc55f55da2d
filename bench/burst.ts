// The burst benchmark (SPEC 9): N streams created at once on a local stack of their own, run by the operator's real
// processes (`arcane worker`, `arcane watcher`); then the same N driven to Running by direct Kubernetes writes (the
// floor). Prints the figures and appends them to bench/results.md and bench/results.jsonl.
//   npm run bench -- --streams 100,1000
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import { connectClient, temporalSettingsSchema } from '../client/connection.ts';
import { streamWorkflowId } from '../client/stream-id.ts';
import { startStack, type Stack } from '../stack/index.ts';
import { applyYaml, installArcaneCrds, installTestPluginClasses, loadYaml, TEST_PLUGIN } from '../stack/manifests.ts';
import { OperatorProcess } from '../stack/operator-process.ts';
import { waitFor } from '../stack/wait.ts';
import { startFloor } from './floor.ts';
import { inPool, latencies, metricSum, PhaseClock, type Latencies } from './measure.ts';

const KIND = { group: 'streaming.sneaksanddata.com', version: 'v1beta1', plural: 'mockstreams' };
const STREAM_CLASS = 'mock-stream';
const API_CALLS = 'arcane_kubernetes_api_calls_total';

interface Options {
  streams: number[];
  pool: number;
  idleSeconds: number;
  floor: boolean;
  record: boolean;
}

interface Memory {
  rssBytes: number;
  peakRssBytes: number;
}

interface BurstResult {
  streams: number;
  operator: Latencies & {
    apiCallsPerStream: number;
    historyEventsPerStream: number;
    workerMemory: Memory;
    watcherMemory: Memory;
  };
  idle: { windowSeconds: number; apiCallsPerStreamHour: number; historyEventsPerStreamHour: number };
  floor?: Latencies & { apiCallsPerStream: number };
}

function streamNames(count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `stream-${String(i).padStart(width, '0')}`);
}

/** The v0 example stream of the test plugin, a Job backend with a backfill template. */
function streamBody(name: string) {
  const example = loadYaml(TEST_PLUGIN.streamsFile).find((stream) => stream.metadata?.name === 'mock-v0');
  if (!example) throw new Error(`no mock-v0 example in ${TEST_PLUGIN.streamsFile}`);
  return { ...example, metadata: { name } };
}

async function createNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  await applyYaml(kubeConfig, TEST_PLUGIN.namespacedFiles, name);
}

/** Creates the streams through a pool, noting when each create was sent, until `reached` has them all. */
async function burstOf(
  kubeConfig: KubeConfig,
  namespace: string,
  names: readonly string[],
  pool: number,
  afterCreate: (name: string) => Promise<void>,
): Promise<Latencies> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const clock = await PhaseClock.start(kubeConfig, KIND, namespace, 'Running');
  try {
    const created = new Map<string, number>();
    await inPool(names, pool, async (name) => {
      created.set(name, Date.now());
      await custom.createNamespacedCustomObject({ ...KIND, namespace, body: streamBody(name) });
      await afterCreate(name);
    });
    // 5 minutes, plus what a slow machine needs per stream.
    const timeoutMs = 300_000 + names.length * 1_000;
    await waitFor(`${names.length} streams Running`, () => clock.reached.size >= names.length, {
      timeoutMs,
      intervalMs: 250,
    });
    return latencies(created, clock.reached);
  } finally {
    await clock.stop();
  }
}

async function historyEvents(temporal: Client, namespace: string, names: readonly string[]): Promise<number> {
  let total = 0;
  await inPool(names, 20, async (name) => {
    const handle = temporal.workflow.getHandle(streamWorkflowId({ streamClass: STREAM_CLASS, namespace, name }));
    // Read first, then add: `total += await ...` would add to the total as it was before the await.
    const events = (await handle.fetchHistory()).events?.length ?? 0;
    total += events;
  });
  return total;
}

/** Waits until `read` has not changed for `quietMs`: the work the burst set off is done. */
async function quiet(read: () => Promise<number>, quietMs = 5_000): Promise<void> {
  let last = await read();
  let since = Date.now();
  await waitFor(
    'the operator to go quiet',
    async () => {
      const now = await read();
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= quietMs;
    },
    { timeoutMs: 600_000, intervalMs: 500 },
  );
}

async function runBurst(count: number, options: Options): Promise<BurstResult> {
  const stack: Stack = await startStack();
  const processes: OperatorProcess[] = [];
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(stack.kubeconfigPath);
    await installArcaneCrds(kubeConfig);
    await installTestPluginClasses(kubeConfig);
    const env = {
      ARCANE_KUBECONFIG: stack.kubeconfigPath,
      ARCANE_TEMPORAL_ADDRESS: stack.temporalAddress,
      ARCANE_TEMPORAL_NAMESPACE: stack.temporalNamespace,
      ARCANE_LOG_LEVEL: 'info',
    };
    const worker = new OperatorProcess('worker', env, stack.logDir);
    const watcher = new OperatorProcess('watcher', { ...env, ARCANE_LEADER_ELECTION_ENABLED: 'false' }, stack.logDir);
    processes.push(worker, watcher);
    await worker.start();
    await watcher.start();
    const temporal = await connectClient(
      temporalSettingsSchema.parse({ address: stack.temporalAddress, namespace: stack.temporalNamespace }),
    );
    const apiCalls = async () =>
      metricSum(await worker.metrics(), API_CALLS) + metricSum(await watcher.metrics(), API_CALLS);

    const names = streamNames(count);
    const namespace = 'bench-operator';
    await createNamespace(kubeConfig, namespace);
    const callsBefore = await apiCalls();
    console.log(`[bench ${count}] creating ${count} streams (${options.pool} creates in flight)`);
    const operator = await burstOf(kubeConfig, namespace, names, options.pool, () => Promise.resolve());
    const workerMemory = worker.memory();
    const watcherMemory = watcher.memory();
    console.log(`[bench ${count}] all Running after ${operator.totalMs} ms; waiting for the operator to go quiet`);
    await quiet(apiCalls);
    const burstCalls = (await apiCalls()) - callsBefore;
    const burstHistory = await historyEvents(temporal, namespace, names);

    console.log(`[bench ${count}] idle for ${options.idleSeconds} s`);
    const idleCallsBefore = await apiCalls();
    // A measurement window, not a wait for a condition: what an idle operator does in it is the figure.
    await delay(options.idleSeconds * 1_000);
    const idleCalls = (await apiCalls()) - idleCallsBefore;
    const idleHistory = (await historyEvents(temporal, namespace, names)) - burstHistory;
    const perStreamHour = (total: number) => (total / count) * (3_600 / options.idleSeconds);
    await temporal.connection.close();
    await watcher.stop();
    await worker.stop();

    const result: BurstResult = {
      streams: count,
      operator: {
        ...operator,
        apiCallsPerStream: burstCalls / count,
        historyEventsPerStream: burstHistory / count,
        workerMemory,
        watcherMemory,
      },
      idle: {
        windowSeconds: options.idleSeconds,
        apiCallsPerStreamHour: perStreamHour(idleCalls),
        historyEventsPerStreamHour: perStreamHour(idleHistory),
      },
    };
    if (options.floor) {
      console.log(`[bench ${count}] floor: the same writes issued directly`);
      const floorNamespace = 'bench-floor';
      await createNamespace(kubeConfig, floorNamespace);
      const floor = await startFloor(kubeConfig, floorNamespace, {
        streamClass: STREAM_CLASS,
        streamingTemplate: 'mock-streaming-job',
        backfillTemplate: 'mock-backfill-job',
      });
      try {
        const latency = await burstOf(kubeConfig, floorNamespace, names, options.pool, (name) => floor.drive(name));
        result.floor = { ...latency, apiCallsPerStream: floor.apiCalls() / count };
      } finally {
        await floor.stop();
      }
    }
    return result;
  } catch (error) {
    throw new Error(`${(error as Error).message} (operator and stack logs in ${stack.logDir})`, { cause: error });
  } finally {
    await Promise.allSettled(processes.map((process) => process.kill()));
    await stack.stop();
  }
}

const seconds = (ms: number) => (ms / 1_000).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const figure = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));

function machine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${mib(totalmem())} MiB`;
}

const HEADER = `# Benchmark results

Appended by \`npm run bench\` (bench/burst.ts); one row per run, newest last. Times from the first create sent to the
last stream Running (backfill done); latency per stream from its create to Running. API calls: the operator's
\`arcane_kubernetes_api_calls_total\` (worker and watcher) per stream, and the floor's own calls; neither counts the
stream's create or the watches. The floor creates a stream only when a lane of the pool is free, so its per-stream
latency is that of one stream alone and only its total compares with the operator's. Idle: per idle stream per hour,
extrapolated from the idle window. RSS: peak of each process. The machines are shared: compare rows of the same day
and machine.

| date | machine | streams | total s | p50 s | p99 s | API calls/stream | history events/stream | worker RSS MiB | watcher RSS MiB | idle window s | idle API calls/stream/h | idle history events/stream/h | floor total s | floor p50 s | floor p99 s | floor API calls/stream |
| ---- | ------- | ------- | ------- | ----- | ----- | ---------------- | --------------------- | -------------- | --------------- | ------------- | ----------------------- | ---------------------------- | ------------- | ----------- | ----------- | ---------------------- |
`;

function row(result: BurstResult): string {
  const { operator, idle, floor } = result;
  const cells = [
    new Date().toISOString().slice(0, 10),
    machine(),
    String(result.streams),
    seconds(operator.totalMs),
    seconds(operator.p50Ms),
    seconds(operator.p99Ms),
    figure(operator.apiCallsPerStream),
    figure(operator.historyEventsPerStream),
    mib(operator.workerMemory.peakRssBytes),
    mib(operator.watcherMemory.peakRssBytes),
    String(idle.windowSeconds),
    figure(idle.apiCallsPerStreamHour),
    figure(idle.historyEventsPerStreamHour),
    floor ? seconds(floor.totalMs) : '-',
    floor ? seconds(floor.p50Ms) : '-',
    floor ? seconds(floor.p99Ms) : '-',
    floor ? figure(floor.apiCallsPerStream) : '-',
  ];
  return `| ${cells.join(' | ')} |\n`;
}

function record(result: BurstResult): void {
  const dir = import.meta.dirname;
  const table = join(dir, 'results.md');
  if (!existsSync(table)) writeFileSync(table, HEADER);
  appendFileSync(table, row(result));
  appendFileSync(join(dir, 'results.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), ...result })}\n`);
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

function streamCounts(text: string): number[] {
  return text.split(',').map((part) => wholeNumber(1, 100_000)(part.trim()));
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('Burst benchmark: N streams created at once, run by the operator, then by direct writes.')
    .option('--streams <counts>', 'comma-separated stream counts, one run (and stack) each', streamCounts, [100])
    .option('--pool <n>', 'stream creates in flight at once', wholeNumber(1, 1_000), 50)
    .option('--idle-seconds <s>', 'length of the idle window after the burst', wholeNumber(1, 3_600), 60)
    .option('--no-floor', 'skip the floor run')
    .option('--no-record', 'print only; do not append to bench/results.md')
    .showHelpAfterError()
    .action(async (options: Options) => {
      for (const count of options.streams) {
        const result = await runBurst(count, options);
        console.log(JSON.stringify(result, null, 2));
        if (options.record) record(result);
      }
    });
}

if (import.meta.main) await benchCommand().parseAsync();
