// `arcane stream ...`: list streams and steer one stream through its workflow's updates and query, as other
// services do; `backfill --wait` also follows the BackfillRequest in Kubernetes.
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { streamWorkflowId } from '../client/stream-id.ts';
import { getStreamState, requestBackfill, restartStream, resumeStream, suspendStream } from '../client/streams.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import type { UpdateAccepted } from '../workflows/messages.ts';
import {
  checkObjectName,
  namespaceOption,
  optionalNamespace,
  parsePayload,
  parseStreamArgument,
  parseTimeout,
} from './arguments.ts';
import { waitForBackfill } from './backfill-wait.ts';
import {
  kubeConfigFrom,
  temporalConnector,
  withClient,
  withKubernetesOptions,
  withTemporalOptions,
} from './connections.ts';
import { formatTimeline, historyTimeline } from './history-timeline.ts';
import { CliError, exitCodes, parseOutputFormat, printJson, withExample } from './output.ts';
import { formatStreamList, listStreams } from './stream-list.ts';

/** A command about one stream: `<STREAM_CLASS> <STREAM>` and the Temporal settings. */
function streamCommand(name: string, description: string): Command {
  const command = new Command(name)
    .description(description)
    .argument('<STREAM_CLASS>', 'the StreamClass serving the stream')
    .argument('<STREAM>', '<namespace>/<name>');
  return withTemporalOptions(command);
}

type Change = (client: Client, stream: StreamKey) => Promise<UpdateAccepted>;

const changes: [string, string, Change][] = [
  ['suspend', 'suspend the stream (sets its suspended field; the workflow deletes its Job)', suspendStream],
  ['resume', 'resume the stream (clears its suspended field; an open backfill continues first)', resumeStream],
  ['restart', "replace the stream's Job now (also the way out of Failed once restarts are exhausted)", restartStream],
];

export function streamCommands(env: NodeJS.ProcessEnv = process.env): Command {
  const stream = new Command('stream').description('list streams, and inspect and steer one through its workflow');

  const list = withTemporalOptions(
    new Command('list')
      .description('one line per stream workflow: phase, reason, age of the last transition, restarts, open backfill')
      .option('--class <STREAM_CLASS>', 'only streams of this StreamClass')
      .option(...namespaceOption)
      .option('-o, --output <FORMAT>', 'wide (adds the Job and the condition message) or json'),
  );
  withExample(list, 'arcane stream list --class mock-stream -n default', 'arcane stream list -o json');
  list.action(async (options: { class?: string; namespace?: string; output?: string }) => {
    const format = parseOutputFormat(options.output);
    const filter = {
      streamClass: options.class === undefined ? undefined : checkObjectName('--class', options.class),
      namespace: optionalNamespace(options.namespace),
    };
    const connect = temporalConnector(list, env);
    const streams = await withClient(connect, (client) => listStreams(client, filter));
    process.stdout.write(`${formatStreamList(streams, format, Date.now())}\n`);
  });
  stream.addCommand(list);

  const status = streamCommand('status', "print the stream's state as JSON (the workflow's state query)");
  withExample(status, 'arcane stream status mock-stream default/orders');
  status.action(async (streamClass: string, target: string) => {
    const key = parseStreamArgument(streamClass, target);
    const connect = temporalConnector(status, env);
    printJson(await withClient(connect, (client) => getStreamState(client, key)));
  });
  stream.addCommand(status);

  for (const [name, description, change] of changes) {
    const command = streamCommand(name, description).option('-o, --output <FORMAT>', 'json: the update result');
    withExample(command, `arcane stream ${name} mock-stream default/orders`);
    command.action(async (streamClass: string, target: string, options: { output?: string }) => {
      const key = parseStreamArgument(streamClass, target);
      const format = parseOutputFormat(options.output);
      const connect = temporalConnector(command, env);
      const accepted = await withClient(connect, (client) => change(client, key));
      if (format === 'json') printJson(accepted);
      else
        process.stdout.write(`${key.namespace}/${key.name}: ${accepted.message} (phase ${accepted.phase || 'none'})\n`);
    });
    stream.addCommand(command);
  }

  stream.addCommand(backfillCommand(env));

  const history = streamCommand('history', "the workflow's history as a timeline (-o json: the raw events)").option(
    '-o, --output <FORMAT>',
    'json: the raw history, as Temporal exports it',
  );
  withExample(
    history,
    'arcane stream history mock-stream default/orders',
    'arcane stream history mock-stream default/orders -o json',
  );
  history.action(async (streamClass: string, target: string, options: { output?: string }) => {
    const key = parseStreamArgument(streamClass, target);
    const format = parseOutputFormat(options.output);
    const connect = temporalConnector(history, env);
    const events = await withClient(connect, (client) =>
      client.workflow.getHandle(streamWorkflowId(key)).fetchHistory(),
    );
    // JSON as Temporal exports histories (the CLI and the UI read it; replay tests too).
    if (format === 'json') process.stdout.write(`${historyToJSON(events)}\n`);
    else process.stdout.write(`${formatTimeline(historyTimeline(events.events ?? []))}\n`);
  });
  stream.addCommand(history);
  return stream;
}

function backfillCommand(env: NodeJS.ProcessEnv): Command {
  const command = withKubernetesOptions(
    streamCommand('backfill', 'request a backfill (the open request is returned if there is one)')
      .option('--payload <JSON>', 'kept as spec.payload of the BackfillRequest')
      .option(
        '--wait',
        'return when the request is completed (reads it in Kubernetes); the exit code says how it ended',
      )
      .option('--timeout <DURATION>', 'with --wait: give up after this long, e.g. 30m (exit code 3)'),
  );
  withExample(command, 'arcane stream backfill mock-stream default/orders --wait --timeout 30m');
  command.action(
    async (streamClass: string, target: string, options: { payload?: string; wait?: boolean; timeout?: string }) => {
      const key = parseStreamArgument(streamClass, target);
      const payload = parsePayload(options.payload);
      const timeoutMs = parseTimeout(options.timeout);
      if (timeoutMs !== undefined && !options.wait) throw new CliError('--timeout needs --wait', exitCodes.usage);
      const connect = temporalConnector(command, env);
      const kubeConfig = options.wait ? kubeConfigFrom(command, env) : undefined;
      const result = await withClient(connect, (client) => requestBackfill(client, key, { payload }));
      const request = `BackfillRequest ${key.namespace}/${result.name}`;
      process.stdout.write(`${request} ${result.created ? 'created' : 'already open'}\n`);
      if (!kubeConfig) return;
      const end = await waitForBackfill(kubeConfig, { namespace: key.namespace, name: result.name }, timeoutMs);
      switch (end.outcome) {
        case 'completed':
          process.stdout.write(`${request} completed\n`);
          return;
        case 'deleted':
          throw new CliError(`${request} was deleted before it completed`, exitCodes.notCompleted);
        case 'failed':
          throw new CliError(`${request} failed: ${end.message}`, exitCodes.notCompleted);
        case 'timedOut': {
          const last = end.lastError ? ` (last error: ${end.lastError})` : '';
          throw new CliError(`${request} is still open after ${options.timeout}${last}`, exitCodes.timedOut);
        }
      }
    },
  );
  return command;
}
