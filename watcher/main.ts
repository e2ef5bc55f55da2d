// The watcher process: configuration from flags and ARCANE_* / ARCANE_OPERATOR__* variables, JSON logs, and a clean
// stop on SIGTERM. `node watcher/main.ts --help` lists every setting.
import { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { configFromSources, envNames, flagName, SETTINGS } from './config-sources.ts';
import { ConfigError, parseWatcherConfig } from './config.ts';
import { startWatcher } from './watcher.ts';

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function program(): Command {
  const command = new Command('arcane-watcher')
    .description('Turns Kubernetes events about Arcane streams into signals on their Temporal workflows.')
    .showHelpAfterError();
  for (const setting of SETTINGS) {
    if (setting.secret) continue;
    command.option(`--${flagName(setting)} <value>`, `${setting.help} (env ${envNames(setting)[0]})`);
  }
  command.addHelpText('after', '\nSecrets are read from the environment only: ARCANE_TEMPORAL_API_KEY.');
  return command;
}

function logger(level: string, pretty: boolean): Logger {
  return pino({ level, ...(pretty ? { transport: { target: 'pino-pretty' } } : {}) });
}

/** Runs the watcher until SIGTERM or SIGINT; returns the process exit code. */
export async function main(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const options = program().parse(argv).opts<Record<string, string | undefined>>();
  const flags = Object.fromEntries(SETTINGS.map((s) => [flagName(s), options[camelCase(flagName(s))]]));
  let config;
  try {
    config = parseWatcherConfig(configFromSources(env, flags));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const log = logger(config.log.level, config.log.pretty);
  // The watcher handles its own failures; anything that slips through is logged rather than ending the process.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
  let watcher;
  try {
    watcher = await startWatcher(config, { logger: log });
  } catch (error) {
    // A kubeconfig without a cluster, a port in use: nothing a retry would fix.
    log.fatal({ err: error }, 'the watcher could not start');
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ signal }, 'stopping');
  await watcher.stop();
  return 0;
}

if (import.meta.main) process.exitCode = await main();
