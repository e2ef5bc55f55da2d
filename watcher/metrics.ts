// The watcher's Prometheus metrics, on a registry of its own (several watchers may share a process in tests).
import { Counter, Gauge, Registry } from 'prom-client';
import { kubernetesApiCalls } from '../kubernetes/api-calls.ts';
import type { InformerSettings as SharedInformerSettings } from '../kubernetes/informer.ts';

export interface StreamCount {
  namespace: string;
  /** The StreamClass (which names the kind in its kindRef). */
  kindRef: string;
  kind: string;
  /** `status.phase`, `None` when the stream has none yet. */
  phase: string;
}

/** A StreamClass as this replica sees it. */
export interface ClassState {
  name: string;
  phase: string;
  reason: string;
}

export class WatcherMetrics {
  readonly registry = new Registry();
  readonly events = this.counter(
    'arcane_watcher_events_total',
    'Informer events seen, by resource kind and event type (added, updated, deleted)',
    ['kind', 'type'],
  );
  readonly signalsSent = this.counter(
    'arcane_watcher_signals_sent_total',
    'Signals delivered to stream workflows, by signal name',
    ['signal'],
  );
  readonly signalFailures = this.counter(
    'arcane_watcher_signal_failures_total',
    'Signal attempts that failed and will be retried, by signal name',
    ['signal'],
  );
  readonly suppressed = this.counter(
    'arcane_watcher_suppressed_updates_total',
    'Updates not forwarded because only status or unrelated metadata changed, by resource kind',
    ['kind'],
  );
  readonly informerRestarts = this.counter(
    'arcane_watcher_informer_restarts_total',
    'Informers restarted, by resource and cause (error, watchdog)',
    ['resource', 'cause'],
  );
  readonly apiCalls = kubernetesApiCalls(this.registry);
  readonly resyncs = this.counter(
    'arcane_watcher_resyncs_total',
    'Resyncs run (streams not at rest signalled, workflows of vanished streams told)',
    [],
  );
  readonly resyncUnchanged = this.counter(
    'arcane_watcher_resync_unchanged_streams_total',
    'Streams a resync did not signal: their workflow is open and the caches show them at rest',
    [],
  );
  readonly leader = new Gauge({
    name: 'arcane_watcher_leader',
    help: '1 while this replica holds the lease and forwards events',
    registers: [this.registry],
  });

  /** Each replica's own view, so it shows what this one decides even where another replica writes the status. */
  readonly streamClasses: Gauge<'stream_class' | 'phase' | 'reason'>;

  constructor(countStreams: () => StreamCount[], classStates: () => ClassState[] = () => []) {
    new Gauge({
      name: 'arcane_streams',
      help: 'Streams in the informer caches by namespace, StreamClass (kind_ref), kind and status.phase',
      labelNames: ['namespace', 'kind_ref', 'kind', 'phase'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const stream of countStreams()) {
          const labels = {
            namespace: stream.namespace,
            kind_ref: stream.kindRef,
            kind: stream.kind,
            phase: stream.phase,
          };
          this.inc(labels);
        }
      },
    });
    this.streamClasses = new Gauge({
      name: 'arcane_stream_classes',
      help: 'StreamClasses by the phase and reason this replica decides for them (Unknown while it cannot tell)',
      labelNames: ['stream_class', 'phase', 'reason'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { name, phase, reason } of classStates()) this.set({ stream_class: name, phase, reason }, 1);
      },
    });
  }

  /** The value of a counter or gauge summed over the series carrying these labels (0 when none). */
  async value(metric: Counter | Gauge, labels: Record<string, string> = {}): Promise<number> {
    const { values } = await metric.get();
    const matches = (entry: (typeof values)[number]) =>
      Object.entries(labels).every(([key, value]) => entry.labels[key] === value);
    return values.filter(matches).reduce((sum, entry) => sum + entry.value, 0);
  }

  private counter<Label extends string>(name: string, help: string, labelNames: readonly Label[]): Counter<Label> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** What every informer of the watcher shares: the supervised informer's settings, with the watcher's metrics. */
export type InformerSettings = SharedInformerSettings<WatcherMetrics>;
