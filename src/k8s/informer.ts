import { Watch } from '@kubernetes/client-node';
import type { KubeObject } from '../traffic/objects.js';
import { KubeApiError, type KubeClient, type ObjectRef } from './client.js';

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Matches a `k=v,k2=v2` label selector (equality only, which is all Stepwise uses). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels?.[k!] === v;
  });
}

/**
 * What the cache keeps of an object: never managedFields, and of a Pod only what a release reads (identity,
 * labels, owners, deletion, phase and conditions). Pods are most of the objects, and most of their bytes.
 */
function slim(object: KubeObject): KubeObject {
  const { managedFields: _managedFields, ...metadata } = object.metadata;
  if (object.kind !== 'Pod') return { ...object, metadata };
  const status = object.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
      resourceVersion: metadata.resourceVersion,
      ...(metadata.labels ? { labels: metadata.labels } : {}),
      ...(metadata.ownerReferences ? { ownerReferences: metadata.ownerReferences } : {}),
      ...(metadata.deletionTimestamp ? { deletionTimestamp: metadata.deletionTimestamp } : {}),
    },
    status: { phase: status?.phase, conditions: status?.conditions?.map(({ type, status: s }) => ({ type, status: s })) },
  };
}

/**
 * List-then-watch of one kind (in one namespace or all), kept in memory. Reconnects from the last
 * resourceVersion when a watch ends and lists afresh when that version is too old (410 Gone). Writes made
 * by this process can be recorded with `upsert` so the next read does not see an older copy.
 */
export class Informer {
  private readonly objects = new Map<string, KubeObject>();
  private resourceVersion = '';
  private abort?: AbortController;
  private stopped = false;
  private synced!: Promise<void>;
  /** Set when the kind is not served (an optional CRD such as HTTPRoute is not installed). */
  unavailable = false;

  constructor(
    private readonly client: KubeClient,
    readonly ref: Omit<ObjectRef, 'name'>,
    private readonly onEvent: (type: InformerEvent, object: KubeObject) => void,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Starts; resolves once the first list is in memory. */
  start(): Promise<void> {
    this.synced = this.relist();
    return this.synced;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  get<T extends KubeObject>(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`) as T | undefined;
  }

  list<T extends KubeObject>(namespace: string | undefined, selector?: string): T[] {
    const out: T[] = [];
    for (const o of this.objects.values()) {
      if ((namespace === undefined || o.metadata.namespace === namespace) && matchesSelector(o.metadata.labels, selector)) out.push(o as T);
    }
    return out;
  }

  get size(): number {
    return this.objects.size;
  }

  /** Records an object this process just wrote, unless the cache already holds a newer one. */
  upsert(object: KubeObject): void {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const current = this.objects.get(key);
    if (!current || Number(object.metadata.resourceVersion) >= Number(current.metadata.resourceVersion)) this.objects.set(key, slim(object));
  }

  forget(namespace: string | undefined, name: string): void {
    this.objects.delete(`${namespace ?? ''}/${name}`);
  }

  private async collectionPath(): Promise<string> {
    return this.client.path({ ...this.ref, name: undefined });
  }

  private async relist(): Promise<void> {
    let list: { items: KubeObject[]; metadata: { resourceVersion: string } };
    try {
      list = await this.client.request('GET', await this.collectionPath());
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        this.unavailable = true;
        this.log(`${this.ref.kind} is not served by this cluster; not watching it`);
        return;
      }
      throw e;
    }
    const seen = new Set<string>();
    for (const item of list.items) {
      const object = slim({ ...item, apiVersion: this.ref.apiVersion, kind: this.ref.kind });
      const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
      seen.add(key);
      const before = this.objects.get(key);
      this.objects.set(key, object);
      if (!before || before.metadata.resourceVersion !== object.metadata.resourceVersion) this.onEvent(before ? 'MODIFIED' : 'ADDED', object);
    }
    for (const [key, object] of this.objects) {
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.onEvent('DELETED', object);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    void this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const path = await this.collectionPath();
    let gone = false;
    try {
      this.abort = await new Watch(this.client.kubeConfig).watch(path, { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 }, (phase, object: KubeObject) => {
        if (phase === 'ERROR') {
          gone = (object as unknown as { code?: number }).code === 410;
          return;
        }
        if (object?.metadata?.resourceVersion) this.resourceVersion = String(object.metadata.resourceVersion);
        if (phase === 'BOOKMARK') return;
        const full = slim({ ...object, apiVersion: this.ref.apiVersion, kind: this.ref.kind });
        const key = `${full.metadata.namespace ?? ''}/${full.metadata.name}`;
        if (phase === 'DELETED') this.objects.delete(key);
        else this.objects.set(key, full);
        this.onEvent(phase as InformerEvent, full);
      }, (err: unknown) => {
        if (this.stopped) return;
        if (err) this.log(`watch of ${this.ref.kind} ended: ${String((err as Error).message ?? err)}`);
        setTimeout(() => void (gone ? this.relist() : this.watch()).catch((e) => this.retry(e)), err ? 1000 : 0);
      });
    } catch (e) {
      this.retry(e);
    }
  }

  private retry(e: unknown): void {
    if (this.stopped) return;
    this.log(`watch of ${this.ref.kind} failed, retrying: ${(e as Error).message}`);
    setTimeout(() => void this.relist().catch((err) => this.retry(err)), 2000);
  }
}
