// The operator as it runs in production, on a local stack of its own per test file: the watcher and the worker are
// real processes started through the `arcane` CLI, configured by environment variables, with their logs in the
// stack's log folder. Scenarios get a namespace each; fault tests stop, kill and restart the pieces.
import { rmSync } from 'node:fs';
import { after, before, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { connectClient, temporalSettingsSchema } from '../../client/connection.ts';
import { startStack, type Stack } from '../../stack/index.ts';
import { OperatorProcess } from '../../stack/operator-process.ts';
import { startTemporalServer, type TemporalServer } from '../../stack/temporal.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { applyYaml, installArcaneCrds, installTestPluginClasses } from '../../stack/manifests.ts';
import { PLUGINS, type TestPlugin } from '../fixtures/plugins.ts';
import { failRunOnSecretsInHistories } from '../history-secrets.ts';
import { Cluster } from './cluster.ts';

const TASK_QUEUE = 'arcane-e2e';

/**
 * How long a workflow that holds (a Job terminating, a template missing) waits before it looks again; the lifecycle's
 * longest wait without a Kubernetes change, so a window a few times as long shows whether a stream has gone quiet.
 */
export const RECHECK_MS = 2_000;

// Short lifecycle timings so restart and backoff scenarios take seconds; the watcher hands them to every workflow. The
// first backoff outlasts the re-observations a failing Job's updates cause, so a restart sleeps on a durable timer.
const LIFECYCLE_ENV = {
  ARCANE_LIFECYCLE_RESTART_BACKOFF_INITIAL: '2s',
  ARCANE_LIFECYCLE_RESTART_BACKOFF_CAP: '8s',
  ARCANE_LIFECYCLE_MAX_RESTARTS: '2',
  ARCANE_LIFECYCLE_STABLE_PERIOD: '60s',
  ARCANE_LIFECYCLE_RECHECK: `${RECHECK_MS / 1_000}s`,
};

export interface OperatorOptions {
  /**
   * Watcher leader election on a Lease with a 3 s duration (off by default: one replica). A watcher killed with
   * kill -9 keeps its Lease until it expires, so its successor waits as it would in a cluster.
   */
  leaderElection?: boolean;
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
   * A test body that runs in a fresh namespace with every test plugin's templates and Secret; a failure names the log
   * folder. The namespace is deleted afterwards, so its streams stop costing anything while later scenarios measure
   * the operator's quiet.
   */
  scenario(
    prefix: string,
    body: (cluster: Cluster, t: TestContext) => Promise<void>,
  ): (t: TestContext) => Promise<void>;
}

/**
 * Registers hooks on the enclosing suite: a stack, the Arcane CRDs, the test plugins, the worker and the watcher start
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
        await Promise.all([
          processes.worker.start(),
          installArcaneCrds(kubeConfig).then(() => installTestPluginClasses(kubeConfig)),
        ]);
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
      // No test plugin Secret value may have reached any workflow history of these scenarios (the run fails if one did).
      if (started && temporalServer) {
        await failRunOnSecretsInHistories({
          address: temporalServer.address,
          namespace: started.stack.temporalNamespace,
        });
      }
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
          await applyYaml(
            kubeConfig,
            PLUGINS.flatMap((plugin) => plugin.files.namespacedFiles),
            namespace,
          );
          // The body's own failure is the one to report; a namespace that will not go fails a scenario that passed.
          const outcome = await body(new Cluster(kubeConfig, namespace), t).then(
            () => undefined,
            (error: unknown) => ({ error }),
          );
          const deleted = Cluster.deleteNamespace(kubeConfig, namespace);
          if (outcome) {
            await deleted.catch(() => undefined);
            throw outcome.error;
          }
          await deleted;
        } catch (error) {
          failed = true;
          const message = error instanceof Error ? error.message : String(error);
          throw new Error(`${message}\n(operator and stack logs in ${get().stack.logDir})`, { cause: error });
        }
      };
    },
  };
}

/** `operator.scenario` for scenarios that run on each plugin: the namespace prefix starts with the plugin's name. */
export function scenarioOn(operator: Operator, plugin: TestPlugin): Operator['scenario'] {
  return (prefix, body) => operator.scenario(`${plugin.name}-${prefix}`, body);
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
