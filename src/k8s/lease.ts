import { setTimeout as delay } from 'node:timers/promises';
import { KubeApiError, type KubeClient } from './client.js';
import type { KubeObject } from './objects.js';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec: LeaseSpec;
}

/** client-go's defaults (kube-controller-manager's too): a lease lasts 15 s, renewals must succeed within 10 s. */
const DEFAULT_LEASE_SECONDS = 15;
const DEFAULT_RENEW_DEADLINE_SECONDS = 10;
const DEFAULT_RETRY_PERIOD_SECONDS = 2;
/** Waits between attempts are stretched by up to this fraction at random, so electors do not move in step. */
const JITTER = 1.2;
/** The Lease `stepwise controller` leads by. */
export const CONTROLLER_LEASE = 'stepwise-controller';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** How long others wait, from when they saw the lease last change, before they take it. @default 15 */
  leaseSeconds?: number;
  /** A leader that has not renewed for this long stops acting; less than `leaseSeconds`. @default 10 */
  renewDeadlineSeconds?: number;
  /** How often electors try to take or renew the lease. @default 2 */
  retryPeriodSeconds?: number;
}

type ElectionTimings = Pick<LeaderElectionOptions, 'leaseSeconds' | 'renewDeadlineSeconds' | 'retryPeriodSeconds'>;

/**
 * `stepwise controller`'s timings for a lease of `leaseSeconds`: the leader stops acting at 2/3 of it, and electors
 * try every 1/15 of it (every second by default), so a standby leads within about a second of a leader's SIGTERM.
 */
export function controllerTimings(leaseSeconds: number): ElectionTimings {
  return { leaseSeconds, renewDeadlineSeconds: (leaseSeconds * 2) / 3, retryPeriodSeconds: leaseSeconds / 15 };
}

/** The timings an elector keeps, in ms: defaults filled in, the deadline within the lease, retries within that. */
function electionMs(timings: ElectionTimings) {
  const leaseMs = (timings.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const deadline = (timings.renewDeadlineSeconds ?? DEFAULT_RENEW_DEADLINE_SECONDS) * 1000;
  const renewDeadlineMs = Math.min(deadline, (leaseMs * 2) / 3);
  const retryMs = Math.min((timings.retryPeriodSeconds ?? DEFAULT_RETRY_PERIOD_SECONDS) * 1000, renewDeadlineMs / 2);
  return { leaseMs, renewDeadlineMs, retryMs };
}

/**
 * The longest a standby can take to lead after the leader dies without giving up the lease: the leader's last
 * renewal may be a retry period old, the standby sees it at its next try (up to a retry period later), counts the
 * lease from then by its own clock, and takes over at its first try after that: the lease and two retry periods,
 * each stretched by the jitter.
 */
export function longestTakeoverMs(timings: ElectionTimings): number {
  const { leaseMs, retryMs } = electionMs(timings);
  return leaseMs + 2 * retryMs * JITTER;
}

/**
 * The holder of a Lease if it renewed it within its duration by this machine's clock; undefined when nobody holds
 * it, or the holder stopped renewing. For one-shot commands, which cannot watch the lease change; an elector
 * judges expiry by its own observation instead (see LeaderElector).
 */
export async function leaseHolder(
  client: KubeClient,
  namespace: string,
  name: string,
  now = new Date(),
): Promise<string | undefined> {
  const lease = await client.get<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name });
  const holder = lease?.spec.holderIdentity;
  if (!holder) return undefined;
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '');
  const lasts = (lease.spec.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  return now.getTime() <= renewed + lasts ? holder : undefined;
}

/** RFC 3339 with microseconds, as Lease's MicroTime fields want. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
/** A clock that only moves forward, for durations: the wall clock may be stepped. */
const monotonicMs = () => performance.now();

/** What leading has to be told: when it starts, and when it stops (for good: the process should exit). */
export interface LeadingCallbacks {
  onStartedLeading?: () => void;
  /** Called the moment the renew deadline passes without a renewal, or when leading was given up. */
  onStoppedLeading: (why: string) => void;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it. Another holder's lease
 * has expired when this process has seen no change to it for the lease duration (its own clock, never the
 * holder's renewTime, so clock skew between machines does not matter). The leader renews every retry period and
 * stops acting once the renew deadline has passed since its last successful renewal: before anyone else can take
 * the lease, since the deadline is shorter than the duration others wait.
 */
export class LeaderElector {
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  /** The lease as last seen, and when (monotonic): expiry is judged from this. */
  private observed?: { record: string; atMs: number };
  private leading = false;
  private lastRenewedMs = 0;
  private current?: Lease;
  private readonly stopped = new AbortController();

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    ({ leaseMs: this.leaseMs, renewDeadlineMs: this.renewDeadlineMs, retryMs: this.retryMs } = electionMs(options));
  }

  /** Whether this process leads now: it renewed within the renew deadline. */
  get isLeader(): boolean {
    return this.leading && monotonicMs() - this.lastRenewedMs < this.renewDeadlineMs;
  }

  private ref() {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: this.options.name,
      namespace: this.options.namespace,
    };
  }

  private observe(spec: LeaseSpec, atMs: number): void {
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime, spec.leaseTransitions]);
    if (record !== this.observed?.record) this.observed = { record, atMs };
  }

  /** One attempt to take or renew the lease, given up when `signal` aborts; true when this process holds it. */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const sentMs = monotonicMs();
    const options = signal ? { signal } : {};
    const path = await this.client.path(this.ref());
    const current = await this.client.request<Lease>('GET', path, options).catch((e: unknown) => {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    });
    const now = new Date();
    const mine = { holderIdentity: this.options.identity, leaseDurationSeconds: this.leaseMs / 1000 };
    if (!current) {
      const spec = { ...mine, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      const lease = { ...this.ref(), metadata: { name: this.options.name, namespace: this.options.namespace }, spec };
      return this.written(
        await this.write('POST', await this.client.path({ ...this.ref(), name: undefined }), lease, options),
        sentMs,
      );
    }
    this.observe(current.spec, sentMs);
    const held = current.spec.holderIdentity === this.options.identity;
    const free = !current.spec.holderIdentity;
    const observedFor = monotonicMs() - (this.observed?.atMs ?? sentMs);
    if (!held && !free && observedFor < (current.spec.leaseDurationSeconds ?? 0) * 1000) return false;
    const taken = held
      ? {}
      : { acquireTime: microTime(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 };
    const lease = {
      ...current,
      ...this.ref(),
      spec: { ...current.spec, ...mine, renewTime: microTime(now), ...taken },
    };
    return this.written(await this.write('PUT', path, lease, options), sentMs);
  }

  /** A create or update of the lease; undefined when another elector wrote first (409). */
  private async write(method: string, path: string, lease: Lease, options: { signal?: AbortSignal }) {
    try {
      return await this.client.request<Lease>(method, path, { ...options, body: lease });
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) return undefined;
      throw e;
    }
  }

  private written(lease: Lease | undefined, sentMs: number): boolean {
    if (!lease) return false;
    this.current = lease;
    this.observe(lease.spec, sentMs);
    // From when the request was sent: the server may have stored it any time after, never before.
    this.lastRenewedMs = sentMs;
    return true;
  }

  /**
   * Waits until this process leads, then renews until the renew deadline passes without a renewal or `stop`
   * is called; `onStoppedLeading` is called once, at that moment, even while a renewal is still hanging.
   */
  async run(callbacks: LeadingCallbacks, log: (line: string) => void = () => {}): Promise<void> {
    const stop = this.stopped.signal;
    while (!stop.aborted && !(await this.attempt(this.renewDeadlineMs, log))) await this.wait();
    if (stop.aborted) return;
    this.leading = true;
    log(`leading as ${this.options.identity} (Lease ${this.options.namespace}/${this.options.name})`);
    callbacks.onStartedLeading?.();
    const lost = new AbortController();
    const remaining = () => this.lastRenewedMs + this.renewDeadlineMs - monotonicMs();
    // A timer, not a check after each try: a renewal that hangs must not keep this process acting.
    let deadline = setTimeout(() => lost.abort(), remaining());
    while (!stop.aborted && !lost.signal.aborted) {
      await this.wait(lost.signal);
      if (lost.signal.aborted || stop.aborted) break;
      if (await this.attempt(remaining(), log, lost.signal)) {
        clearTimeout(deadline);
        deadline = setTimeout(() => lost.abort(), remaining());
      }
    }
    clearTimeout(deadline);
    this.leading = false;
    if (!stop.aborted) callbacks.onStoppedLeading(`no renewal of the Lease within ${this.renewDeadlineMs / 1000} s`);
  }

  /** One try, bounded by `timeoutMs`; failures are logged and count as not leading. */
  private async attempt(timeoutMs: number, log: (line: string) => void, lost?: AbortSignal): Promise<boolean> {
    const signals = [
      this.stopped.signal,
      AbortSignal.timeout(Math.max(1, Math.round(timeoutMs))),
      ...(lost ? [lost] : []),
    ];
    try {
      return await this.tryAcquireOrRenew(AbortSignal.any(signals));
    } catch (e) {
      if (!this.stopped.signal.aborted) log(`Lease ${this.options.name}: ${(e as Error).message}`);
      return false;
    }
  }

  private async wait(signal?: AbortSignal): Promise<void> {
    const ms = this.retryMs * (1 + Math.random() * (JITTER - 1));
    const signals = [this.stopped.signal, ...(signal ? [signal] : [])];
    await delay(Math.round(ms), undefined, { signal: AbortSignal.any(signals) }).catch(() => {});
  }

  /**
   * Stops electing. When leading, gives the lease up (holder cleared, as client-go's ReleaseOnCancel) so a
   * standby takes over at once instead of after the lease duration; call once the workers have stopped.
   */
  async release(timeoutMs = 2000): Promise<boolean> {
    this.stopped.abort();
    const lease = this.current;
    const wasLeading = this.isLeader;
    this.leading = false;
    if (!wasLeading || !lease) return false;
    const now = microTime(new Date());
    const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
    try {
      const path = await this.client.path(this.ref());
      await this.client.request('PUT', path, { body: { ...lease, spec }, signal: AbortSignal.timeout(timeoutMs) });
      return true;
    } catch {
      return false; // Someone else holds it already, or the server is away: it expires on its own.
    }
  }
}
