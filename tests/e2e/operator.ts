// The operator as it runs in production, on a local stack of its own per test file: the watcher and the worker are
// real processes started through the `arcane` CLI, configured by environment variables, with their logs in the
// stack's log folder. Scenarios get a namespace each; fault tests stop, kill and restart the pieces.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { startStack, type Stack } from '../../stack/index.ts';
import { freePort } from '../../stack/ports.ts';
import { launch, type ManagedProcess } from '../../stack/process.ts';
import { startTemporalServer, type TemporalServer } from '../../stack/temporal.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { applyCrds, applyYaml, installArcaneCrds, TEST_PLUGIN } from '../integration/kube.ts';
import { Cluster } from './cluster.ts';

/** The production entry point of each process: the one place that says how the operator is started. */
const CLI = join(import.meta.dirname, '../../cli/arcane.ts');
type Role = 'watcher' | 'worker';

const TASK_QUEUE = 'arcane-e2e';

// Short lifecycle timings so restart and backoff scenarios take seconds; the watcher hands them to every workflow.
const LIFECYCLE_ENV = {
  ARCANE_LIFECYCLE_RESTART_BACKOFF_INITIAL: '1s',
  ARCANE_LIFECYCLE_RESTART_BACKOFF_CAP: '4s',
  ARCANE_LIFECYCLE_MAX_RESTARTS: '2',
  ARCANE_LIFECYCLE_STABLE_PERIOD: '60s',
  ARCANE_LIFECYCLE_RECHECK: '2s',
};

export interface OperatorOptions {
  /**
   * Watcher leader election on a Lease with a 3 s duration (off by default: one replica). A watcher killed with
   * kill -9 keeps its Lease until it expires, so its successor waits as it would in a cluster.
   */
  leaderElection?: boolean;
}

/** Two distinct free loopback ports. */
async function twoFreePorts(): Promise<[number, number]> {
  const first = await freePort();
  for (;;) {
    const second = await freePort();
    if (second !== first) return [first, second];
  }
}

/** One of the operator's processes, started through the CLI; its log file is kept across restarts. */
export class OperatorProcess {
  readonly role: Role;
  private readonly env: NodeJS.ProcessEnv;
  private readonly logDir: string;
  private current: ManagedProcess | undefined;

  constructor(role: Role, env: Record<string, string>, logDir: string) {
    this.role = role;
    this.logDir = logDir;
    // Nothing from the developer's shell may configure the operator under test.
    const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('ARCANE_'));
    const loopback = { ARCANE_HEALTH_HOST: '127.0.0.1', ARCANE_METRICS_HOST: '127.0.0.1' };
    this.env = { ...Object.fromEntries(inherited), ...env, ...loopback };
  }

  /**
   * Starts the process on fresh probe and metrics ports and waits until `/health/ready` answers 200. A port found free
   * can be taken by someone else before the process listens on it; then it starts again on other ports.
   */
  async start(): Promise<void> {
    if (this.current?.running) throw new Error(`the ${this.role} is already running`);
    for (let attempt = 1; ; attempt++) {
      const [health, metrics] = await twoFreePorts();
      const env = { ...this.env, ARCANE_HEALTH_PORT: String(health), ARCANE_METRICS_PORT: String(metrics) };
      const proc = launch(this.role, process.execPath, [CLI, this.role], { logDir: this.logDir, env });
      this.current = proc;
      const url = `http://127.0.0.1:${health}/health/ready`;
      try {
        await proc.waitUntil('ready', async () => (await fetch(url)).status === 200, 90_000);
        return;
      } catch (error) {
        if (attempt >= 3 || proc.running || !/EADDRINUSE/.test(proc.tail(40))) throw error;
      }
    }
  }

  /** SIGTERM, as on a rolling update: the process must finish what it runs and exit 0. */
  async stop(): Promise<void> {
    const proc = this.current;
    if (!proc?.running) return;
    await proc.stop();
    if (proc.exitCode !== 0) {
      throw new Error(`the ${this.role} did not stop cleanly on SIGTERM (exit ${proc.exitCode}):\n${proc.tail(15)}`);
    }
  }

  /** kill -9: no chance to clean up. */
  async kill(): Promise<void> {
    await this.current?.kill();
  }

  /** Sends a signal to the process group, e.g. SIGSTOP to freeze it mid-work. */
  signal(signal: NodeJS.Signals): void {
    this.current?.signal(signal);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export interface Operator {
  stack: Stack;
  kubeConfig: KubeConfig;
  /** A Temporal client of the test; it reconnects by itself after a Temporal restart. */
  temporal: Client;
  watcher: OperatorProcess;
  worker: OperatorProcess;
  /** Stops the Temporal server and starts it again on the same port and database. */
  restartTemporal(between?: () => Promise<void>): Promise<void>;
  /**
   * A test body that runs in a fresh namespace with the test plugin's templates and Secret; a failure names the log
   * folder.
   */
  scenario(
    prefix: string,
    body: (cluster: Cluster, t: TestContext) => Promise<void>,
  ): (t: TestContext) => Promise<void>;
}

/**
 * Registers hooks on the enclosing suite: a stack, the Arcane CRDs, the test plugin, the worker and the watcher start
 * before its tests, and stop after them. The stack folder is removed when every scenario passed (unless
 * E2E_KEEP_STACK is set), and kept otherwise.
 */
export function useOperator(options: OperatorOptions = {}): Operator {
  let stack: Stack | undefined;
  let temporalServer: TemporalServer | undefined;
  let processes: { watcher: OperatorProcess; worker: OperatorProcess } | undefined;
  let started: Omit<Operator, 'scenario' | 'restartTemporal'> | undefined;
  let failed = false;
  const get = (): Omit<Operator, 'scenario' | 'restartTemporal'> => {
    if (!started) throw new Error('the operator is not started: use it inside the suite that called useOperator()');
    return started;
  };

  before(
    async () => {
      stack = await startStack();
      temporalServer = stack.temporal;
      try {
        const kubeConfig = new KubeConfig();
        kubeConfig.loadFromFile(stack.kubeconfigPath);
        processes = operatorProcesses(stack, options);
        // The worker needs no CRDs: it starts (bundling its workflows takes a few seconds) while they are installed.
        await Promise.all([processes.worker.start(), installTestPluginClasses(kubeConfig)]);
        await processes.watcher.start();
        const temporal = await connectClient(
          temporalSettingsSchema.parse({ address: stack.temporalAddress, namespace: stack.temporalNamespace }),
        );
        started = { stack, kubeConfig, temporal, ...processes };
      } catch (error) {
        failed = true;
        throw new Error(`${(error as Error).message}\n(logs in ${stack.logDir})`, { cause: error });
      }
    },
    { timeout: 180_000 },
  );
  after(
    async () => {
      // A process that does not stop cleanly fails the scenario that stops it, not the teardown.
      await Promise.allSettled([processes?.watcher.stop(), processes?.worker.stop()]);
      await started?.temporal.connection.close();
      await temporalServer?.stop();
      await stack?.stop();
      if (stack && !failed && !process.env.E2E_KEEP_STACK) rmSync(stack.dir, { recursive: true, force: true });
      else if (stack) console.log(`operator and stack logs kept in ${stack.logDir}`);
    },
    { timeout: 60_000 },
  );

  return {
    get stack() {
      return get().stack;
    },
    get kubeConfig() {
      return get().kubeConfig;
    },
    get temporal() {
      return get().temporal;
    },
    get watcher() {
      return get().watcher;
    },
    get worker() {
      return get().worker;
    },
    async restartTemporal(between) {
      const server = temporalServer ?? get().stack.temporal;
      await server.stop();
      await between?.();
      temporalServer = await startTemporalServer({
        binary: toolchain().temporal,
        dir: get().stack.dir,
        logDir: get().stack.logDir,
        port: Number(new URL(`http://${server.address}`).port),
        uiPort: Number(new URL(server.uiUrl).port),
      });
    },
    scenario(prefix, body) {
      return async (t) => {
        const { kubeConfig } = get();
        try {
          const namespace = await Cluster.createNamespace(kubeConfig, prefix);
          await applyYaml(kubeConfig, TEST_PLUGIN.namespacedFiles, namespace);
          await body(new Cluster(kubeConfig, namespace), t);
        } catch (error) {
          failed = true;
          const message = error instanceof Error ? error.message : String(error);
          throw new Error(`${message}\n(operator and stack logs in ${get().stack.logDir})`, { cause: error });
        }
      };
    },
  };
}

/** The cluster-wide parts of the test plugin: CRDs and StreamClasses, there before the watcher looks. */
async function installTestPluginClasses(kubeConfig: KubeConfig): Promise<void> {
  await installArcaneCrds(kubeConfig);
  await applyCrds(kubeConfig, TEST_PLUGIN.crdFiles);
  await applyYaml(kubeConfig, [TEST_PLUGIN.streamClassFile]);
}

function operatorProcesses(stack: Stack, options: OperatorOptions) {
  const common = {
    ARCANE_KUBECONFIG: stack.kubeconfigPath,
    ARCANE_TEMPORAL_ADDRESS: stack.temporalAddress,
    ARCANE_TEMPORAL_NAMESPACE: stack.temporalNamespace,
    ARCANE_TASK_QUEUE: TASK_QUEUE,
    ARCANE_LOG_LEVEL: 'debug',
  };
  const worker = new OperatorProcess('worker', common, stack.logDir);
  // One watcher per file, watching every namespace as it does by default in production: scenarios of a file run one
  // after another in namespaces of their own, so they cannot see each other's streams, and a per-scenario watcher would
  // only add its start-up time to every scenario. Fault tests that kill or restart it have a file (and stack) each.
  const leaderElection: Record<string, string> = options.leaderElection
    ? {
        ARCANE_LEADER_ELECTION_ENABLED: 'true',
        ARCANE_LEADER_ELECTION_NAMESPACE: 'default',
        ARCANE_LEADER_ELECTION_NAME: 'arcane-e2e',
        ARCANE_LEADER_ELECTION_LEASE_DURATION: '3s',
        ARCANE_LEADER_ELECTION_RENEW_PERIOD: '1s',
      }
    : { ARCANE_LEADER_ELECTION_ENABLED: 'false' };
  const watcher = new OperatorProcess('watcher', { ...common, ...LIFECYCLE_ENV, ...leaderElection }, stack.logDir);
  return { worker, watcher };
}
