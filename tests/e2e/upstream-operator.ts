// The upstream Go Arcane operator (bench/upstream.ts starts it) as the migration tests drive it: started for every
// StreamClass of the test plugins, and "settled" read from its own controller metrics, since it leaves no other trace of
// a reconcile that changed nothing.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { metricSum } from '../../bench/measure.ts';
import { startUpstream, type UpstreamOperator } from '../../bench/upstream.ts';
import { OUTCOME_FINALIZER } from '../../resources/job-metadata.ts';
import type { Stack } from '../../stack/index.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';

const run = promisify(execFile);

/**
 * How long upstream must reconcile nothing before it counts as settled. It reacts to every watch event at once (no
 * timers, no periodic resync shorter than controller-runtime's 10 hours), so a second without a reconcile while its
 * queues are empty means the events that were there have all been handled.
 */
const UPSTREAM_QUIET_MS = 3_000;

export interface Upstream {
  /** Waits until upstream has reconciled at least `atLeast` times in all and then nothing more for a while. */
  settled(atLeast: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts upstream against the stack and waits until every one of `streamClasses` shows phase Ready. */
export async function startUpstreamFor(stack: Stack, admin: KubeConfig, streamClasses: string[]): Promise<Upstream> {
  const [first, ...others] = streamClasses;
  if (first === undefined) throw new Error('upstream needs at least one StreamClass to wait for');
  const upstream = await startUpstream(admin, stack.kubeconfigPath, stack.logDir, first);
  const custom = admin.makeApiClient(CustomObjectsApi);
  for (const name of others) {
    await waitFor(`upstream to take up StreamClass ${name}`, async () => {
      const location = { group: 'streaming.sneaksanddata.com', version: 'v1', plural: 'streamclasses', name };
      const stored = (await custom.getClusterCustomObject(location)) as { status?: { phase?: string } };
      return stored.status?.phase === 'Ready';
    });
  }
  return { settled: (atLeast) => waitForQuiet(upstream, atLeast), stop: () => upstream.stop() };
}

async function waitForQuiet(upstream: UpstreamOperator, atLeast: number): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitFor(
    `upstream to reconcile ${atLeast} times and then nothing for ${UPSTREAM_QUIET_MS} ms`,
    async () => {
      const text = await upstream.metrics();
      const reconciles = metricSum(text, 'controller_runtime_reconcile_total');
      const queued = metricSum(text, 'workqueue_depth');
      if (reconciles !== last || queued > 0 || reconciles < atLeast) [last, since] = [reconciles, Date.now()];
      return Date.now() - since >= UPSTREAM_QUIET_MS;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

/**
 * The README's command that clears the outcome finalizer from every Job: the first `bash` block of README.md that
 * names the finalizer, so the test runs exactly what the migration section tells people to run.
 */
export function readmeFinalizerCommand(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)]
    .map((match) => match[1])
    .find((body) => body?.includes(OUTCOME_FINALIZER) && body.includes('kubectl patch'));
  if (!block) throw new Error(`README.md has no bash block that clears the ${OUTCOME_FINALIZER} finalizer`);
  return block;
}

/** Runs a README shell command against the stack, with the stack's kubectl first on PATH. */
export async function runReadmeCommand(stack: Stack, command: string): Promise<string> {
  const kubectlDir = toolchain().kubectl.replace(/\/kubectl$/, '');
  const env = { ...process.env, KUBECONFIG: stack.kubeconfigPath, PATH: `${kubectlDir}:${process.env.PATH ?? ''}` };
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', command], { env, timeout: 60_000 });
  return stdout;
}
