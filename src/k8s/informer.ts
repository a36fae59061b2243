import { setTimeout as delay } from 'node:timers/promises';
import type { KubeObject } from './objects.js';
import { backoffMs, KubeApiError, type KubeClient, type ObjectRef } from './client.js';

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * Compares two resourceVersions of one resource: negative, 0 or positive; undefined when either is not a canonical
 * positive integer. Comparing them is allowed since Kubernetes 1.35 (KEP-5504, comparable resource versions):
 * Stepwise's controller needs Kubernetes 1.35 or later. As digit strings, so no precision is lost beyond 2^53.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  const canonical = /^[1-9][0-9]*$/;
  if (!a || !b || !canonical.test(a) || !canonical.test(b)) return undefined;
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** How an informer lists and watches; the defaults are client-go's reflector's. */
export interface InformerOptions {
  /** How often a kind not served is looked for again (its CRD may be installed later). @default 30000 */
  rediscoverMs?: number;
  /** Objects per list page. @default 500 */
  pageSize?: number;
  /**
   * A kind the process can do without: one it may not list (403, say an older install's RBAC) counts as not
   * served, instead of failing the start. @default false
   */
  optional?: boolean;
  /**
   * A watch with no event for this long is presumed half-open and started again: twice the interval at which
   * the API server sends bookmarks (one minute). @default 120000
   */
  silenceMs?: number;
  /** The first wait after a failed watch, doubling to 30 s (with jitter). @default 800 */
  backoffMs?: number;
}

/** The longest wait between failed watches or lists, as client-go's reflector. */
const MAX_BACKOFF_MS = 30_000;
/** A watch that lasted this long resets the backoff: the failure before it is history. */
const BACKOFF_RESET_MS = 120_000;

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
 * selector finds its few objects among thousands. As client-go's reflector: lists in pages; when a watch ends
 * or fails, watches again from the last resourceVersion seen (after a backoff with jitter when it failed), and
 * lists afresh only when that version is too old (410 Gone); a watch silent for longer than the API server's
 * bookmarks allow is presumed dead and started again. Writes made by this process can be recorded with `upsert`
 * so the next read does not see an older copy.
 */
export class Informer {
  private readonly objects = new Map<string, KubeObject>();
  /** `key=value` → keys of the objects carrying that label. */
  private readonly byLabel = new Map<string, Set<string>>();
  private resourceVersion = '';
  private readonly abort = new AbortController();
  /** Set when the kind is not served (an optional CRD such as HTTPRoute is not installed). */
  unavailable = false;

  private readonly options: Required<InformerOptions>;
  /** Lists and watches started, for tests and stats: a watch error must not cost a list. */
  readonly counts = { lists: 0, watches: 0 };

  constructor(
    private readonly client: KubeClient,
    readonly ref: Omit<ObjectRef, 'name'>,
    private readonly onEvent: (type: InformerEvent, object: KubeObject) => void,
    private readonly log: (line: string) => void = () => {},
    options: InformerOptions = {},
  ) {
    this.options = {
      rediscoverMs: 30_000,
      pageSize: 500,
      silenceMs: 120_000,
      backoffMs: 800,
      optional: false,
      ...options,
    };
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
        await this.pause(delayMs);
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
    const order = compareResourceVersions(
      current?.metadata.resourceVersion as string | undefined,
      object.metadata.resourceVersion as string | undefined,
    );
    return order !== undefined && order > 0;
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
    let list: { items: KubeObject[]; resourceVersion: string };
    try {
      list = await this.listAll();
    } catch (e) {
      const forbidden = e instanceof KubeApiError && e.status === 403 && this.options.optional;
      if ((e instanceof KubeApiError && e.status === 404) || forbidden) {
        const every = `${this.options.rediscoverMs / 1000} s`;
        const what = `${this.ref.kind} (${this.ref.apiVersion})`;
        const why = forbidden ? 'may not be listed by this account' : 'is not served by this cluster';
        if (!this.unavailable) this.log(`${what} ${why}; looking again every ${every}`);
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
    this.resourceVersion = list.resourceVersion;
  }

  /**
   * Every object, a page at a time (one consistent snapshot: the continue token pins the first page's version).
   * A token that expired meanwhile (410) starts the list again, once; then it is read in one piece, as client-go's
   * pager does.
   */
  private async listAll(paged = true): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const path = await this.collectionPath();
    const items: KubeObject[] = [];
    let next: string | undefined;
    type Page = { items: KubeObject[]; metadata: { resourceVersion: string; continue?: string } };
    for (;;) {
      this.counts.lists++;
      const limit = paged ? String(this.options.pageSize) : undefined;
      let page: Page;
      try {
        page = await this.client.request<Page>('GET', path, { query: { limit, continue: next } });
      } catch (e) {
        if (next === undefined || !isGone(e)) throw e;
        this.log(`listing ${this.ref.kind}: the list expired between pages; listing again in one piece`);
        return this.listAll(false);
      }
      items.push(...page.items);
      next = page.metadata.continue || undefined;
      if (!next) return { items, resourceVersion: page.metadata.resourceVersion };
    }
  }

  /** Watches from the listed version on, until stopped. */
  private async run(): Promise<void> {
    // A kind not served yet (a CRD installed after the start) is looked for again until it is.
    while (this.unavailable && !this.stopped) {
      await this.pause(this.options.rediscoverMs);
      if (this.stopped) return;
      await this.relist().catch((err) => this.log(`listing ${this.ref.kind} failed: ${(err as Error).message}`));
      if (!this.unavailable) this.log(`${this.ref.kind} (${this.ref.apiVersion}) is served now; watching it`);
    }
    const path = await this.collectionPath().catch(() => undefined);
    let failures = 0;
    while (!this.stopped && path) {
      const started = Date.now();
      const outcome = await this.watchOnce(path).catch((e: unknown) => e as Error);
      if (this.stopped) return;
      if (Date.now() - started > BACKOFF_RESET_MS) failures = 0;
      if (outcome === 'gone') {
        // The only reason to list again: the version we watch from is no longer kept.
        this.log(`${this.ref.kind} at resourceVersion ${this.resourceVersion} is gone (410); listing again`);
        failures = await this.relist().then(
          () => 0,
          (e: unknown) => this.backOff(failures, `listing ${this.ref.kind} failed`, e),
        );
      } else if (outcome instanceof Error) {
        failures = await this.backOff(failures, `watch of ${this.ref.kind} failed`, outcome);
      } else if (outcome === 'silent') {
        this.log(`watch of ${this.ref.kind} silent for ${this.options.silenceMs / 1000} s; watching again`);
        failures = 0;
      } else if (Date.now() - started < 1000) {
        // A stream the server ends at once, again and again, must not become a busy loop of requests.
        failures = await this.backOff(failures, `watch of ${this.ref.kind} ended at once`);
      } else failures = 0;
    }
  }

  /** After one more failure in a row: says so, waits its backoff, and returns the failures so far. */
  private async backOff(failures: number, what: string, error?: unknown): Promise<number> {
    const ms = backoffMs(this.options.backoffMs, failures, MAX_BACKOFF_MS);
    const cause = error ? `: ${(error as Error).message}` : '';
    this.log(`${what}${cause}; watching again from resourceVersion ${this.resourceVersion} in ~${Math.round(ms)} ms`);
    await this.pause(ms);
    return failures + 1;
  }

  /**
   * One watch from the last version seen, to its end: 'gone' when that version is too old, 'silent' when it was
   * ended for passing no event (not even a bookmark) for too long, 'ended' when the server closed it.
   */
  private async watchOnce(path: string): Promise<'gone' | 'silent' | 'ended'> {
    this.counts.watches++;
    const watch = new AbortController();
    let silent = false;
    let timer: NodeJS.Timeout | undefined;
    const heard = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = true;
        watch.abort();
      }, this.options.silenceMs);
    };
    heard();
    let gone = false;
    try {
      await this.client.watch(
        path,
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: '300' },
        (type, object) => {
          heard();
          if (type === 'ERROR') gone = (object as unknown as { code?: number }).code === 410;
          else this.apply(type, object);
        },
        AbortSignal.any([this.abort.signal, watch.signal]),
      );
    } catch (e) {
      if (!isGone(e) && !silent) throw e;
      gone = !silent;
    } finally {
      clearTimeout(timer);
    }
    return gone ? 'gone' : silent ? 'silent' : 'ended';
  }

  private apply(type: string, object: KubeObject): void {
    if (object.metadata?.resourceVersion) this.resourceVersion = String(object.metadata.resourceVersion);
    if (type === 'BOOKMARK') return;
    const slimmed = slim({ ...object, apiVersion: this.ref.apiVersion, kind: this.ref.kind });
    if (type === 'DELETED') this.remove(keyOf(slimmed.metadata.namespace, slimmed.metadata.name));
    else if (!this.newerHeld(slimmed)) this.store(slimmed);
    this.onEvent(type as InformerEvent, slimmed);
  }

  /** Waits, unless stopped meanwhile: a pending wait must not keep a stopping process alive. */
  private async pause(ms: number): Promise<void> {
    await delay(Math.round(ms), undefined, { signal: this.abort.signal }).catch(() => {});
  }
}

const isGone = (e: unknown) => e instanceof KubeApiError && e.status === 410;

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;
