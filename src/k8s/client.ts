import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../traffic/objects.js';

/** The field manager of everything `stepwise apply` writes with server-side apply. */
export const FIELD_MANAGER = 'stepwise';
/** The field manager of the reconciler's writes, so that `kubectl get --show-managed-fields` tells them apart. */
export const RECONCILER_MANAGER = 'stepwise-reconciler';

/** A Kubernetes API error with the server's own message. */
export class KubeApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
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

/**
 * A small Kubernetes REST client that sends and receives plain JSON. client-node's generic object API
 * passes bodies through its typed models, which silently drops fields it does not model (JSON names such as
 * `x-kubernetes-int-or-string`, and anything newer than the client), so writes go through here instead.
 * Authentication and TLS come from the KubeConfig.
 */
export class KubeClient {
  /** Requests sent so far (watch streams not counted), for benchmarks and stats. */
  requests = 0;
  private readonly discovery = new Map<string, Promise<Map<string, { plural: string; namespaced: boolean }>>>();

  constructor(readonly kubeConfig: KubeConfig) {}

  /** One HTTP round trip; JSON in and out. Throws `KubeApiError` with the server's message on failure. */
  async request<T = unknown>(method: string, path: string, options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string } = {}): Promise<T> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    this.requests++;
    const url = new URL(path, cluster.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const opts: Parameters<typeof request>[1] = {
      method,
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': options.contentType ?? 'application/json' } : {}) },
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    return new Promise<T>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? request : httpRequest)(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: any;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = { message: text };
          }
          if (status >= 200 && status < 300) resolve(json as T);
          else reject(new KubeApiError(status, String(json?.reason ?? ''), String(json?.message ?? `${method} ${url.pathname}: HTTP ${status}`)));
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Where a kind lives (plural, namespaced), from the API server's discovery, cached per group/version. */
  async resource(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean }> {
    let resources = this.discovery.get(apiVersion);
    if (!resources) {
      resources = this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`)
        .then((list) => new Map(list.resources.filter((r) => !r.name.includes('/')).map((r) => [r.kind, { plural: r.name, namespaced: r.namespaced }])));
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

  /** The REST path of an object (or of its collection when `name` is absent). */
  async path(ref: ObjectRef, subresource?: string): Promise<string> {
    const { plural, namespaced } = await this.resource(ref.apiVersion, ref.kind);
    const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = namespaced ? `/namespaces/${encodeURIComponent(ref.namespace ?? 'default')}` : '';
    return `${base}${ns}/${plural}${ref.name ? `/${encodeURIComponent(ref.name)}` : ''}${subresource ? `/${subresource}` : ''}`;
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
    const list = await this.request<{ items: T[] }>('GET', await this.path({ ...ref, name: undefined }), { query: { labelSelector } });
    // List items carry no apiVersion and kind of their own.
    return list.items.map((item) => Object.assign(item, { apiVersion: ref.apiVersion, kind: ref.kind }));
  }

  /** Server-side apply of one object; returns what the server stored. */
  async apply<T extends KubeObject = KubeObject>(object: KubeObject, options: ApplyOptions = {}): Promise<T> {
    const ref = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace: object.metadata.namespace };
    try {
      return await this.request<T>('PATCH', await this.path(ref), {
        query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: options.force ? 'true' : undefined, dryRun: options.dryRun ? 'All' : undefined },
        body: object,
        contentType: 'application/apply-patch+yaml',
      });
    } catch (e) {
      if (e instanceof KubeApiError) throw new KubeApiError(e.status, e.reason, `${describeObject(object)}: ${e.message}`);
      throw e;
    }
  }

  /** A JSON merge patch, optionally on a subresource such as `status`. */
  async mergePatch<T extends KubeObject = KubeObject>(ref: ObjectRef & { name: string }, patch: unknown, subresource?: string, fieldManager = RECONCILER_MANAGER): Promise<T> {
    return this.request<T>('PATCH', await this.path(ref, subresource), { body: patch, contentType: 'application/merge-patch+json', query: { fieldManager } });
  }

  /** A JSON patch (RFC 6902), for replacing a whole field such as a pod template. */
  async jsonPatch<T extends KubeObject = KubeObject>(ref: ObjectRef & { name: string }, ops: unknown[], fieldManager = RECONCILER_MANAGER): Promise<T> {
    return this.request<T>('PATCH', await this.path(ref), { body: ops, contentType: 'application/json-patch+json', query: { fieldManager } });
  }

  /** Replaces an object's status; fails with 409 if the object changed since `object.metadata.resourceVersion`. */
  async replaceStatus<T extends KubeObject = KubeObject>(object: KubeObject, fieldManager = RECONCILER_MANAGER): Promise<T> {
    const ref = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace: object.metadata.namespace };
    return this.request<T>('PUT', await this.path(ref, 'status'), { body: object, query: { fieldManager } });
  }

  /** Replaces an object (PUT); fails with 409 if it changed since `object.metadata.resourceVersion`. */
  async replace<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    const ref = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace: object.metadata.namespace };
    return this.request<T>('PUT', await this.path(ref), { body: object, query: { fieldManager: RECONCILER_MANAGER } });
  }

  async create<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    return this.request<T>('POST', await this.path({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace }), { body: object });
  }

  /** Deletes an object; false when it was already gone. */
  async delete(ref: ObjectRef & { name: string }, propagationPolicy: 'Foreground' | 'Background' | 'Orphan' = 'Background'): Promise<boolean> {
    try {
      await this.request('DELETE', await this.path(ref), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy } });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
  }
}

/** Server-side applies objects in order (CRDs before their resources); stops at the first rejection. */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[], options: ApplyOptions = {}): Promise<KubeObject[]> {
  const applied: KubeObject[] = [];
  for (const object of objects) applied.push(await client.apply(object, options));
  return applied;
}
