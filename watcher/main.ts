// `arcane watcher`: configuration from flags and ARCANE_* / ARCANE_OPERATOR__* variables, JSON logs, and a clean
// stop on SIGTERM. `arcane watcher --help` lists every setting.
import { Command } from 'commander';
import { processLogger } from '../operations/logger.ts';
import { runProcess } from '../operations/run-process.ts';
import { settingsInput, withSettingOptions } from '../operations/settings.ts';
import { SETTINGS } from './config-sources.ts';
import { parseWatcherConfig } from './config.ts';
import { startWatcher } from './watcher.ts';

export function watcherCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const command = new Command('watcher')
    .description('Turns Kubernetes events about Arcane streams into signals on their Temporal workflows.')
    .showHelpAfterError();
  withSettingOptions(command, SETTINGS);
  return command.action(async () => {
    process.exitCode = await runProcess(
      () => parseWatcherConfig(settingsInput(command, SETTINGS, env)),
      async (config) => {
        const log = processLogger(config.log, 'watcher');
        // The watcher handles its own failures; anything that slips through is logged rather than ending the process.
        process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
        return startWatcher(config, { logger: log });
      },
    );
  });
}

if (import.meta.main) await watcherCommand().parseAsync();
