// The watcher: informers on StreamClasses and their streams, BackfillRequests, StreamingJobTemplates and our Jobs
// and CronJobs, whose events become signals on the stream workflows. Only the leader signals and writes status;
// every replica keeps its caches warm.
import type { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { connectionOptions } from '../client/connection.ts';
import type { LifecycleConfig } from '../workflows/lifecycle.ts';
import type { StreamWorkflowInput } from '../workflows/messages.ts';
import { BackfillRequestWatch } from './backfill-requests.ts';
import { CachedObservations } from './cached-observation.ts';
import { parseWatcherConfig, type WatcherConfig, type WatcherConfigInput } from './config.ts';
import { healthHandler, listen, metricsHandler, type Listener, type Readiness } from '../operations/health.ts';
import { InformerGroup, type SupervisedInformer } from '../kubernetes/informer.ts';
import { EventRecorder } from './kubernetes-events.ts';
import { listObjects } from '../kubernetes/requests.ts';
import { createKubernetesClients } from './kubernetes-client.ts';
import { loadKubeConfig } from '../operations/kubeconfig.ts';
import { holderIdentity, LeaderElector } from './runtime/leader-election.ts';
import { WatcherMetrics, type InformerSettings } from './metrics.ts';
import { Resyncer } from './resync.ts';
import { SignalDispatcher } from './runtime/signals.ts';
import { StreamClassController } from './stream-class-controller.ts';
import { TemplateIndex } from './template-index.ts';
import { watchTemplates } from './templates.ts';
import { TemporalLink, temporalSignalSender } from './runtime/temporal-link.ts';
import { watchWorkloads } from './workloads.ts';

/**
 * How long resyncs wait for the Job, CronJob, template and request caches to list after a start, so that they can
 * tell which streams are at rest; a list of 10,000 objects takes seconds, and a cache that never lists must not hold
 * resyncs back for good.
 */
const RESYNC_MAX_DEFER_MS = 60_000;

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
  const parts = buildParts(config, deps, log);
  const closeConnection = async () => {
    if (!deps.temporalConnection) await parts.client.connection.close();
  };
  const readiness = () => readinessOf(parts, config);

  let health: Listener | undefined;
  let metricsListener: Listener;
  try {
    health = await listen(
      config.health.host,
      config.health.port,
      healthHandler({ readiness, isLeader: parts.isLeader }),
    );
    metricsListener = await listen(config.metrics.host, config.metrics.port, metricsHandler(parts.metrics.registry));
  } catch (error) {
    await health?.close();
    await closeConnection();
    throw error;
  }
  const ports = { health: health.port, metrics: metricsListener.port };

  parts.link.start();
  for (const informer of parts.informers) informer.start();
  parts.elector?.start();
  log.info(
    {
      identity: parts.identity,
      leader: parts.isLeader(),
      watchNamespace: config.watchNamespace ?? '*',
      temporal: { address: config.temporal.address, namespace: config.temporal.namespace },
      taskQueue: config.temporal.taskQueue,
      ports,
    },
    'watcher started',
  );

  let stopping: Promise<void> | undefined;
  return {
    identity: parts.identity,
    metrics: parts.metrics,
    ports,
    readiness,
    isLeader: parts.isLeader,
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
      // Stopped in the reverse order of building: first no more leading (so nothing is signalled or written), then
      // the work in flight, then the watches, and the connections last.
      stopping ??= (async () => {
        await parts.elector?.stop();
        parts.setLeading(false);
        await Promise.all([parts.resyncer.stop(), parts.dispatcher.stop()]);
        await Promise.all([
          ...parts.informers.map((informer) => informer.stop()),
          parts.controller.stop(),
          parts.backfills.stop(),
        ]);
        parts.link.stop();
        await Promise.all([health.close(), metricsListener.close()]);
        await closeConnection();
        log.info({ identity: parts.identity }, 'watcher stopped');
      })();
      return stopping;
    },
  };
}

/**
 * Builds the watcher's parts, each after the parts it needs; nothing runs until the caller starts them. The generic
 * runtime (metrics, clients, the signal dispatcher, the resyncer) comes first, then the Arcane informers that feed
 * it, then the Temporal probe and leader election, which switch the parts built before them.
 */
function buildParts(config: WatcherConfig, deps: WatcherDeps, log: Logger) {
  const identity = holderIdentity(config.leaderElection.identity);
  // Without leader election every replica leads. With it, a replica leads once it holds the lease (see setLeading).
  let leading = !config.leaderElection.enabled;
  const isLeader = () => leading;

  const runtime = buildRuntime(config, deps, log, isLeader);
  const arcane = buildInformers(config, runtime, identity, isLeader);
  const { metrics, client, dispatcher, resyncer } = runtime;

  // When Temporal comes back after an outage, the signals that failed are retried at once and every stream is
  // resynced, since events may have been missed meanwhile.
  const link = new TemporalLink({
    client,
    probeIntervalMs: config.temporal.probeInterval,
    log,
    onReachability: (reachable) => {
      if (!reachable) return;
      dispatcher.retryNow();
      resyncer.request('Temporal reachable');
    },
  });

  // A replica that becomes leader writes the class statuses it holds back and resyncs every stream: while it was not
  // leading it sent no signals and wrote nothing.
  const setLeading = (value: boolean) => {
    leading = value;
    metrics.leader.set(value ? 1 : 0);
    dispatcher.setEnabled(value);
    if (!value) return;
    arcane.controller.writeStatuses();
    resyncer.request('this replica became leader');
  };
  // The starting value, without what becoming leader later sets off: nothing is cached yet to write or resync.
  metrics.leader.set(leading ? 1 : 0);
  dispatcher.setEnabled(leading);
  const elector = config.leaderElection.enabled
    ? new LeaderElector({
        api: runtime.clients.custom,
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

  return { identity, isLeader, setLeading, ...runtime, ...arcane, link, elector };
}

/**
 * The parts that the informers feed and count into: metrics, API clients, the signal dispatcher, the resyncer, and
 * the settings every informer shares.
 */
function buildRuntime(config: WatcherConfig, deps: WatcherDeps, log: Logger, isLeader: () => boolean) {
  // The metrics come first because the clients, the informers and the dispatcher count into them. The stream and
  // class gauges read the StreamClass controller's caches when scraped; until `countFrom` is given the controller
  // there is nothing to count.
  let counted: StreamClassController | undefined;
  const metrics = new WatcherMetrics(
    () => counted?.streamCounts() ?? [],
    () => counted?.classStates() ?? [],
  );
  // The process's own (memory, CPU, event loop delay, garbage collection), as the worker exposes them.
  collectDefaultMetrics({ register: metrics.registry });
  const countFrom = (controller: StreamClassController) => {
    counted = controller;
  };

  const kubeConfig = deps.kubeConfig ?? loadKubeConfig(config.kubernetes);
  const clients = createKubernetesClients(kubeConfig, metrics);
  // Lazy: a Temporal server that cannot be reached at start is an outage to wait out, not a reason to crash.
  const connection = deps.temporalConnection ?? Connection.lazy(connectionOptions(config.temporal));
  const client = new Client({ connection, namespace: config.temporal.namespace });

  const dispatcher = new SignalDispatcher({
    send: temporalSignalSender({
      client,
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
  // The informers ask for resyncs when they have listed; the resyncer learns what to walk once they exist.
  const resyncer = new Resyncer({
    dispatcher,
    client,
    taskQueue: config.temporal.taskQueue,
    watchNamespace: config.watchNamespace,
    log,
    metrics,
    isLeader,
    delayMs: config.resyncDelay,
    maxDeferMs: RESYNC_MAX_DEFER_MS,
  });
  const settings: InformerSettings = {
    kubeConfig,
    list: listObjects(clients.custom),
    log,
    metrics,
    restartBackoff: { initialMs: config.informers.restartBackoffInitial, maxMs: config.informers.restartBackoffMax },
    watchdogMs: config.informers.watchdogTimeout,
    listTimeoutMs: config.informers.listTimeout,
    group: new InformerGroup(),
  };
  return { metrics, countFrom, clients, client, dispatcher, resyncer, settings };
}

/**
 * The informers on Arcane's resources (StreamClasses and their streams, BackfillRequests, StreamingJobTemplates, Jobs
 * and CronJobs), whose events become notices to the stream workflows.
 */
function buildInformers(
  config: WatcherConfig,
  runtime: ReturnType<typeof buildRuntime>,
  identity: string,
  isLeader: () => boolean,
) {
  const { settings, clients, dispatcher, resyncer } = runtime;
  const { watchNamespace } = config;
  const resync = (reason: string, streamClass?: string) => resyncer.request(reason, streamClass);
  const templates = new TemplateIndex();
  const controller = new StreamClassController({
    settings,
    clients,
    watchNamespace,
    dispatcher,
    templates,
    events: new EventRecorder(clients.core, identity, settings.log),
    isLeader,
    resync: (name, reason) => resync(reason, name),
  });
  const backfills = new BackfillRequestWatch({
    settings,
    clients,
    watchNamespace,
    directory: controller,
    dispatcher,
    isLeader,
    graceMs: config.backfillRequestGrace,
    onListed: () => resync('BackfillRequests listed'),
  });
  const shared = { settings, watchNamespace, directory: controller, dispatcher };
  const templateInformer = watchTemplates({
    ...shared,
    templates,
    onListed: () => resync('StreamingJobTemplates listed'),
  });
  const jobs = watchWorkloads('Job', { ...shared, onListed: () => resync('Jobs listed') });
  const cronJobs = watchWorkloads('CronJob', { ...shared, onListed: () => resync('CronJobs listed') });
  const informers: SupervisedInformer[] = [
    controller.classInformer,
    backfills.informer,
    templateInformer,
    jobs,
    cronJobs,
  ];
  // What a resync reads to tell which streams are at rest, so that it signals only the others.
  const observations = new CachedObservations({
    clients,
    log: settings.log,
    classes: controller.classInformer,
    jobs,
    cronJobs,
    templates: templateInformer,
    requests: backfills.informer,
  });
  runtime.countFrom(controller);
  resyncer.connect({
    directory: controller,
    recheckRequests: () => backfills.recheckAll(),
    observable: () => observations.listed(),
    observer: () => observations.observer(),
    workloadVersions: (stream) => observations.workloadVersions(stream),
  });
  return { controller, backfills, informers };
}

type Parts = ReturnType<typeof buildParts>;

/** Ready once every informer has listed, every serving class watches its streams and Temporal answers. */
function readinessOf(parts: Parts, config: WatcherConfig): Readiness {
  const reasons: string[] = [];
  for (const informer of parts.informers) {
    const { state, everSynced, error } = informer.health;
    if (!everSynced) reasons.push(`${informer.resource} not listed yet${error ? `: ${error.message}` : ''}`);
    else if (state === 'failing') reasons.push(`${informer.resource} watch failing: ${error?.message ?? ''}`);
  }
  for (const source of parts.controller.sources()) {
    const { state, error } = source.informer.health;
    // A class whose CRD is missing, or which the watcher may not read, is a Failed class (its status says so), not a
    // sign that the watcher is unready. Only an outage of the API server (no answer, or a 5xx) makes it unready.
    const outage = state === 'failing' && (error?.code === undefined || error.code >= 500);
    if (!source.settled || outage) reasons.push(`streams of StreamClass ${source.streamClass.name} not watched`);
  }
  if (!parts.link.reachable) reasons.push(`Temporal at ${config.temporal.address} unreachable`);
  return { ready: reasons.length === 0, reasons };
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
