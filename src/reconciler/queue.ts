/**
 * A keyed work queue, as client-go's: a key waits in the queue at most once, is never handed to two workers
 * at once, and a key added while a worker has it is handed out again once that worker is done. Keys can be
 * added after a delay (pauses, grace periods); the earliest delay asked for wins.
 */
export class WorkQueue {
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
