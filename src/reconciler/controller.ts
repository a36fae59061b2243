import type { KubeClient, ObjectRef } from '../k8s/client.js';
import { Informer, type InformerEvent } from '../k8s/informer.js';
import type { KubeObject } from '../k8s/objects.js';
import { canaryIngressName } from '../traffic/nginx.js';
import { canaryServiceName } from '../traffic/service.js';
import type { Reader } from './observe.js';
import { ROLLOUT_REF } from './observe.js';
import { EventRecorder, isConflict } from './act.js';
import { type RateLimits, WorkQueue } from './queue.js';
import type { PrometheusEndpoint } from '../analysis/prometheus.js';
import { reconcileOnce } from './run.js';
import { type RolloutObject, strategyOf } from './types.js';
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
  /** How failed passes are retried. @default client-go's: 5 ms doubling to 1000 s per Rollout, 10/s overall */
  retries?: RateLimits;
  log?: (line: string) => void;
  /** The Prometheus for Rollouts whose analysis names none. */
  prometheus?: PrometheusEndpoint;
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
  /**
   * `namespace/family/name` of an object a Rollout governs → the Rollouts concerned (any event must find them fast).
   */
  private readonly concerned = new Map<string, Set<string>>();
  private readonly governedBy = new Map<string, string[]>();
  private readonly queue: WorkQueue;
  private resync?: NodeJS.Timeout;
  private workers: Promise<void>[] = [];
  readonly stats: ControllerStats = { passes: 0, slowestPassMs: 0, errors: 0 };
  private readonly events: EventRecorder;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ControllerOptions = {},
  ) {
    this.events = new EventRecorder(client);
    this.queue = new WorkQueue(options.retries);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  /**
   * Lists and watches everything a release reads; resolves once the caches hold it all. Standby replicas sync
   * too: their admission webhook reads the same cache, and they are ready to act the moment they lead.
   */
  async sync(): Promise<void> {
    for (const ref of WATCHED) {
      const scope = this.options.namespace ? { namespace: this.options.namespace } : {};
      this.informers.set(
        ref.kind,
        new Informer(
          this.client,
          { ...ref, ...scope },
          (type, o) => this.onEvent(type, o),
          (l) => this.log(l),
        ),
      );
    }
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    const where = this.options.namespace ? `namespace ${this.options.namespace}` : 'all namespaces';
    this.log(`watching ${where}: ${this.informer('Rollout').size} Rollouts`);
  }

  /** Starts the workers (after `sync`): every Rollout is reconciled now, on every change and at each resync. */
  run(): void {
    const queueAll = () => {
      for (const r of this.informer('Rollout').list<RolloutObject>(undefined)) this.queue.add(keyOf(r));
    };
    queueAll();
    this.resync = setInterval(queueAll, this.options.resyncMs ?? 60_000);
    this.workers = Array.from({ length: this.options.workers ?? 8 }, () => this.work());
  }

  /** Stops taking work and watching; resolves once the passes under way have ended. */
  async stop(): Promise<void> {
    if (this.resync) clearInterval(this.resync);
    this.queue.stop();
    for (const i of this.informers.values()) i.stop();
    await Promise.all(this.workers);
  }

  private informer(kind: string): Informer {
    const informer = this.informers.get(kind);
    if (!informer) throw new Error(`no informer for ${kind}: sync() first`);
    return informer;
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
  private onEvent(type: InformerEvent, o: KubeObject): void {
    if (o.kind === 'Rollout') {
      const key = keyOf(o);
      for (const governed of this.governedBy.get(key) ?? []) this.concerned.get(governed)?.delete(key);
      this.governedBy.delete(key);
      if (type !== 'DELETED') {
        const governed = governedKeys(o as RolloutObject);
        this.governedBy.set(key, governed);
        for (const g of governed) this.concerned.set(g, (this.concerned.get(g) ?? new Set()).add(key));
      }
      this.queue.add(key);
      return;
    }
    for (const key of this.concerned.get(`${o.metadata.namespace}/${family(o.kind)}/${governedName(o)}`) ?? [])
      this.queue.add(key);
  }

  /**
   * A failed pass goes again after its backoff. Beyond a conflict (a stale read, normal), the failure is told
   * where users look: the Rollout's status message and a Warning Event, not only this process's log.
   */
  private failed(key: string, error: unknown): void {
    const retryMs = this.queue.addRateLimited(key);
    const retrying = `retrying in ${retryMs < 1000 ? `${Math.round(retryMs)} ms` : `${Math.round(retryMs / 1000)} s`}`;
    if (isConflict(error)) {
      this.log(`${key}: changed meanwhile; ${retrying}`);
      return;
    }
    this.stats.errors++;
    const failures = this.queue.limiter.failuresOf(key);
    this.log(`${key}: ${(error as Error).message}; ${retrying} (failure ${failures} in a row)`);
    const [namespace, name] = key.split('/') as [string, string];
    const rollout = this.informers.get('Rollout')?.get<RolloutObject>(namespace, name);
    if (!rollout || !reportedFailure(failures)) return;
    const message = `reconcile failed: ${(error as Error).message}`;
    this.events.record(rollout, { type: 'Warning', reason: 'ReconcileFailed', message: `${message}; ${retrying}` });
    // Stable text: writing it again changes nothing, so it does not wake the Rollout before its backoff ends.
    if (rollout.status?.message === message) return;
    const ref = { apiVersion: rollout.apiVersion, kind: rollout.kind, namespace, name };
    this.client.mergePatch(ref, { status: { message } }, 'status').catch(() => {});
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.next(); key !== undefined; key = await this.queue.next()) {
      const [namespace, name] = key.split('/') as [string, string];
      const started = Date.now();
      try {
        const result = await reconcileOnce(this.client, namespace, name, {
          reader: this,
          log: (line) => this.log(`${key}: ${line}`),
          events: this.events,
          ...(this.options.prometheus ? { prometheus: this.options.prometheus } : {}),
          onWritten: (object) => this.informers.get(object.kind)?.upsert(object),
          onDeleted: (ref) => this.informers.get(ref.kind)?.forget(ref.namespace, ref.name),
        });
        this.queue.forget(key);
        if (result?.decision.requeueAfterMs !== undefined) this.queue.addAfter(key, result.decision.requeueAfterMs);
      } catch (e) {
        this.failed(key, e);
      } finally {
        this.stats.passes++;
        this.stats.slowestPassMs = Math.max(this.stats.slowestPassMs, Date.now() - started);
        this.queue.done(key);
      }
      // Let other workers and watch events in between passes.
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** How often a failing Rollout says so in an Event: at its 1st, 2nd, 4th, 8th… failure in a row. */
const reportedFailure = (failures: number) => (failures & (failures - 1)) === 0;

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

/** The name under which an object relates to a Rollout: a ReplicaSet's or pod's owning workload. */
function governedName(o: KubeObject): string {
  const owner = ((o.metadata.ownerReferences ?? []) as { kind?: string; name?: string }[])[0];
  if (o.kind === 'ReplicaSet') return owner?.name ?? o.metadata.name;
  if (o.kind === 'Pod') {
    if (owner?.kind === 'ReplicaSet') {
      const hash = o.metadata.labels?.['pod-template-hash'];
      return hash && owner.name?.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : (owner.name ?? '');
    }
    return owner?.name ?? '';
  }
  return o.metadata.name;
}

/** Pods and ReplicaSets count as their workload's: one family, named after the workload. */
const family = (kind: string) =>
  kind === 'Deployment' || kind === 'StatefulSet' || kind === 'ReplicaSet' || kind === 'Pod' ? 'Workload' : kind;

/** The objects whose changes a Rollout must see, as `namespace/family/name`. */
function governedKeys(r: RolloutObject): string[] {
  const workload = r.spec.workloadRef.name;
  const { routing } = strategyOf(r);
  const names = [
    `Workload/${workload}`,
    `Workload/${canaryWorkloadName(workload)}`,
    ...(routing ? [`Service/${routing.service}`, `Service/${canaryServiceName(routing.service)}`] : []),
    ...(routing?.ingress
      ? [`Ingress/${routing.ingress.name}`, `Ingress/${canaryIngressName(routing.ingress.name)}`]
      : []),
    ...(routing?.gateway ? [`HTTPRoute/${routing.gateway.httpRouteName}`] : []),
  ];
  return names.map((n) => `${r.metadata.namespace ?? 'default'}/${n}`);
}
