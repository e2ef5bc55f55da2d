// `arcane stream ...`: steer one stream through its workflow's updates and query, as other services do.
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { connectClient, temporalSettingsSchema } from '../client/connection.ts';
import { streamWorkflowId } from '../client/stream-id.ts';
import { getStreamState, requestBackfill, restartStream, resumeStream, suspendStream } from '../client/streams.ts';
import { parseConfig } from '../operations/config-schema.ts';
import { processSettings, settingsInput, withSettingOptions } from '../operations/settings.ts';
import type { StreamKey } from '../workflows/messages.ts';

const temporalSettings = processSettings.filter((setting) => setting.path.startsWith('temporal.'));

/** `<namespace>/<name>` into a stream key of `streamClass`. */
export function parseStreamArgument(streamClass: string, stream: string): StreamKey {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(stream);
  if (!match) throw new Error(`stream must be <namespace>/<name> (e.g. default/orders), not ${JSON.stringify(stream)}`);
  return { streamClass, namespace: match[1]!, name: match[3]! };
}

function parsePayload(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new Error(`--payload must be a JSON object: ${(error as Error).message}`, { cause: error });
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new Error(`--payload must be a JSON object, not ${text}`);
  }
  return payload as Record<string, unknown>;
}

type Action = (client: Client, stream: StreamKey, payload?: Record<string, unknown>) => Promise<unknown>;

const actions: Record<string, { description: string; run: Action }> = {
  status: { description: "print the stream's state (the workflow's state query)", run: getStreamState },
  suspend: { description: 'suspend the stream (sets its suspended field)', run: suspendStream },
  resume: { description: 'resume the stream (clears its suspended field)', run: resumeStream },
  restart: { description: "replace the stream's Job now", run: restartStream },
  backfill: {
    description: 'request a backfill (returns the open request if there is one)',
    run: (client, stream, payload) => requestBackfill(client, stream, { payload }),
  },
  history: {
    description: "print the workflow's history as JSON",
    run: async (client, stream) => (await client.workflow.getHandle(streamWorkflowId(stream)).fetchHistory()).events,
  },
};

export function streamCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const stream = new Command('stream').description('inspect and steer one stream through its Temporal workflow');
  for (const [name, action] of Object.entries(actions)) {
    const command = new Command(name)
      .description(action.description)
      .argument('<streamClass>', 'the StreamClass serving the stream')
      .argument('<stream>', '<namespace>/<name>')
      .showHelpAfterError();
    if (name === 'backfill') command.option('--payload <json>', 'kept as spec.payload of the BackfillRequest');
    withSettingOptions(command, temporalSettings);
    command.action(async (streamClass: string, target: string) => {
      // All input is checked before connecting anywhere.
      const key = parseStreamArgument(streamClass, target);
      const payload = parsePayload(command.opts<{ payload?: string }>().payload);
      const temporal = parseConfig(
        'temporal',
        temporalSettingsSchema,
        settingsInput(command, temporalSettings, env).temporal,
      );
      const client = await connectClient(temporal);
      try {
        const result = await action.run(client, key, payload);
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        await client.connection.close();
      }
    });
    stream.addCommand(command);
  }
  return stream;
}
