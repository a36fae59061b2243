import type { KubeClient, ObjectRef } from '../k8s/client.js';
import { Informer, type InformerEvent } from '../k8s/informer.js';
import type { KubeObject } from '../traffic/objects.js';
import { canaryIngressName } from '../traffic/nginx.js';
import { canaryServiceName } from '../traffic/service.js';
import type { Reader } from './observe.js';
import { ROLLOUT_REF } from './observe.js';
import { reconcileOnce } from './run.js';
import type { RolloutObject } from './types.js';
import { canaryWorkloadName } from './workload.js';

const WATCHED = [
  ROLLOUT_REF,
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
] as const;

export interface ControllerOptions {
  /** Watch one namespace; all when absent. */
  namespace?: string;
  /** Releases reconciled at the same time. @default 8 */
  workers?: number;
  /** Every Rollout is looked at again at least this often, whatever the watches say. @default 60000 */
  resyncMs?: number;
  log?: (line: string) => void;
}

/** Stats for benchmarks and for `--verbose`. */
export interface ControllerStats {
  passes: number;
  slowestPassMs: number;
  errors: number;
}

/**
 * The long-lived reconciler: informers keep every Rollout and the objects it governs in memory; any change to
 * one of them queues the Rollouts it concerns; workers run observe → decide → act passes from that cache, each
 * Rollout one at a time, many Rollouts at once. A pass asks to run again (pauses, grace periods) with a timer.
 */
export class Controller implements Reader {
  private readonly informers = new Map<string, Informer>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private wake?: () => void;
  private stopped = false;
  private resync?: NodeJS.Timeout;
  readonly stats: ControllerStats = { passes: 0, slowestPassMs: 0, errors: 0 };

  constructor(private readonly client: KubeClient, private readonly options: ControllerOptions = {}) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  async start(): Promise<void> {
    for (const ref of WATCHED) {
      const informer = new Informer(this.client, { ...ref, ...(this.options.namespace ? { namespace: this.options.namespace } : {}) }, (type, o) => this.onEvent(type, o), (l) => this.log(l));
      this.informers.set(ref.kind, informer);
    }
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    this.log(`watching ${this.options.namespace ? `namespace ${this.options.namespace}` : 'all namespaces'}: ${this.informer('Rollout').size} Rollouts`);
    for (const r of this.informer('Rollout').list<RolloutObject>(undefined)) this.enqueue(keyOf(r));
    this.resync = setInterval(() => {
      for (const r of this.informer('Rollout').list<RolloutObject>(undefined)) this.enqueue(keyOf(r));
    }, this.options.resyncMs ?? 60_000);
    for (let i = 0; i < (this.options.workers ?? 8); i++) void this.work();
  }

  stop(): void {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    for (const i of this.informers.values()) i.stop();
    this.wake?.();
  }

  /** True when no Rollout waits in the queue or is being reconciled. */
  get idle(): boolean {
    return this.queue.length === 0 && this.running.size === 0;
  }

  private informer(kind: string): Informer {
    return this.informers.get(kind)!;
  }

  // Reader over the cache, for observe().
  async get<T extends KubeObject>(ref: ObjectRef & { name: string }): Promise<T | undefined> {
    const informer = this.informers.get(ref.kind);
    if (!informer || informer.unavailable) return undefined;
    return informer.get<T>(ref.namespace, ref.name);
  }

  async list<T extends KubeObject>(ref: ObjectRef, labelSelector?: string): Promise<T[]> {
    const informer = this.informers.get(ref.kind);
    return informer && !informer.unavailable ? informer.list<T>(ref.namespace, labelSelector) : [];
  }

  /** Queues the Rollouts an object concerns: itself, or those whose workload, Services or routes it is. */
  private onEvent(_type: InformerEvent, o: KubeObject): void {
    if (o.kind === 'Rollout') {
      this.enqueue(keyOf(o));
      return;
    }
    const ns = o.metadata.namespace;
    const name = governedName(o);
    for (const r of this.informer('Rollout').list<RolloutObject>(ns)) {
      if (concerns(r, o.kind, name)) this.enqueue(keyOf(r));
    }
  }

  private enqueue(key: string): void {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.wake?.();
  }

  private enqueueAfter(key: string, ms: number): void {
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    this.timers.set(key, { at, timer: setTimeout(() => { this.timers.delete(key); this.enqueue(key); }, ms) });
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key) {
        this.queued.delete(key);
        return key;
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    return undefined;
  }

  private async work(): Promise<void> {
    for (let key = await this.next(); key !== undefined; key = await this.next()) {
      this.running.add(key);
      const [namespace, name] = key.split('/') as [string, string];
      const started = Date.now();
      try {
        const result = await reconcileOnce(this.client, namespace, name, {
          reader: this,
          log: (line) => this.log(`${key}: ${line}`),
          onWritten: (object) => this.informers.get(object.kind)?.upsert(object),
          onDeleted: (ref) => this.informers.get(ref.kind)?.forget(ref.namespace, ref.name),
        });
        if (result?.decision.requeueAfterMs !== undefined) this.enqueueAfter(key, result.decision.requeueAfterMs);
      } catch (e) {
        this.stats.errors++;
        this.log(`${key}: ${(e as Error).message}; retrying`);
        this.enqueueAfter(key, 2000);
      } finally {
        this.stats.passes++;
        this.stats.slowestPassMs = Math.max(this.stats.slowestPassMs, Date.now() - started);
        this.running.delete(key);
        if (this.dirty.delete(key)) this.enqueue(key);
      }
      // Let other workers and watch events in between passes.
      await new Promise((r) => setImmediate(r));
    }
  }
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

/** The name under which an object relates to a Rollout: a ReplicaSet's or pod's owning workload. */
function governedName(o: KubeObject): string {
  const owner = ((o.metadata.ownerReferences ?? []) as { kind?: string; name?: string }[])[0];
  if (o.kind === 'ReplicaSet') return owner?.name ?? o.metadata.name;
  if (o.kind === 'Pod') {
    if (owner?.kind === 'ReplicaSet') {
      const hash = o.metadata.labels?.['pod-template-hash'];
      return hash && owner.name?.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name ?? '';
    }
    return owner?.name ?? '';
  }
  return o.metadata.name;
}

function concerns(r: RolloutObject, kind: string, name: string): boolean {
  const workload = r.spec.workloadRef.name;
  const routing = (r.spec.strategy.canary ?? r.spec.strategy.blueGreen)?.trafficRoutings?.[0];
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'Pod':
      return name === workload || name === canaryWorkloadName(workload);
    case 'Service':
      return !!routing && (name === routing.service || name === canaryServiceName(routing.service));
    case 'Ingress':
      return !!routing?.ingress && (name === routing.ingress.name || name === canaryIngressName(routing.ingress.name));
    case 'HTTPRoute':
      return name === routing?.gateway?.httpRouteName;
    default:
      return false;
  }
}
