// The `arcane` command: the two processes, a local development mode, and stream controls.
import { Command } from 'commander';
import { streamCommand } from './stream-commands.ts';
import { watcherCommand } from '../watcher/main.ts';
import { workerCommand } from '../worker/main.ts';

export function arcaneProgram(): Command {
  return new Command('arcane')
    .description('Arcane data streams on Kubernetes, each stream a durable Temporal workflow.')
    .addCommand(watcherCommand())
    .addCommand(workerCommand())
    .addCommand(
      new Command('dev')
        .description(
          'run everything locally: a Temporal dev server and, unless --kubeconfig is given, a local control plane',
        )
        .option('--kubeconfig <file>', 'use this cluster instead of starting a local control plane')
        .option('--dir <folder>', 'working folder of the local stack (data, kubeconfig, logs)')
        .action(async (options: { kubeconfig?: string; dir?: string }) => {
          // Loaded on demand: the local stack is for development and is not part of the container image.
          const { runDev } = await import('./dev.ts');
          await runDev(options);
        }),
    )
    .addCommand(streamCommand());
}

if (import.meta.main) {
  await arcaneProgram().parseAsync();
}
