import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from './objects.js';
import { Connections, proxyOf } from './transport.js';

/** The field manager of everything `stepwise apply` writes with server-side apply. */
export const FIELD_MANAGER = 'stepwise';
/** The field manager of the reconciler's writes, so that `kubectl get --show-managed-fields` tells them apart. */
export const RECONCILER_MANAGER = 'stepwise-reconciler';

/** A Kubernetes API error with the server's own message. */
export class KubeApiError extends Error {
  /** The server's Retry-After, when it sent one: it did not carry the request out. */
  retryAfterSeconds?: number;

  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
}

export interface ApplyOptions {
  /** @default FIELD_MANAGER */
  fieldManager?: string;
  /** Take over fields another manager owns (kubectl's --force-conflicts). @default false */
  force?: boolean;
  /** Validate and default on the server without persisting. @default false */
  dryRun?: boolean;
}

export function describeObject(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** client-go's own default for a request without a deadline of its own is none; ours is half a minute. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A request that got no complete response in time (the connection is dropped). */
export class RequestTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestTimeoutError';
  }
}

interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Ends the request and any wait to retry it. */
  signal?: AbortSignal;
}

/** The server's own reason and message when it sent a Status, else what it sent. */
function apiError(method: string, path: string, status: number, text: string, retryAfter?: string): KubeApiError {
  let body: { reason?: unknown; message?: unknown } | undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = { message: text.slice(0, 500) };
  }
  const error = new KubeApiError(
    status,
    String(body?.reason ?? ''),
    String(body?.message ?? `${method} ${path}: HTTP ${status}`),
  );
  const seconds = Number(retryAfter);
  if (retryAfter !== undefined && Number.isFinite(seconds)) error.retryAfterSeconds = seconds;
  return error;
}

/** Retries of one request, at most; then its error goes to the caller (whose work queue backs off further). */
const MAX_RETRIES = 5;
/** The longest wait between retries, whatever Retry-After asks. */
const MAX_RETRY_DELAY_MS = 10_000;

/**
 * The wait before try `attempt + 1` (from 0): `baseMs` doubled per attempt, spread by jitter over half to one and
 * a half of that so that clients failing together do not retry together, and never beyond `maxMs`. One formula for
 * request retries, watches and the work queue.
 */
export const backoffMs = (baseMs: number, attempt: number, maxMs: number) =>
  Math.min(maxMs, baseMs * 2 ** attempt * (0.5 + Math.random()));

/** Requests that can be sent again without doing twice what the server may already have done. */
function idempotent(method: string, contentType: string | undefined): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method) || contentType === 'application/apply-patch+yaml';
}

/**
 * How long to wait before sending a failed request again, or undefined not to. As client-go does: a 429 or 5xx
 * that says Retry-After was not carried out, so any request is sent again after it. Without one, only an
 * idempotent request is retried, after a 429, a 5xx, a refused or reset connection or a timeout, with exponential
 * backoff and jitter (250 ms doubling).
 */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  isIdempotent: boolean,
  maxRetries = MAX_RETRIES,
): number | undefined {
  if (attempt >= maxRetries) return undefined;
  const backoff = () => backoffMs(250, attempt, MAX_RETRY_DELAY_MS);
  if (error instanceof KubeApiError) {
    const busy = error.status === 429 || error.status >= 500;
    if (busy && error.retryAfterSeconds !== undefined)
      return Math.min(MAX_RETRY_DELAY_MS, error.retryAfterSeconds * 1000);
    return busy && isIdempotent ? backoff() : undefined;
  }
  const code = (error as NodeJS.ErrnoException).code;
  const dropped = error instanceof RequestTimeoutError || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED'].includes(code ?? '');
  return dropped && isIdempotent ? backoff() : undefined;
}

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

/**
 * A small Kubernetes REST client that sends and receives plain JSON. client-node's generic object API
 * passes bodies through its typed models, which silently drops fields it does not model (JSON names such as
 * `x-kubernetes-int-or-string`, and anything newer than the client), so writes go through here instead.
 * Authentication and TLS come from the KubeConfig.
 */
export class KubeClient {
  /** Requests sent so far (watch streams not counted), for benchmarks and stats. */
  requests = 0;
  /** Requests sent again after a busy server, a dropped connection or a timeout. */
  retries = 0;
  /** Told of each retry (the controller logs them): a failure that a retry hides is still seen. */
  onRetry?: (line: string) => void;
  private readonly connections: Connections;
  private readonly discovery = new Map<string, Promise<Map<string, { plural: string; namespaced: boolean }>>>();

  /** How long one request (not a watch) may take, response body included. */
  readonly timeoutMs: number;
  /** How many times a failed request is sent again, at most. */
  readonly maxRetries: number;

  constructor(
    readonly kubeConfig: KubeConfig,
    options: { timeoutMs?: number; maxRetries?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? MAX_RETRIES;
    this.connections = new Connections(this.timeoutMs);
  }

  /** One HTTP round trip; JSON in and out. Throws `KubeApiError` with the server's message on failure. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await this.requestText(method, path, options);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** GET of a plain-text endpoint, such as the API server's /metrics. */
  async getText(path: string): Promise<string> {
    return this.requestText('GET', path, {});
  }

  private async requestText(method: string, path: string, options: RequestOptions): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(method, path, options);
      } catch (e) {
        const wait = retryDelayMs(e, attempt, idempotent(method, options.contentType), this.maxRetries);
        if (wait === undefined || options.signal?.aborted) throw e;
        this.retries++;
        this.onRetry?.(`${method} ${path} failed (${(e as Error).message}), retrying in ${Math.round(wait)} ms`);
        await delay(Math.round(wait), undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
          throw e;
        });
      }
    }
  }

  private async attempt(method: string, path: string, options: RequestOptions): Promise<string> {
    this.requests++;
    // A server or connection that goes silent fails the request instead of holding its caller forever.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      const res = await this.send(method, path, { ...options, signal });
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw apiError(method, path, status, text, res.headers['retry-after']);
      return text;
    } catch (e) {
      if (!deadline.aborted || options.signal?.aborted) throw e;
      throw new RequestTimeoutError(`${method} ${path}: no response within ${this.timeoutMs / 1000} s`);
    }
  }

  /**
   * A watch of a collection: `onEvent` gets each event (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) as it
   * arrives. Resolves when the server ends the stream or `signal` aborts it; rejects when the connection
   * fails, the server refuses, or `onEvent` throws.
   */
  async watch(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (type: string, object: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const res = await this.send('GET', path, { query: { ...query, watch: 'true' }, signal });
    if (res.statusCode !== 200) throw apiError('watch', path, res.statusCode ?? 0, await readAll(res));
    res.setEncoding('utf8');
    // The start of a line whose end has not arrived yet; each chunk is searched once, so a large event
    // spread over many chunks costs its length, not its length times the chunks.
    let partial = '';
    return new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: string) => {
        try {
          let start = 0;
          for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
            const line = partial + chunk.slice(start, end);
            partial = '';
            start = end + 1;
            if (!line) continue;
            const event = JSON.parse(line) as { type: string; object: KubeObject };
            onEvent(event.type, event.object);
          }
          partial += chunk.slice(start);
        } catch (e) {
          res.destroy();
          reject(e);
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
      res.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
    });
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const proxy = proxyOf(cluster);
    const url = new URL(path, cluster.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const opts: HttpsRequestOptions = {
      method,
      // A declared length, not a chunked body: the connection is reused, and the server must know where a body ends.
      headers: {
        Accept: 'application/json',
        ...(body !== undefined
          ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) }
          : {}),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // client-node hands out a new Agent per request, so every request would pay a TLS handshake; reuse ours.
    this.connections.route(url, proxy, opts);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, resolve);
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Where a kind lives (plural, namespaced), from the API server's discovery, cached per group/version. */
  async resource(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean }> {
    let resources = this.discovery.get(apiVersion);
    if (!resources) {
      resources = this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
        'GET',
        apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`,
      ).then(
        (list) =>
          new Map(
            list.resources
              .filter((r) => !r.name.includes('/'))
              .map((r) => [r.kind, { plural: r.name, namespaced: r.namespaced }]),
          ),
      );
      resources.catch(() => this.discovery.delete(apiVersion));
      this.discovery.set(apiVersion, resources);
    }
    const found = (await resources).get(kind);
    if (!found) {
      this.discovery.delete(apiVersion); // A CRD may have been installed since.
      throw new KubeApiError(404, 'NotFound', `the server has no ${kind} in ${apiVersion}`);
    }
    return found;
  }

  /**
   * The REST path of an object (namespace `default` when none is given), or of its collection when `name` is
   * absent (across all namespaces when no namespace is given).
   */
  async path(ref: ObjectRef, subresource?: string): Promise<string> {
    const { plural, namespaced } = await this.resource(ref.apiVersion, ref.kind);
    const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const namespace = ref.namespace ?? (ref.name === undefined ? undefined : 'default');
    const ns = namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    const name = ref.name ? `/${encodeURIComponent(ref.name)}` : '';
    return `${base}${ns}/${plural}${name}${subresource ? `/${subresource}` : ''}`;
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef & { name: string }): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.path(ref));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject = KubeObject>(ref: ObjectRef, labelSelector?: string): Promise<T[]> {
    const list = await this.request<{ items: T[] }>('GET', await this.path({ ...ref, name: undefined }), {
      query: { labelSelector },
    });
    // List items carry no apiVersion and kind of their own.
    return list.items.map((item) => Object.assign(item, { apiVersion: ref.apiVersion, kind: ref.kind }));
  }

  /** Server-side apply of one object; returns what the server stored. */
  async apply<T extends KubeObject = KubeObject>(object: KubeObject, options: ApplyOptions = {}): Promise<T> {
    const ref = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: object.metadata.name,
      namespace: object.metadata.namespace,
    };
    try {
      return await this.request<T>('PATCH', await this.path(ref), {
        query: {
          fieldManager: options.fieldManager ?? FIELD_MANAGER,
          force: options.force ? 'true' : undefined,
          dryRun: options.dryRun ? 'All' : undefined,
        },
        body: object,
        contentType: 'application/apply-patch+yaml',
      });
    } catch (e) {
      if (e instanceof KubeApiError)
        throw new KubeApiError(e.status, e.reason, `${describeObject(object)}: ${e.message}`);
      throw e;
    }
  }

  /** A JSON merge patch, optionally on a subresource such as `status`. */
  async mergePatch<T extends KubeObject = KubeObject>(
    ref: ObjectRef & { name: string },
    patch: unknown,
    subresource?: string,
    fieldManager = RECONCILER_MANAGER,
  ): Promise<T> {
    return this.request<T>('PATCH', await this.path(ref, subresource), {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager },
    });
  }

  /** A JSON patch (RFC 6902), for replacing a whole field such as a pod template. */
  async jsonPatch<T extends KubeObject = KubeObject>(
    ref: ObjectRef & { name: string },
    ops: unknown[],
    fieldManager = RECONCILER_MANAGER,
  ): Promise<T> {
    return this.request<T>('PATCH', await this.path(ref), {
      body: ops,
      contentType: 'application/json-patch+json',
      query: { fieldManager },
    });
  }

  /** Replaces an object's status; fails with 409 if the object changed since `object.metadata.resourceVersion`. */
  async replaceStatus<T extends KubeObject = KubeObject>(
    object: KubeObject,
    fieldManager = RECONCILER_MANAGER,
  ): Promise<T> {
    const ref = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: object.metadata.name,
      namespace: object.metadata.namespace,
    };
    return this.request<T>('PUT', await this.path(ref, 'status'), { body: object, query: { fieldManager } });
  }

  /** Replaces an object (PUT); fails with 409 if it changed since `object.metadata.resourceVersion`. */
  async replace<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    const ref = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: object.metadata.name,
      namespace: object.metadata.namespace,
    };
    return this.request<T>('PUT', await this.path(ref), { body: object, query: { fieldManager: RECONCILER_MANAGER } });
  }

  async create<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    const ref = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace ?? 'default' };
    return this.request<T>('POST', await this.path(ref), { body: object });
  }

  /** Deletes an object; false when it was already gone. */
  async delete(
    ref: ObjectRef & { name: string },
    propagationPolicy: 'Foreground' | 'Background' | 'Orphan' = 'Background',
  ): Promise<boolean> {
    try {
      await this.request('DELETE', await this.path(ref), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
      });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
  }
}

/** Server-side applies objects in order (CRDs before their resources); stops at the first rejection. */
export async function applyObjects(
  client: KubeClient,
  objects: readonly KubeObject[],
  options: ApplyOptions = {},
): Promise<KubeObject[]> {
  const applied: KubeObject[] = [];
  for (const object of objects) applied.push(await client.apply(object, options));
  return applied;
}
