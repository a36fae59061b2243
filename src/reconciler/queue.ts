import { backoffMs } from '../k8s/client.js';

/** How failed keys are retried; client-go's DefaultControllerRateLimiter is the reference. */
export interface RateLimits {
  /** The first retry of a failing key waits this long, doubling with each failure. @default 5 */
  baseDelayMs?: number;
  /** The longest wait of a failing key. @default 1_000_000 (1000 s) */
  maxDelayMs?: number;
  /** Retries of all keys together, per second, beyond the burst. @default 10 */
  qps?: number;
  /** Retries of all keys together that may go at once. @default 100 */
  burst?: number;
}

/**
 * When failed keys go again: per key, exponential backoff with jitter (half to one and a half of the doubled delay);
 * for all keys together, a token bucket, so a cluster-wide outage does not turn into a storm of retries when it ends.
 * The later of the two wins.
 */
export class RetryLimiter {
  private readonly failures = new Map<string, number>();
  private readonly limits: Required<RateLimits>;
  private tokens: number;
  private refilledAt = Date.now();

  constructor(limits: RateLimits = {}) {
    this.limits = { baseDelayMs: 5, maxDelayMs: 1_000_000, qps: 10, burst: 100, ...limits };
    this.tokens = this.limits.burst;
  }

  /** Records a failure of `key`; how long it waits before it is tried again. */
  whenNext(key: string, now = Date.now()): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const { baseDelayMs, maxDelayMs } = this.limits;
    return Math.max(backoffMs(baseDelayMs, failures, maxDelayMs), this.bucketDelay(now));
  }

  /** A token from the bucket: 0 while the burst lasts, then the time until the token taken now is refilled. */
  private bucketDelay(now: number): number {
    const { qps, burst } = this.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * qps);
    this.refilledAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / qps) * 1000;
  }

  /** Failures of `key` since it last succeeded. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** `key` succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }
}

/**
 * A keyed work queue, as client-go's: a key waits in the queue at most once, is never handed to two workers
 * at once, and a key added while a worker has it is handed out again once that worker is done. Keys can be
 * added after a delay (pauses, grace periods); the earliest delay asked for wins. A failed key is added again
 * with `addRateLimited` after the retry limiter's delay, and `forget` resets it once it succeeds.
 */
export class WorkQueue {
  readonly limiter: RetryLimiter;

  constructor(limits: RateLimits = {}) {
    this.limiter = new RetryLimiter(limits);
  }

  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Workers waiting for a key, each woken by one add. */
  private readonly idle: (() => void)[] = [];
  private stopped = false;

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.waiting.push(key);
    this.idle.shift()?.();
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    this.timers.set(key, {
      at,
      timer: setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    });
  }

  /** Adds a key that failed, after its backoff; returns the delay. */
  addRateLimited(key: string): number {
    const ms = this.limiter.whenNext(key);
    this.addAfter(key, ms);
    return ms;
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** The next key to work on, once there is one; undefined once the queue is stopped. Call `done` after. */
  async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.waiting.shift();
      if (key !== undefined) {
        this.queued.delete(key);
        this.running.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
    return undefined;
  }

  done(key: string): void {
    this.running.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Keys waiting for a worker. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Nothing waits in the queue or is being worked on (timers aside). */
  get empty(): boolean {
    return this.waiting.length === 0 && this.running.size === 0;
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.idle.splice(0)) wake();
  }
}
