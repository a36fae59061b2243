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
import { KRUISE_ANALYSIS_ANNOTATION } from '../appspec/values.js';
import { KRUISE_ROLLOUT_REF, reconcileKruiseAnalysis } from './kruise-analysis.js';
import { type Counter, type Histogram, type Registry, SECONDS_BUCKETS } from './metrics.js';
import { reconcileOnce } from './run.js';
import { type RolloutObject, strategyOf, subStatusOf } from './types.js';
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
  // Releases OpenKruise's controller drives, gated by the analysis they carry (when Kruise is installed).
  KRUISE_ROLLOUT_REF,
] as const;

/** Queue keys of Kruise Rollouts start with this; the builtin Rollouts' are `namespace/name`. */
const KRUISE_KEY = 'kruise:';

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
  /** Where the controller's metrics go (`/metrics`). */
  registry?: Registry;
}

/** The controller's own metrics. */
interface ControllerMetrics {
  passes: Counter;
  passSeconds: Histogram;
  retries: Counter;
  stepSeconds: Histogram;
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
  private readonly metrics?: ControllerMetrics;
  /** Where each release in progress stands, and since when: the step durations' clock. */
  private readonly steps = new Map<string, { at: string; since: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly options: ControllerOptions = {},
  ) {
    this.events = new EventRecorder(client);
    this.queue = new WorkQueue(options.retries);
    if (options.registry) this.metrics = this.register(options.registry);
  }

  private register(registry: Registry): ControllerMetrics {
    registry.gauge('stepwise_workqueue_depth', 'Rollouts waiting for a worker.', () => [[{}, this.queue.depth]]);
    registry.gauge('stepwise_releases', 'Rollouts by phase.', () => {
      const rollouts = this.informers.get(typeKey(ROLLOUT_REF))?.list<RolloutObject>(undefined) ?? [];
      const phases = new Map<string, number>();
      for (const phase of rollouts.map((r) => r.status?.phase ?? 'Initial'))
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
      return [...phases].map(([phase, n]) => [{ phase }, n] as const);
    });
    return {
      passes: registry.counter('stepwise_reconcile_total', 'Reconcile passes by kind of Rollout and result.'),
      passSeconds: registry.histogram('stepwise_reconcile_duration_seconds', 'Seconds a reconcile pass took.'),
      retries: registry.counter('stepwise_workqueue_retries_total', 'Rollouts queued again after a failed pass.'),
      stepSeconds: registry.histogram(
        'stepwise_step_duration_seconds',
        'Seconds a release spent at a step, by strategy.',
        SECONDS_BUCKETS.filter((s) => s >= 0.1).concat([1800, 3600]),
      ),
    };
  }

  /** A release's step changed (or it ended): the time it spent at the step before goes to the histogram. */
  private timeStep(rollout: RolloutObject, deleted: boolean): void {
    if (!this.metrics) return;
    const key = keyOf(rollout);
    const sub = subStatusOf(rollout);
    const releasing = !deleted && rollout.status?.phase === 'Progressing' && sub;
    const at = releasing ? `${sub.canaryRevision}/${sub.currentStepIndex}` : undefined;
    const before = this.steps.get(key);
    if (before?.at === at) return;
    if (before)
      this.metrics.stepSeconds.observe((Date.now() - before.since) / 1000, { strategy: strategyOf(rollout).kind });
    if (at) this.steps.set(key, { at, since: Date.now() });
    else this.steps.delete(key);
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
        typeKey(ref),
        new Informer(
          this.client,
          { ...ref, ...scope },
          (type, o) => this.onEvent(type, o),
          (l) => this.log(l),
          { optional: ref === KRUISE_ROLLOUT_REF },
        ),
      );
    }
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    const where = this.options.namespace ? `namespace ${this.options.namespace}` : 'all namespaces';
    const kruise = this.informer(KRUISE_ROLLOUT_REF);
    const gated = kruise.unavailable ? '' : `, ${this.kruiseAnalyzed().length} OpenKruise Rollouts with analysis`;
    this.log(`watching ${where}: ${this.informer(ROLLOUT_REF).size} Rollouts${gated}`);
  }

  /** Starts the workers (after `sync`): every Rollout is reconciled now, on every change and at each resync. */
  run(): void {
    const queueAll = () => {
      for (const r of this.informer(ROLLOUT_REF).list<RolloutObject>(undefined)) this.queue.add(keyOf(r));
      for (const r of this.kruiseAnalyzed()) this.queue.add(`${KRUISE_KEY}${keyOf(r)}`);
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

  private informer(ref: { apiVersion: string; kind: string }): Informer {
    const informer = this.informers.get(typeKey(ref));
    if (!informer) throw new Error(`no informer for ${typeKey(ref)}: sync() first`);
    return informer;
  }

  private kruiseAnalyzed(): RolloutObject[] {
    return this.informer(KRUISE_ROLLOUT_REF).list<RolloutObject>(undefined).filter(carriesAnalysis);
  }

  // Reader over the cache, for observe().
  async get<T extends KubeObject>(ref: ObjectRef & { name: string }): Promise<T | undefined> {
    const informer = this.informers.get(typeKey(ref));
    if (!informer || informer.unavailable) return undefined;
    return informer.get<T>(ref.namespace, ref.name);
  }

  async list<T extends KubeObject>(ref: ObjectRef, labelSelector?: string): Promise<T[]> {
    const informer = this.informers.get(typeKey(ref));
    return informer && !informer.unavailable ? informer.list<T>(ref.namespace, labelSelector) : [];
  }

  /** Queues the Rollouts an object concerns: itself, or those whose workload, Services or routes it is. */
  private onEvent(type: InformerEvent, o: KubeObject): void {
    if (o.apiVersion === KRUISE_ROLLOUT_REF.apiVersion) {
      if (type !== 'DELETED' && carriesAnalysis(o)) this.queue.add(`${KRUISE_KEY}${keyOf(o)}`);
      return;
    }
    if (o.kind === 'Rollout') {
      const key = keyOf(o);
      this.timeStep(o as RolloutObject, type === 'DELETED');
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
    this.metrics?.retries.inc();
    const retrying = `retrying in ${retryMs < 1000 ? `${Math.round(retryMs)} ms` : `${Math.round(retryMs / 1000)} s`}`;
    if (isConflict(error)) {
      this.log(`${key}: changed meanwhile; ${retrying}`);
      return;
    }
    this.stats.errors++;
    const failures = this.queue.limiter.failuresOf(key);
    this.log(`${key}: ${(error as Error).message}; ${retrying} (failure ${failures} in a row)`);
    const { ref, namespace, name } = parseKey(key);
    const rollout = this.informers.get(typeKey(ref))?.get<RolloutObject>(namespace, name);
    if (!rollout || !reportedFailure(failures)) return;
    const message = `reconcile failed: ${(error as Error).message}`;
    this.events.record(rollout, { type: 'Warning', reason: 'ReconcileFailed', message: `${message}; ${retrying}` });
    // Kruise's status is its controller's to write.
    if (ref === KRUISE_ROLLOUT_REF) return;
    // Stable text: writing it again changes nothing, so it does not wake the Rollout before its backoff ends.
    if (rollout.status?.message === message) return;
    this.client.mergePatch({ ...ref, namespace, name }, { status: { message } }, 'status').catch(() => {});
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.next(); key !== undefined; key = await this.queue.next()) {
      const started = Date.now();
      let result = 'success';
      try {
        const requeueAfterMs = await this.reconcile(key);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      } catch (e) {
        result = isConflict(e) ? 'conflict' : 'error';
        this.failed(key, e);
      } finally {
        const ms = Date.now() - started;
        this.stats.passes++;
        this.stats.slowestPassMs = Math.max(this.stats.slowestPassMs, ms);
        const rollout = parseKey(key).ref === KRUISE_ROLLOUT_REF ? 'kruise' : 'stepwise';
        this.metrics?.passes.inc({ rollout, result });
        this.metrics?.passSeconds.observe(ms / 1000, { rollout });
        this.queue.done(key);
      }
      // Let other workers and watch events in between passes.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** One pass over the Rollout `key` names; returns when to look again. */
  private async reconcile(key: string): Promise<number | undefined> {
    const { ref, namespace, name } = parseKey(key);
    const { prometheus } = this.options;
    const options = {
      log: (line: string) => this.log(`${key}: ${line}`),
      events: this.events,
      ...(prometheus ? { prometheus } : {}),
      onWritten: (object: KubeObject) => this.informers.get(typeKey(object))?.upsert(object),
    };
    if (ref === KRUISE_ROLLOUT_REF) return reconcileKruiseAnalysis(this.client, this, namespace, name, options);
    const result = await reconcileOnce(this.client, namespace, name, {
      ...options,
      reader: this,
      onDeleted: (ref) => this.informers.get(typeKey(ref))?.forget(ref.namespace, ref.name),
    });
    return result?.decision.requeueAfterMs;
  }
}

/** How often a failing Rollout says so in an Event: at its 1st, 2nd, 4th, 8th… failure in a row. */
const reportedFailure = (failures: number) => (failures & (failures - 1)) === 0;

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

/** An informer's key: a Rollout is Stepwise's or OpenKruise's. */
const typeKey = (ref: { apiVersion: string; kind: string }) => `${ref.apiVersion}/${ref.kind}`;

/** Which Rollout a queue key names. */
function parseKey(key: string) {
  const kruise = key.startsWith(KRUISE_KEY);
  const [namespace, name] = key.slice(kruise ? KRUISE_KEY.length : 0).split('/') as [string, string];
  return { ref: kruise ? KRUISE_ROLLOUT_REF : ROLLOUT_REF, namespace, name };
}

const carriesAnalysis = (o: KubeObject) => o.metadata.annotations?.[KRUISE_ANALYSIS_ANNOTATION] !== undefined;

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
