// Starts the local stack once per test run; test files reach it through ARCANE_TEST_STACK (stack-env.ts).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from '../../stack/index.ts';
import { stopSignal } from '../../stack/process.ts';
import type { StackEnv } from './stack-env.ts';
import { failRunOnSecretsInHistories } from '../history-secrets.ts';

/** After Ctrl-C, how long the stack gets to stop before it is killed. */
const STOP_GRACE_MS = 60_000;

let stack: Stack | undefined;
let interrupted = false;
let teardown: Promise<void> | undefined;

export async function globalSetup(): Promise<void> {
  // The test runner tears down on SIGINT and SIGTERM itself; this also covers SIGHUP, and a second signal kills at once.
  void stopSignal(STOP_GRACE_MS).then(() => {
    interrupted = true;
    return globalTeardown();
  });
  const started = Date.now();
  stack = await startStack();
  const env: StackEnv = {
    kubeconfigPath: stack.kubeconfigPath,
    temporalAddress: stack.temporalAddress,
    temporalNamespace: stack.temporalNamespace,
    temporalUiUrl: stack.temporalUiUrl,
    logDir: stack.logDir,
  };
  const file = join(stack.dir, 'test-stack.json');
  writeFileSync(file, JSON.stringify(env, null, 2));
  process.env.ARCANE_TEST_STACK = file;
  console.log(`local stack up in ${Date.now() - started} ms; component logs in ${stack.logDir}`);
}

/** Stops the stack once, however often it is asked to; removes its folder after a run that passed. */
export function globalTeardown(): Promise<void> {
  if (!stack) return Promise.resolve();
  teardown ??= stopAndClean(stack);
  return teardown;
}

async function stopAndClean(running: Stack): Promise<void> {
  // What every test of the run left in Temporal, searched for secret values before it goes.
  if (!interrupted) await failRunOnSecretsInHistories(running.temporal);
  await running.stop();
  // The runner sets a failing exit code before it tears down.
  const failed = interrupted || Number(process.exitCode ?? 0) !== 0;
  if (failed || process.env.INTEGRATION_KEEP_STACK) console.log(`stack folder kept: ${running.dir}`);
  else rmSync(running.dir, { recursive: true, force: true });
}
