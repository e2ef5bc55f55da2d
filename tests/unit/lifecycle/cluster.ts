// Builders for observations and states, and a tiny simulated cluster that applies lifecycle actions like the activities.
import {
  decide,
  defaultLifecycleConfig,
  initialStreamState,
  type Action,
  type Decision,
  type EventNote,
  type LifecycleConfig,
  type Observation,
  type ObservedCronJob,
  type ObservedJob,
  type ObservedStream,
  type StreamKind,
  type StreamState,
  type ValidSpec,
} from '../../../workflows/lifecycle.ts';

export const T0 = Date.parse('2025-03-01T12:00:00.000Z');
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const config: LifecycleConfig = defaultLifecycleConfig;
export const INITIAL = 'orders-initial-backfill-7f3a';
/** What the stream's StreamClass serves. */
export const KIND: StreamKind = { group: 'streaming.sneaksanddata.com', kind: 'MockStream', plural: 'mockstreams' };

export function spec(overrides: Partial<ValidSpec> = {}): ValidSpec {
  return { valid: true, suspended: false, backend: 'job', configurationHash: 'hash-v1', ...overrides };
}

/** A stream as first created: no status yet. */
export function stream(overrides: Partial<ObservedStream> = {}): ObservedStream {
  return {
    uid: 'stream-uid',
    generation: 1,
    deleting: false,
    pinTemplate: false,
    status: { phase: '' },
    spec: spec(),
    ...overrides,
  };
}

export function job(overrides: Partial<ObservedJob> = {}): ObservedJob {
  return {
    uid: 'job-1',
    backfilling: false,
    configurationHash: 'hash-v1',
    templateGeneration: 1,
    state: 'active',
    terminating: false,
    labelled: true,
    startTime: T0,
    ...overrides,
  };
}

export function backfillJob(request: string, overrides: Partial<ObservedJob> = {}): ObservedJob {
  return job({ uid: `bf-${request}`, backfilling: true, backfillId: request, ...overrides });
}

export function cronJob(overrides: Partial<ObservedCronJob> = {}): ObservedCronJob {
  return {
    uid: 'cron-1',
    configurationHash: 'hash-v1',
    templateGeneration: 1,
    terminating: false,
    labelled: true,
    ...overrides,
  };
}

export function request(name: string, createdAt = T0, completed = false) {
  return { name, createdAt, completed };
}

export function observation(overrides: Partial<Observation> = {}): Observation {
  return {
    kind: KIND,
    stream: stream(),
    templates: {
      streaming: { ref: 'arcane/streaming', found: true, generation: 1 },
      backfill: { ref: 'arcane/backfill', found: true, generation: 1 },
    },
    backfillRequests: [],
    initialBackfillName: INITIAL,
    ...overrides,
  };
}

/** The state of a stream this lifecycle has been running, in `phase`. */
export function state(overrides: Partial<StreamState> = {}): StreamState {
  return {
    ...initialStreamState(),
    kind: KIND,
    streamUid: 'stream-uid',
    phase: 'Running',
    condition: { reason: 'StreamRunning', message: 'the streaming Job is running' },
    configurationHash: 'hash-v1',
    initialBackfill: 'requested',
    lastJobStart: T0,
    ...overrides,
  };
}

/** The stream's status as this lifecycle last wrote it for `s`, so unchanged decisions write nothing. */
export function statusOf(s: StreamState, generation = 1): ObservedStream['status'] {
  const types: Record<string, string> = { Running: 'Ready', Backfilling: 'Ready', Scheduled: 'Ready', Failed: 'Error' };
  return {
    phase: s.phase,
    configurationHash: s.configurationHash,
    condition: { type: types[s.phase] ?? 'Warning', ...s.condition, observedGeneration: generation },
  };
}

export function types(decision: Decision): string[] {
  return decision.actions.map((action) => action.type);
}

/** The workload and request actions, without status writes and events. */
export function effects(decision: Decision): Action[] {
  return decision.actions.filter((action) => action.type !== 'writeStatus' && action.type !== 'recordEvent');
}

export function events(decision: Decision): EventNote[] {
  return decision.actions.flatMap((action) =>
    action.type === 'recordEvent'
      ? [{ eventType: action.eventType, reason: action.reason, message: action.message }]
      : [],
  );
}

export function eventReasons(decision: Decision): string[] {
  return events(decision).map((event) => event.reason);
}

export function statusWrites(decision: Decision) {
  return decision.actions.flatMap((action) => (action.type === 'writeStatus' ? [action] : []));
}

/** A cluster holding one stream, changed only by lifecycle actions and by the test ("someone else"). */
export class Cluster {
  observation: Observation;
  state: StreamState;
  now: number;
  recorded: EventNote[] = [];
  /** Every status write, in order: one per settled state. */
  statusWrites: Extract<Action, { type: 'writeStatus' }>[] = [];
  /** API calls the actions would make (status writes that change nothing included). */
  calls = 0;
  private nextUid = 1;
  private readonly prunes: boolean;

  /** `prunes`: the stream's status schema keeps only a condition's type, status, message and phase, as production
   * plugins' schemas do; the API server drops the rest. */
  constructor(initial: Observation, start: StreamState = initialStreamState(), now = T0, { prunes = false } = {}) {
    this.observation = structuredClone(initial);
    this.state = start;
    this.now = now;
    this.prunes = prunes;
  }

  get stream(): ObservedStream {
    if (!this.observation.stream) throw new Error('the stream is gone');
    return this.observation.stream;
  }

  /** The Job named after the stream, read fresh (a method, so assertions do not narrow it for later reads). */
  job(): ObservedJob | undefined {
    return this.observation.job;
  }

  cronJob(): ObservedCronJob | undefined {
    return this.observation.cronJob;
  }

  private get validSpec(): ValidSpec {
    const current = this.stream.spec;
    if (!current.valid) throw new Error('cannot build a workload from an invalid spec');
    return current;
  }

  private newJob(backfillRequest?: string): ObservedJob {
    const kind = backfillRequest === undefined ? 'streaming' : 'backfill';
    const template = this.observation.templates[kind];
    return {
      uid: `sim-job-${this.nextUid++}`,
      backfilling: backfillRequest !== undefined,
      ...(backfillRequest === undefined ? {} : { backfillId: backfillRequest }),
      configurationHash: this.validSpec.configurationHash,
      ...(template?.generation === undefined ? {} : { templateGeneration: template.generation }),
      state: 'active',
      terminating: false,
      held: true,
      labelled: true,
      startTime: this.now,
    };
  }

  /** Create when absent, replace only the named uid: the activities' contract. */
  private applyJob(replaces: string | undefined, backfillRequest?: string): void {
    const current = this.observation.job;
    if (!current || current.uid === replaces) this.observation.job = this.newJob(backfillRequest);
  }

  private applyCronJob(replaces: string | undefined): void {
    const current = this.observation.cronJob;
    if (current && current.uid !== replaces) return;
    const generation = this.observation.templates.streaming?.generation;
    this.observation.cronJob = {
      uid: `sim-cron-${this.nextUid++}`,
      configurationHash: this.validSpec.configurationHash,
      ...(generation === undefined ? {} : { templateGeneration: generation }),
      terminating: false,
      labelled: true,
    };
  }

  apply(action: Action): void {
    const obs = this.observation;
    this.calls += 1;
    switch (action.type) {
      case 'createBackfillRequest':
        if (!obs.backfillRequests.some((r) => r.name === action.name))
          obs.backfillRequests.push(request(action.name, this.now));
        return;
      case 'completeBackfillRequest':
        obs.backfillRequests = obs.backfillRequests.map((r) =>
          r.name === action.name ? { ...r, completed: true } : r,
        );
        return;
      case 'applyStreamingJob':
        return this.applyJob(action.replaces);
      case 'applyBackfillJob':
        return this.applyJob(action.replaces, action.request);
      case 'deleteJob':
        if (obs.job?.uid === action.uid) delete obs.job;
        return;
      case 'releaseJob':
        // Released while terminating: the API server removes it.
        if (obs.job?.uid === action.uid && obs.job.terminating) delete obs.job;
        else if (obs.job?.uid === action.uid) obs.job.held = false;
        return;
      case 'refuseBackfillRequest':
        obs.backfillRequests = obs.backfillRequests.map((r) => (r.name === action.name ? { ...r, refused: true } : r));
        return;
      case 'applyCronJob':
        return this.applyCronJob(action.replaces);
      case 'deleteCronJob':
        if (obs.cronJob?.uid === action.uid) delete obs.cronJob;
        return;
      case 'adoptJob':
        if (obs.job?.uid === action.uid) obs.job.labelled = true;
        return;
      case 'adoptCronJob':
        if (obs.cronJob?.uid === action.uid) obs.cronJob.labelled = true;
        return;
      case 'writeStatus': {
        this.statusWrites.push(action);
        const { conditionType: type, reason, message, observedGeneration } = action;
        const condition = this.prunes ? { type, message } : { type, reason, message, observedGeneration };
        this.stream.status = { phase: action.phase, configurationHash: action.configurationHash, condition };
        return;
      }
      case 'recordEvent':
        this.recorded.push({ eventType: action.eventType, reason: action.reason, message: action.message });
        return;
    }
  }

  /** Decide and apply until a decision has no actions, like the workflow driver; fails if that never happens. */
  converge(maxRounds = 12): Decision & { rounds: number } {
    for (let rounds = 1; rounds <= maxRounds; rounds++) {
      const decision = decide(this.state, structuredClone(this.observation), config, this.now);
      this.state = decision.state;
      for (const action of decision.actions) this.apply(action);
      if (decision.actions.length === 0) return { ...decision, rounds };
    }
    throw new Error(`no convergence within ${maxRounds} rounds; phase ${this.state.phase}`);
  }

  /** Let the durable timer fire. */
  wakeAt(at: number | undefined): void {
    if (at === undefined) throw new Error('no timer to wait for');
    this.now = at;
  }

  /** Kubernetes deletes the Job (its TTL after finishing, say): it stays, terminating, while the finalizer holds it. */
  deleteJob(): void {
    const current = this.observation.job;
    if (!current) throw new Error('no Job to delete');
    if (current.held) this.observation.job = { ...current, terminating: true };
    else delete this.observation.job;
  }

  finishJob(outcome: 'complete' | 'failed', after: number): void {
    const current = this.observation.job;
    if (!current) throw new Error('no Job to finish');
    this.now += after;
    this.observation.job = { ...current, state: outcome, finishTime: this.now };
  }

  changeSpec(overrides: Partial<ValidSpec>): void {
    this.stream.spec = { ...this.validSpec, ...overrides };
    this.stream.generation += 1;
  }
}
