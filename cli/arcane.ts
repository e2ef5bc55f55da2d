// The `arcane` command: the two processes, a local development mode, stream controls and downtimes. Every error is
// one line on stderr and the exit code says what kind it was (see exitCodes and the README).
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../operations/config-schema.ts';
import { watcherCommand } from '../watcher/main.ts';
import { workerCommand } from '../worker/main.ts';
import { downtimeCommands } from './downtime-commands.ts';
import { CliError, exitCodes, oneLine, withExample } from './output.ts';
import { streamCommands } from './stream-commands.ts';

function devCommand(): Command {
  const dev = new Command('dev')
    .description(
      'run everything locally: a Temporal dev server and, unless --kubeconfig is given, a local control plane',
    )
    .option('--kubeconfig <file>', 'use this cluster instead of starting a local control plane')
    .option('--dir <folder>', 'working folder of the local stack (data, kubeconfig, logs)')
    .action(async (options: { kubeconfig?: string; dir?: string }) => {
      // Loaded on demand: the local stack is for development and is not part of the container image.
      const { runDev } = await import('./dev.ts');
      await runDev(options);
    });
  return withExample(dev, 'arcane dev --dir .stack/dev');
}

export function arcaneProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('arcane')
    .description('Arcane data streams on Kubernetes, each stream a durable Temporal workflow.')
    .addCommand(
      withExample(watcherCommand(env), 'arcane watcher --kubeconfig ~/.kube/config --temporal-address temporal:7233'),
    )
    .addCommand(
      withExample(workerCommand(env), 'arcane worker --temporal-address temporal:7233 --task-queue arcane-streams'),
    )
    .addCommand(devCommand())
    .addCommand(streamCommands(env))
    .addCommand(downtimeCommands(env));
  withExample(program, 'arcane stream list', 'arcane stream backfill mock-stream default/orders --wait');
  program.addHelpText(
    'after',
    '\nExit codes: 0 done, 1 failed, 2 bad arguments or settings, 3 --wait timed out, 4 backfill ended uncompleted.',
  );
  configureErrors(program);
  return program;
}

/** Every command reports its usage errors as one line and throws instead of exiting, so runArcane sets the code. */
function configureErrors(command: Command): void {
  command.exitOverride().configureOutput({
    outputError: (text, write) => {
      const message = text
        .trim()
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ');
      write(`arcane: ${message} (see '${commandPath(command)} --help')\n`);
    },
  });
  for (const child of command.commands) configureErrors(child);
}

/** `arcane stream list` for the list command. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current; current = current.parent) names.unshift(current.name());
  return names.join(' ');
}

/** Runs the command line and returns the exit code; errors are printed here, as one line each. */
export async function runArcane(argv: string[] = process.argv): Promise<number> {
  // A reader that stops early (`arcane stream list | head`) has what it wanted: not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(exitCodes.ok);
  });
  try {
    await arcaneProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end here too; commander has already printed them or the usage error.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`arcane: ${error.message}\n`);
      return exitCodes.usage;
    }
    process.stderr.write(`arcane: ${oneLine(error)}\n`);
    return error instanceof CliError ? error.exitCode : exitCodes.failed;
  }
}

if (import.meta.main) process.exitCode = await runArcane();
