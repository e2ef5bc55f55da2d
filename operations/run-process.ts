// The shape every process entry shares: validated configuration (exit 2 with one line per problem), then run until
// SIGTERM or SIGINT and stop cleanly (exit 0). A process that cannot start exits 1 at once, whatever it had opened
// (a pod that stays up without working would never be restarted).
import { Command } from 'commander';
import { ConfigError } from './config-schema.ts';
import { settingsInput, withSettingOptions, type Setting } from './settings.ts';

export interface Running {
  stop(): Promise<void>;
}

/** Returns the exit code; `start` receives the validated configuration. */
export async function runProcess<C>(parse: () => C, start: (config: C) => Promise<Running>): Promise<number> {
  let config: C;
  try {
    config = parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  // Listen for SIGTERM before starting: one that comes while the process starts stops it cleanly once it has started,
  // instead of killing it halfway.
  const stopRequested = new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A repeated SIGTERM (a supervisor that signals the process and its group) must not cut the drain short; a
      // second Ctrl-C is a person who wants out now.
      if (stopping && signal === 'SIGINT') process.exit(130);
      stopping = true;
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  let running: Running;
  try {
    running = await start(config);
  } catch (error) {
    process.stderr.write(`could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  await stopRequested;
  await running.stop();
  return 0;
}

/** A process's command: an option per setting; the action parses them with the environment and runs the process. */
export function processCommand<C>(spec: {
  name: string;
  description: string;
  settings: readonly Setting[];
  parse: (input: Record<string, unknown>) => C;
  start: (config: C) => Promise<Running>;
  env?: NodeJS.ProcessEnv;
}): Command {
  const command = new Command(spec.name).description(spec.description).showHelpAfterError();
  withSettingOptions(command, spec.settings);
  return command.action(async () => {
    const input = () => spec.parse(settingsInput(command, spec.settings, spec.env ?? process.env));
    const code = await runProcess(input, spec.start);
    // Once stopped (or failed to start) there is nothing left to do: a connection a client library keeps open (an
    // idle keep-alive socket, a watch a proxy holds) must not keep the process, and its pod, alive.
    if (code !== 2) process.exit(code);
    process.exitCode = code;
  });
}
