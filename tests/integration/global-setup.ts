// Starts the local stack once per test run; test files reach it through ARCANE_TEST_STACK (stack-env.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from '../../stack/index.ts';
import type { StackEnv } from './stack-env.ts';

let stack: Stack | undefined;

export async function globalSetup(): Promise<void> {
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

export async function globalTeardown(): Promise<void> {
  await stack?.stop();
}
