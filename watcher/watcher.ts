// The watcher: informers on StreamClasses and their streams, BackfillRequests, StreamingJobTemplates and our Jobs
// and CronJobs, whose events become signals on the stream workflows. Only the leader signals and writes status;
// every replica keeps its caches warm.
import type { KubeConfig } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import { connectionOptions } from '../client/connection.ts';
import type { LifecycleConfig } from '../workflows/lifecycle.ts';
import type { StreamWorkflowInput } from '../workflows/messages.ts';
import { BackfillRequestWatch } from './backfill-requests.ts';
import { parseWatcherConfig, type WatcherConfig, type WatcherConfigInput } from './config.ts';
import { healthHandler, listen, metricsHandler, type Listener, type Readiness } from '../operations/health.ts';
import type { SupervisedInformer } from '../kubernetes/informer.ts';
import { EventRecorder } from './kubernetes-events.ts';
import { listObjects } from '../kubernetes/requests.ts';
import { createKubernetesClients } from './kubernetes-client.ts';
import { loadKubeConfig } from '../operations/kubeconfig.ts';
import { holderIdentity, LeaderElector } from './leader-election.ts';
import { WatcherMetrics, type InformerSettings } from './metrics.ts';
import { Resyncer } from './resync.ts';
import { SignalDispatcher } from './signals.ts';
import { StreamClassController } from './stream-class-controller.ts';
import { TemplateIndex } from './template-index.ts';
import { watchTemplates } from './templates.ts';
import { TemporalLink, temporalSignalSender } from './temporal-link.ts';
import { watchWorkloads } from './workloads.ts';

export interface WatcherDeps {
  /** Instead of the configured kubeconfig. */
  kubeConfig?: KubeConfig;
  logger?: Logger;
  /** Instead of a connection to the configured address (not closed by `stop`). */
  temporalConnection?: Connection;
  /** Merged into every workflow's input, e.g. lifecycle overrides in tests. */
  workflowInput?: Omit<StreamWorkflowInput, 'stream' | 'carried'>;
}

export interface Watcher {
  /** This replica's lease holder identity. */
  readonly identity: string;
  readonly metrics: WatcherMetrics;
  /** The ports actually listened on (a configured 0 picks a free one). */
  readonly ports: { health: number; metrics: number };
  /** Resolves once ready (informers listed, Temporal reachable); rejects with the reasons after the timeout. */
  ready(timeoutMs?: number): Promise<void>;
  readiness(): Readiness;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startWatcher(input: WatcherConfigInput, deps: WatcherDeps = {}): Promise<Watcher> {
  const config = parseWatcherConfig(input);
  const log = deps.logger ?? pino({ level: config.log.level });
  const kubeConfig = deps.kubeConfig ?? loadKubeConfig(config.kubernetes);
  const identity = holderIdentity(config.leaderElection.identity);
  const { watchNamespace } = config;
  let leading = !config.leaderElection.enabled;
  const isLeader = () => leading;

  const templates = new TemplateIndex();
  // Counted on scrape, from the caches of the controller created below.
  const metrics: WatcherMetrics = new WatcherMetrics(
    () => controller.streamCounts(),
    () => controller.classStates(),
  );
  metrics.leader.set(leading ? 1 : 0);
  const clients = createKubernetesClients(kubeConfig, metrics);
  const connection = deps.temporalConnection ?? Connection.lazy(connectionOptions(config.temporal));

  // Informer and reachability callbacks run only after start, when everything below exists.
  const resync = (reason: string, streamClass?: string) => resyncer.request(reason, streamClass);
  const link = new TemporalLink({
    connection,
    namespace: config.temporal.namespace,
    probeIntervalMs: config.temporal.probeInterval,
    log,
    onReachability: (reachable) => {
      if (!reachable) return;
      dispatcher.retryNow();
      resync('Temporal reachable');
    },
  });
  const dispatcher: SignalDispatcher = new SignalDispatcher({
    send: temporalSignalSender({
      client: link.client,
      taskQueue: config.temporal.taskQueue,
      timeoutMs: config.signals.timeout,
      workflowInput: deps.workflowInput ?? workflowInputFrom(config),
    }),
    log,
    metrics,
    maxInFlight: config.signals.maxInFlight,
    retry: { initialMs: config.signals.retryInitial, maxMs: config.signals.retryMax },
    batchMs: config.signals.batchWindow,
  });
  dispatcher.setEnabled(leading);

  const settings: InformerSettings = {
    kubeConfig,
    list: listObjects(clients.custom),
    log,
    metrics,
    restartBackoff: { initialMs: config.informers.restartBackoffInitial, maxMs: config.informers.restartBackoffMax },
    watchdogMs: config.informers.watchdogTimeout,
    listTimeoutMs: config.informers.listTimeout,
  };
  const controller: StreamClassController = new StreamClassController({
    settings,
    clients,
    watchNamespace,
    dispatcher,
    templates,
    events: new EventRecorder(clients.core, identity, log),
    isLeader,
    resync: (name, reason) => resync(reason, name),
  });
  const directory = controller;
  const backfills = new BackfillRequestWatch({
    settings,
    clients,
    watchNamespace,
    directory,
    dispatcher,
    isLeader,
    graceMs: config.backfillRequestGrace,
    onListed: () => resync('BackfillRequests listed'),
  });
  const shared = { settings, watchNamespace, directory, dispatcher };
  const informers: SupervisedInformer[] = [
    controller.classInformer,
    backfills.informer,
    watchTemplates({ ...shared, templates, onListed: () => resync('StreamingJobTemplates listed') }),
    watchWorkloads('Job', { ...shared, onListed: () => resync('Jobs listed') }),
    watchWorkloads('CronJob', { ...shared, onListed: () => resync('CronJobs listed') }),
  ];
  const resyncer: Resyncer = new Resyncer({
    directory,
    dispatcher,
    client: link.client,
    taskQueue: config.temporal.taskQueue,
    watchNamespace,
    log,
    metrics,
    isLeader,
    recheckRequests: () => backfills.recheckAll(),
    delayMs: config.resyncDelay,
  });

  const setLeading = (value: boolean) => {
    leading = value;
    metrics.leader.set(value ? 1 : 0);
    dispatcher.setEnabled(value);
    if (!value) return;
    controller.writeStatuses();
    resync('this replica became leader');
  };
  const elector = config.leaderElection.enabled
    ? new LeaderElector({
        api: clients.custom,
        namespace: config.leaderElection.namespace,
        name: config.leaderElection.name,
        identity,
        leaseDurationMs: config.leaderElection.leaseDuration,
        renewPeriodMs: config.leaderElection.renewPeriod,
        log,
        onStartedLeading: () => setLeading(true),
        onStoppedLeading: () => setLeading(false),
      })
    : undefined;

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    for (const informer of informers) {
      const { state, everSynced, error } = informer.health;
      if (!everSynced) reasons.push(`${informer.resource} not listed yet${error ? `: ${error.message}` : ''}`);
      else if (state === 'failing') reasons.push(`${informer.resource} watch failing: ${error?.message ?? ''}`);
    }
    for (const source of controller.sources()) {
      const { state, error } = source.informer.health;
      // A class without its CRD or RBAC is a Failed class (see its status), not an unready watcher.
      const outage = state === 'failing' && (error?.code === undefined || error.code >= 500);
      if (!source.settled || outage) reasons.push(`streams of StreamClass ${source.streamClass.name} not watched`);
    }
    if (!link.reachable) reasons.push(`Temporal at ${config.temporal.address} unreachable`);
    return { ready: reasons.length === 0, reasons };
  };

  let health: Listener | undefined;
  let metricsListener: Listener;
  try {
    health = await listen(config.health.host, config.health.port, healthHandler({ readiness, isLeader }));
    metricsListener = await listen(config.metrics.host, config.metrics.port, metricsHandler(metrics.registry));
  } catch (error) {
    await health?.close();
    if (!deps.temporalConnection) await connection.close();
    throw error;
  }

  link.start();
  for (const informer of informers) informer.start();
  elector?.start();
  log.info(
    {
      identity,
      leader: leading,
      watchNamespace: watchNamespace ?? '*',
      temporal: { address: config.temporal.address, namespace: config.temporal.namespace },
      taskQueue: config.temporal.taskQueue,
      ports: { health: health.port, metrics: metricsListener.port },
    },
    'watcher started',
  );

  let stopping: Promise<void> | undefined;
  return {
    identity,
    metrics,
    ports: { health: health.port, metrics: metricsListener.port },
    readiness,
    isLeader,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = readiness();
        if (state.ready) return;
        if (Date.now() > deadline)
          throw new Error(`watcher not ready after ${timeoutMs} ms: ${state.reasons.join('; ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop() {
      stopping ??= (async () => {
        await elector?.stop();
        setLeading(false);
        await Promise.all([resyncer.stop(), dispatcher.stop()]);
        await Promise.all([...informers.map((informer) => informer.stop()), controller.stop(), backfills.stop()]);
        link.stop();
        await Promise.all([health.close(), metricsListener.close()]);
        if (!deps.temporalConnection) await connection.close();
        log.info({ identity }, 'watcher stopped');
      })();
      return stopping;
    },
  };
}

/** What every new stream workflow gets from the configuration: the lifecycle tunables that are set. */
function workflowInputFrom(config: WatcherConfig): Omit<StreamWorkflowInput, 'stream' | 'carried'> {
  const { lifecycle } = config;
  const tunables: Partial<LifecycleConfig> = {
    restartBackoffInitialMs: lifecycle.restartBackoffInitial,
    restartBackoffFactor: lifecycle.restartBackoffFactor,
    restartBackoffCapMs: lifecycle.restartBackoffCap,
    maxRestarts: lifecycle.maxRestarts,
    stablePeriodMs: lifecycle.stablePeriod,
    recheckMs: lifecycle.recheck,
  };
  const set = Object.entries(tunables).filter(([, value]) => value !== undefined);
  return {
    ...(set.length > 0 ? { lifecycle: Object.fromEntries(set) } : {}),
    ...(lifecycle.maxHistoryEvents !== undefined ? { maxHistoryEvents: lifecycle.maxHistoryEvents } : {}),
  };
}
