import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { KubeClient } from '../../src/k8s/client.js';
import { startCluster, type Cluster, type ClusterOptions } from '../testenv/cluster.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

export async function createNamespace(client: KubeClient, name: string): Promise<void> {
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs` with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Awaits `work`; its failure carries `logs()`, the last lines of the controllers that should have moved it. */
export async function explained<T>(work: Promise<T>, logs: () => string): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logs()}`);
  }
}

/** Every field of `sent` is in `stored` with the same value: the server pruned nothing (it may add defaults). */
export function assertContained(sent: unknown, stored: unknown, path = ''): void {
  if (sent !== null && typeof sent === 'object') {
    assert.ok(stored !== null && typeof stored === 'object', `${path}: missing on the server`);
    if (Array.isArray(sent)) {
      assert.ok(Array.isArray(stored) && stored.length === sent.length, `${path}: list changed on the server`);
      for (const [i, v] of sent.entries()) assertContained(v, (stored as unknown[])[i], `${path}[${i}]`);
    } else {
      for (const [k, v] of Object.entries(sent))
        assertContained(v, (stored as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    }
    return;
  }
  assert.deepEqual(stored, sent, `${path}: the server stored ${JSON.stringify(stored)}`);
}

/** A token of a ServiceAccount from the TokenRequest API, valid for an hour: what a Pod of it is given. */
export async function serviceAccountToken(client: KubeClient, namespace: string, name: string): Promise<string> {
  const review = await client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } } },
  );
  return review.status.token;
}

export function inNamespace(objects: readonly KubeObject[], namespace: string): KubeObject[] {
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/**
 * One real control plane for the test file: started before its first test, stopped after its last.
 * `env.cluster` and `env.client` are set once the `before` hook has run.
 */
export function useCluster(options: ClusterOptions = {}): { cluster: Cluster; client: KubeClient } {
  const env = {} as { cluster: Cluster; client: KubeClient };
  before(async () => {
    env.cluster = await startCluster(options);
    env.client = new KubeClient(env.cluster.kubeConfig());
  });
  after(() => env.cluster?.stop());
  return env;
}

/** kube-apiserver's counters of one metric from its /metrics, a series each with its labels. */
export async function apiserverSeries(
  client: KubeClient,
  metric: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await client.getText('/metrics');
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`))
    .map((l) => ({
      labels: Object.fromEntries(
        [...l.slice(metric.length + 1, l.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
      ),
      value: Number(l.slice(l.lastIndexOf(' ') + 1)),
    }));
}

/**
 * Server-side applies the API server has carried out successfully (dry runs not counted), from its own request counter.
 */
export async function appliesWritten(client: KubeClient): Promise<number> {
  return (await apiserverSeries(client, 'apiserver_request_total'))
    .filter(({ labels }) => labels.verb === 'APPLY' && labels.dry_run === '' && labels.code?.startsWith('2'))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Compacts etcd's history up to its current revision (etcd's JSON gateway), as the API server does periodically. */
export async function compactEtcd(cluster: Cluster): Promise<void> {
  const etcd = cluster.state.components.find((c) => c.name === 'etcd');
  const url = etcd?.start?.args.find((a) => a.startsWith('--listen-client-urls='))?.split('=')[1];
  if (!url) throw new Error('no etcd client URL');
  const post = async (path: string, body: object) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { header: { revision: string } };
  };
  // A write first, so there is history past what anyone has seen.
  const key = Buffer.from('/stepwise-test/compaction').toString('base64');
  const { header } = await post('/v3/kv/put', { key, value: Buffer.from(String(Date.now())).toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
}

/**
 * A fault proxy in front of `cluster`'s API server (it adds the admin token), with a kubeconfig for it named
 * `name`; closed when the test `t` ends.
 */
export async function faultProxyFor(
  cluster: Cluster,
  name: string,
  t: { after: (fn: () => Promise<void>) => void },
): Promise<{ proxy: FaultProxy; kubeconfig: string }> {
  const { runDir, server } = cluster.state;
  const token = cluster.kubeConfig().getCurrentUser()?.token;
  if (!token) throw new Error('the test cluster has no admin token');
  const proxy = await startFaultProxy({ upstream: server, ca: `${runDir}/pki/ca.crt`, token });
  t.after(() => proxy.close());
  return { proxy, kubeconfig: proxy.kubeconfig(`${runDir}/${name}.kubeconfig`) };
}
