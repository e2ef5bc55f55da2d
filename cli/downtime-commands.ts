// `arcane downtime declare|stop|list`: the commands around cli/downtime.ts, talking to Kubernetes only.
import { Command } from 'commander';
import { checkDowntimeKey, checkObjectName, checkPrefix, namespaceOption, optionalNamespace } from './arguments.ts';
import { kubeConfigFrom, withKubernetesOptions } from './connections.ts';
import {
  declareDowntimeOn,
  DOWNTIME_LABEL,
  DowntimeClient,
  stopDowntimeOn,
  summarizeDowntimes,
  type Change,
  type StreamLocation,
  type StreamObject,
} from './downtime.ts';
import { oneLine, parseOutputFormat, printJson, shortDuration, table, withExample } from './output.ts';

/** Applies `change` to each stream, one line per stream; returns how many were changed. */
async function changeEach(
  client: DowntimeClient,
  at: StreamLocation,
  streams: StreamObject[],
  done: string,
  change: (stream: StreamObject) => Change,
): Promise<number> {
  let changed = 0;
  for (const stream of streams) {
    const name = `${stream.metadata.namespace}/${stream.metadata.name}`;
    let outcome: Change;
    try {
      outcome = await client.update(at, stream, change);
    } catch (error) {
      outcome = { skipped: `not changed: ${oneLine(error)}` };
    }
    if ('updated' in outcome) changed++;
    process.stdout.write(`${name}: ${'updated' in outcome ? done : `skipped, ${outcome.skipped}`}\n`);
  }
  return changed;
}

export function downtimeCommands(env: NodeJS.ProcessEnv = process.env): Command {
  const downtime = new Command('downtime').description(
    `suspend a group of streams under a key and resume that group later (label ${DOWNTIME_LABEL}, as kubectl-arcane)`,
  );

  const declare = withKubernetesOptions(
    new Command('declare')
      .description('suspend the running streams of STREAM_CLASS whose names start with --prefix, labelled with KEY')
      .argument('<STREAM_CLASS>', 'the StreamClass whose streams to suspend')
      .argument('<KEY>', 'a unique name for this downtime; `downtime stop` resumes exactly the streams it labelled')
      .option('--prefix <PREFIX>', 'only streams whose name starts with this (default: every stream of the class)', '')
      .option(...namespaceOption),
  );
  withExample(declare, 'arcane downtime declare mock-stream db-maintenance-0412 --prefix orders- -n default');
  declare.action(async (streamClass: string, key: string, options: { prefix: string; namespace?: string }) => {
    checkObjectName('STREAM_CLASS', streamClass);
    checkDowntimeKey(key);
    const prefix = checkPrefix(options.prefix);
    const namespace = optionalNamespace(options.namespace);
    const client = new DowntimeClient(kubeConfigFrom(declare, env));
    const at = await client.location(streamClass);
    const matching = (await client.streams(at, namespace)).filter((stream) => stream.metadata.name.startsWith(prefix));
    const now = new Date();
    const changed = await changeEach(client, at, matching, `suspended (downtime ${key})`, (stream) =>
      declareDowntimeOn(stream, key, now),
    );
    process.stdout.write(`${changed} of ${matching.length} matching streams suspended under downtime ${key}\n`);
  });
  downtime.addCommand(declare);

  const stop = withKubernetesOptions(
    new Command('stop')
      .description('resume the streams of STREAM_CLASS labelled with KEY, removing the label and the begin time')
      .argument('<STREAM_CLASS>', 'the StreamClass the downtime was declared on')
      .argument('<KEY>', 'the key the downtime was declared with')
      .option(...namespaceOption),
  );
  withExample(stop, 'arcane downtime stop mock-stream db-maintenance-0412');
  stop.action(async (streamClass: string, key: string, options: { namespace?: string }) => {
    checkObjectName('STREAM_CLASS', streamClass);
    checkDowntimeKey(key);
    const namespace = optionalNamespace(options.namespace);
    const client = new DowntimeClient(kubeConfigFrom(stop, env));
    const at = await client.location(streamClass);
    const labelled = await client.streams(at, namespace, `${DOWNTIME_LABEL}=${key}`);
    const changed = await changeEach(client, at, labelled, 'resumed', (stream) => stopDowntimeOn(stream, key));
    process.stdout.write(`${changed} of ${labelled.length} streams in downtime ${key} resumed\n`);
  });
  downtime.addCommand(stop);

  const list = withKubernetesOptions(
    new Command('list')
      .description('the active downtimes: key, stream classes, number of streams and how long ago it began')
      .argument('[STREAM_CLASS]', 'only downtimes of this StreamClass (default: every class)')
      .option('-o, --output <FORMAT>', 'wide (adds the streams) or json'),
  );
  withExample(list, 'arcane downtime list', 'arcane downtime list mock-stream -o wide');
  list.action(async (streamClass: string | undefined, options: { output?: string }) => {
    if (streamClass !== undefined) checkObjectName('STREAM_CLASS', streamClass);
    const format = parseOutputFormat(options.output);
    const client = new DowntimeClient(kubeConfigFrom(list, env));
    const classes = streamClass === undefined ? await client.classNames() : [streamClass];
    const found: { streamClass: string; stream: StreamObject }[] = [];
    for (const name of classes) {
      try {
        const at = await client.location(name);
        for (const stream of await client.streams(at, undefined, DOWNTIME_LABEL))
          found.push({ streamClass: name, stream });
      } catch (error) {
        // One class whose CRD is missing does not hide the downtimes of the others.
        if (streamClass !== undefined) throw error;
        process.stderr.write(`arcane: skipped StreamClass ${name}: ${oneLine(error)}\n`);
      }
    }
    const downtimes = summarizeDowntimes(found);
    if (format === 'json') return printJson(downtimes);
    if (downtimes.length === 0) return void process.stdout.write('No active downtimes.\n');
    const now = Date.now();
    const header = ['KEY', 'CLASS', 'STREAMS', 'SINCE'];
    if (format === 'wide') header.push('STREAM NAMES');
    const rows = downtimes.map((summary) => {
      const since = summary.since === undefined ? '?' : shortDuration(now - summary.since);
      const row = [summary.key, summary.streamClasses.join(','), String(summary.streams.length), since];
      if (format === 'wide') row.push(summary.streams.join(','));
      return row;
    });
    process.stdout.write(`${table(header, rows)}\n`);
  });
  downtime.addCommand(list);
  return downtime;
}
