// Leader election on a coordination.k8s.io/v1 Lease, done the way client-go does it. Every write of the Lease carries
// the resourceVersion it was read at, so of two replicas writing at once only the first succeeds. A lease counts as
// expired when its record has not changed for leaseDuration, measured on this replica's own clock, because the clocks
// of other machines cannot be trusted. A leader that cannot renew within leaseDuration - renewPeriod stops leading
// before any other replica may take over, so two replicas never lead at once.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorMessage, statusCode } from '../../kubernetes/errors.ts';
import { formatMicroTime, nowMicros } from './lease-time.ts';

const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' } as const;

const leaseSchema = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional() }),
  spec: z
    .looseObject({
      holderIdentity: z.string().nullish(),
      leaseDurationSeconds: z.number().nullish(),
      acquireTime: z.string().nullish(),
      renewTime: z.string().nullish(),
      leaseTransitions: z.number().nullish(),
    })
    .prefault({}),
});

type Lease = z.infer<typeof leaseSchema>;

/** `<pod or host name>_<random>`: unique even for two replicas in one process. */
export function holderIdentity(prefix: string = hostname()): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export interface LeaderElectionOptions {
  api: CustomObjectsApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewPeriodMs: number;
  log: Logger;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export class LeaderElector {
  private readonly options: LeaderElectionOptions;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lease: Lease | undefined;
  /** The holder and renewTime last seen, and when this replica saw them change (its own monotonic clock, in ms). */
  private observed = { record: '', at: 0 };

  constructor(options: LeaderElectionOptions) {
    this.options = options;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    await this.running;
    this.setLeading(false, 'stopping');
    // This also covers a lease that was won just as the stop began: it is released all the same.
    await this.release();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const { renewPeriodMs, log } = this.options;
    let nextMs = renewPeriodMs;
    try {
      const leading = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      if (leading) this.renewed();
      else if (this.leading) this.setLeading(false, 'another replica holds the lease');
    } catch (error) {
      if (this.stopped) return;
      log.warn({ error: errorMessage(error), lease: this.leaseName }, 'lease update failed; retrying');
      nextMs = Math.max(Math.floor(renewPeriodMs / 2), 50);
    }
    this.schedule(nextMs);
  }

  private get leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  /** True when this replica holds the lease after the call. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.options;
    const now = formatMicroTime(nowMicros());
    const location = { ...LEASES, namespace, name };
    const current = await this.read();
    if (!current) {
      const spec = { ...this.record(now), acquireTime: now, leaseTransitions: 0 };
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec };
      return this.write(() => api.createNamespacedCustomObject({ ...LEASES, namespace, body }));
    }
    const spec = current.spec;
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${spec.renewTime ?? ''}`;
    if (record !== this.observed.record) this.observed = { record, at: performance.now() };
    const durationMs = (spec.leaseDurationSeconds ?? this.options.leaseDurationMs / 1000) * 1000;
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.observed.at + durationMs > performance.now()) return false;
    const mine = holder === identity;
    const body = {
      ...current,
      spec: {
        ...spec,
        ...this.record(now),
        acquireTime: mine ? spec.acquireTime : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    if (!mine)
      this.options.log.info({ lease: this.leaseName, previousHolder: holder || null }, 'taking over the lease');
    return this.write(() => api.replaceNamespacedCustomObject({ ...location, body }));
  }

  private record(now: string) {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      renewTime: now,
    };
  }

  private async read(): Promise<Lease | undefined> {
    const { api, namespace, name } = this.options;
    try {
      this.lease = leaseSchema.parse(await api.getNamespacedCustomObject({ ...LEASES, namespace, name }));
      return this.lease;
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** Creates or replaces the lease; a conflict means another replica wrote first. */
  private async write(send: () => Promise<unknown>): Promise<boolean> {
    try {
      this.lease = leaseSchema.parse(await send());
      return true;
    } catch (error) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
  }

  private renewed(): void {
    if (!this.leading) this.setLeading(true, 'acquired the lease');
    clearTimeout(this.deadline);
    const { leaseDurationMs, renewPeriodMs } = this.options;
    // Stop leading now, before the lease can expire in the eyes of the other replicas and one of them takes over.
    this.deadline = setTimeout(
      () => this.setLeading(false, 'could not renew the lease in time'),
      leaseDurationMs - renewPeriodMs,
    );
  }

  private setLeading(leading: boolean, why: string): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (!leading) clearTimeout(this.deadline);
    this.options.log.info(
      { lease: this.leaseName, identity: this.options.identity, why },
      leading ? 'leading' : 'not leading',
    );
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private async release(): Promise<void> {
    const { api, namespace, name, identity, log } = this.options;
    if (this.lease?.spec.holderIdentity !== identity) return;
    const now = formatMicroTime(nowMicros());
    // Release the lease by clearing its holder (an undefined field is left out of the JSON), so the next replica that
    // looks takes it at once instead of waiting for it to expire.
    const spec = {
      ...this.lease.spec,
      holderIdentity: undefined,
      leaseDurationSeconds: 1,
      renewTime: now,
      acquireTime: now,
    };
    const body = { ...this.lease, spec };
    try {
      await api.replaceNamespacedCustomObject({ ...LEASES, namespace, name, body });
    } catch (error) {
      log.warn({ error: errorMessage(error), lease: this.leaseName }, 'could not release the lease; it expires');
    }
  }
}
