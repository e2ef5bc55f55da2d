// A local stack for one test file that starts its operator processes itself (several replicas, or a kubeconfig of its
// own): the stack, an admin KubeConfig, a Temporal client, and the processes the file starts, all stopped after it. The
// stack folder is removed after a file that passed (unless E2E_KEEP_STACK is set) and named after one that failed.
import { rmSync } from 'node:fs';
import { after, before, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { startStack, type Stack } from '../../stack/index.ts';
import { OperatorProcess } from '../../stack/operator-process.ts';

export interface OwnStack {
  stack: Stack;
  /** The cluster admin (the stack's token). */
  admin: KubeConfig;
  temporal: Client;
  /** The settings that point an operator process at this stack as the admin, with its own task queue. */
  operatorEnv(taskQueue: string): Record<string, string>;
  /** A process of the operator, stopped after the file; `env` configures it (ARCANE_* variables). */
  process(role: 'watcher' | 'worker', env: Record<string, string>): OperatorProcess;
  /** A test body whose failure names the log folder and keeps it. */
  step(body: (t: TestContext) => Promise<void>): (t: TestContext) => Promise<void>;
}

export function useOwnStack(setUp: (own: OwnStack) => Promise<void> = async () => {}): OwnStack {
  let started: { stack: Stack; admin: KubeConfig; temporal: Client } | undefined;
  const processes: OperatorProcess[] = [];
  let failed = false;
  const get = () => {
    if (!started) throw new Error('the stack is not started: use it inside the suite that called useOwnStack()');
    return started;
  };
  const keepLogs = (error: unknown): never => {
    failed = true;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n(operator and stack logs in ${started?.stack.logDir})`, { cause: error });
  };

  const own: OwnStack = {
    get stack() {
      return get().stack;
    },
    get admin() {
      return get().admin;
    },
    get temporal() {
      return get().temporal;
    },
    operatorEnv(taskQueue) {
      const { stack } = get();
      return {
        ARCANE_KUBECONFIG: stack.kubeconfigPath,
        ARCANE_TEMPORAL_ADDRESS: stack.temporalAddress,
        ARCANE_TEMPORAL_NAMESPACE: stack.temporalNamespace,
        ARCANE_TASK_QUEUE: taskQueue,
      };
    },
    process(role, env) {
      const proc = new OperatorProcess(role, env, get().stack.logDir);
      processes.push(proc);
      return proc;
    },
    step(body) {
      return (t) => body(t).catch(keepLogs);
    },
  };

  before(
    async () => {
      const stack = await startStack();
      const admin = new KubeConfig();
      admin.loadFromFile(stack.kubeconfigPath);
      const settings = { address: stack.temporalAddress, namespace: stack.temporalNamespace };
      started = { stack, admin, temporal: await connectClient(temporalSettingsSchema.parse(settings)) };
      await setUp(own).catch(keepLogs);
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      await Promise.allSettled(processes.map((proc) => proc.stop()));
      await started?.temporal.connection.close();
      await started?.stack.stop();
      if (!started) return;
      if (!failed && !process.env.E2E_KEEP_STACK) rmSync(started.stack.dir, { recursive: true, force: true });
      else console.log(`operator and stack logs kept in ${started.stack.logDir}`);
    },
    { timeout: 60_000 },
  );
  return own;
}
