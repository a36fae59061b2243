import { setTimeout as delay } from 'node:timers/promises';
import type { KubeObject } from './objects.js';
import { KubeApiError, type KubeClient, type ObjectRef } from './client.js';

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

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
    status: {
      phase: status?.phase,
      conditions: status?.conditions?.map(({ type, status: s }) => ({ type, status: s })),
    },
  };
}

/**
 * List-then-watch of one kind (in one namespace or all), kept in memory and indexed by label, so that a
 * selector finds its few objects among thousands. Reconnects from the last resourceVersion when a watch
 * ends and lists afresh when that version is too old (410 Gone). Writes made by this process can be
 * recorded with `upsert` so the next read does not see an older copy.
 */
export class Informer {
  private readonly objects = new Map<string, KubeObject>();
  /** `key=value` → keys of the objects carrying that label. */
  private readonly byLabel = new Map<string, Set<string>>();
  private resourceVersion = '';
  private readonly abort = new AbortController();
  /** Set when the kind is not served (an optional CRD such as HTTPRoute is not installed). */
  unavailable = false;

  /** How often a kind not served is looked for again (its CRD may be installed later). */
  private readonly rediscoverMs: number;

  constructor(
    private readonly client: KubeClient,
    readonly ref: Omit<ObjectRef, 'name'>,
    private readonly onEvent: (type: InformerEvent, object: KubeObject) => void,
    private readonly log: (line: string) => void = () => {},
    options: { rediscoverMs?: number } = {},
  ) {
    this.rediscoverMs = options.rediscoverMs ?? 30_000;
  }

  /**
   * Starts; resolves once the first list is in memory. A server that is still starting (a CRD's storage
   * initializing, 429 or 5xx, connection refused) is waited for; a refusal such as 403 is thrown at once.
   */
  async start(): Promise<void> {
    for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5000)) {
      try {
        await this.relist();
        void this.run();
        return;
      } catch (e) {
        if (this.stopped || (e instanceof KubeApiError && e.status !== 429 && e.status < 500)) throw e;
        this.log(`listing ${this.ref.kind} failed, retrying in ${delayMs} ms: ${(e as Error).message}`);
        await sleep(delayMs);
      }
    }
  }

  stop(): void {
    this.abort.abort();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  get<T extends KubeObject>(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name)) as T | undefined;
  }

  list<T extends KubeObject>(namespace: string | undefined, selector?: string): T[] {
    const terms = selector ? selector.split(',') : [];
    // Candidates: the objects with the rarest of the selector's labels, or all of them.
    let candidates: Iterable<string> | undefined;
    for (const term of terms) {
      const keys = this.byLabel.get(term);
      if (!keys) return [];
      if (!candidates || keys.size < (candidates as Set<string>).size) candidates = keys;
    }
    const out: T[] = [];
    for (const key of candidates ?? this.objects.keys()) {
      const o = this.objects.get(key);
      const inScope = namespace === undefined || o?.metadata.namespace === namespace;
      if (o && inScope && terms.every((t) => this.byLabel.get(t)?.has(key))) out.push(o as T);
    }
    return out;
  }

  get size(): number {
    return this.objects.size;
  }

  /** Records an object this process just wrote, unless the cache already holds a newer one. */
  upsert(object: KubeObject): void {
    if (!this.newerHeld(object)) this.store(slim(object));
  }

  /**
   * The cache holds a newer copy than `object`. A watch event can trail a write of ours already recorded with
   * `upsert` (a pod's status update from before our label patch, say); it must not undo that write.
   */
  private newerHeld(object: KubeObject): boolean {
    const current = this.objects.get(keyOf(object.metadata.namespace, object.metadata.name));
    return current !== undefined && Number(current.metadata.resourceVersion) > Number(object.metadata.resourceVersion);
  }

  forget(namespace: string | undefined, name: string): void {
    this.remove(keyOf(namespace, name));
  }

  private store(object: KubeObject): string {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    this.remove(key);
    this.objects.set(key, object);
    for (const [k, v] of Object.entries(object.metadata.labels ?? {})) {
      const term = `${k}=${v}`;
      const keys = this.byLabel.get(term) ?? new Set<string>();
      this.byLabel.set(term, keys);
      keys.add(key);
    }
    return key;
  }

  private remove(key: string): void {
    const object = this.objects.get(key);
    if (!object) return;
    this.objects.delete(key);
    for (const [k, v] of Object.entries(object.metadata.labels ?? {})) {
      const term = `${k}=${v}`;
      const keys = this.byLabel.get(term);
      keys?.delete(key);
      if (keys?.size === 0) this.byLabel.delete(term);
    }
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
        const every = `${this.rediscoverMs / 1000} s`;
        if (!this.unavailable) this.log(`${this.ref.kind} is not served by this cluster; looking again every ${every}`);
        this.unavailable = true;
        return;
      }
      throw e;
    }
    this.unavailable = false;
    const seen = new Set<string>();
    for (const item of list.items) {
      const object = slim({ ...item, apiVersion: this.ref.apiVersion, kind: this.ref.kind });
      const before = this.get(object.metadata.namespace, object.metadata.name);
      seen.add(this.store(object));
      if (!before || before.metadata.resourceVersion !== object.metadata.resourceVersion)
        this.onEvent(before ? 'MODIFIED' : 'ADDED', object);
    }
    for (const [key, object] of [...this.objects]) {
      if (!seen.has(key)) {
        this.remove(key);
        this.onEvent('DELETED', object);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
  }

  /**
   * Watches from the listed version on, until stopped: resumes where a stream ended, lists again when told 410 Gone.
   */
  private async run(): Promise<void> {
    // A kind not served yet (a CRD installed after the start) is looked for again until it is.
    while (this.unavailable && !this.stopped) {
      // Ended by stop(): a pending wait must not keep a stopping process alive.
      await delay(this.rediscoverMs, undefined, { signal: this.abort.signal }).catch(() => {});
      if (this.stopped) return;
      await this.relist().catch((err) => this.log(`listing ${this.ref.kind} failed: ${(err as Error).message}`));
      if (!this.unavailable) this.log(`${this.ref.kind} is served now; watching it`);
    }
    if (this.stopped) return;
    const path = await this.collectionPath();
    while (!this.stopped) {
      let gone = false;
      const started = Date.now();
      try {
        await this.client.watch(
          path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: '300' },
          (type, object) => {
            if (type === 'ERROR') {
              gone = (object as unknown as { code?: number }).code === 410;
              return;
            }
            if (object.metadata?.resourceVersion) this.resourceVersion = String(object.metadata.resourceVersion);
            if (type === 'BOOKMARK') return;
            const slimmed = slim({ ...object, apiVersion: this.ref.apiVersion, kind: this.ref.kind });
            if (type === 'DELETED') this.remove(keyOf(slimmed.metadata.namespace, slimmed.metadata.name));
            else if (!this.newerHeld(slimmed)) this.store(slimmed);
            this.onEvent(type as InformerEvent, slimmed);
          },
          this.abort.signal,
        );
        if (gone) await this.relist();
        // A stream the server ends at once, again and again, must not become a busy loop of requests.
        else if (!this.stopped && Date.now() - started < 1000) await sleep(1000);
      } catch (e) {
        if (this.stopped) return;
        this.log(`watch of ${this.ref.kind} failed, listing again in 1 s: ${(e as Error).message}`);
        await sleep(1000);
        await this.relist().catch((err) => this.log(`listing ${this.ref.kind} failed: ${(err as Error).message}`));
      }
    }
  }
}

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
