/**
 * The informer against the real API server, through a fault-injecting proxy: lists in pages, a failed or silent
 * watch resumed from the last version without listing again, and a list again only when that version is gone.
 * The API server runs without its watch cache, so watches are served by etcd and a compaction makes an old
 * version 410 Gone, as it would for a long outage on a busy cluster.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/k8s/client.js';
import { Informer } from '../../src/k8s/informer.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { compactEtcd, createNamespace, eventually, faultProxyFor, useCluster } from '../support/kube.js';

const env = useCluster({ crds: false, extraArgs: { 'kube-apiserver': ['--watch-cache=false'] } });

const configMap = (namespace: string, name: string): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { k: name } }) as KubeObject;

/** A proxy in front of the test cluster's API server, and a client through it. */
async function proxied(name: string, t: TestContext): Promise<{ proxy: FaultProxy; client: KubeClient }> {
  const { proxy, kubeconfig } = await faultProxyFor(env.cluster, name, t);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { proxy, client: new KubeClient(kc) };
}

/** An informer of one namespace's ConfigMaps through `client`, started, with its log lines kept. */
async function informerOf(client: KubeClient, namespace: string, options: ConstructorParameters<typeof Informer>[4]) {
  const lines: string[] = [];
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace };
  const informer = new Informer(
    client,
    ref,
    () => {},
    (l) => lines.push(l),
    options,
  );
  await informer.start();
  return { informer, lines };
}

const isWatch = (r: { path: string }) => r.path.includes('watch=true');
const names = (informer: Informer) => new Set(informer.list<KubeObject>(undefined).map((o) => o.metadata.name));

test('lists are read in pages of the configured size, as one consistent snapshot', async (t) => {
  const namespace = 'paged';
  await createNamespace(env.client, namespace);
  for (let i = 0; i < 24; i++) await env.client.apply(configMap(namespace, `cm-${i}`));
  await eventually('kube-root-ca.crt published', async () =>
    env.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'kube-root-ca.crt' }),
  );
  const { proxy, client } = await proxied('paged', t);
  const { informer } = await informerOf(client, namespace, { pageSize: 10 });
  t.after(() => informer.stop());
  const pages = proxy.log.filter((e) => e.path.includes('/configmaps') && !isWatch(e));
  assert.equal(informer.size, 25);
  assert.equal(pages.length, 3, pages.map((p) => p.path).join('\n'));
  assert.ok(pages.every((p) => p.path.includes('limit=10')));
  assert.ok(
    pages.slice(1).every((p) => p.path.includes('continue=')),
    'later pages continue the first',
  );
});

test(
  'a watch that goes silent is started again, and failed watches are retried with backoff from the last version ' +
    'seen: nothing is listed again',
  async (t) => {
    const namespace = 'resumed';
    await createNamespace(env.client, namespace);
    await env.client.apply(configMap(namespace, 'before'));
    const { proxy, client } = await proxied('resumed', t);
    const { informer, lines } = await informerOf(client, namespace, { silenceMs: 1500, backoffMs: 100 });
    t.after(() => informer.stop());
    assert.equal(informer.counts.lists, 1);
    // A half-open connection: nothing passes, nothing fails.
    proxy.stallAll();
    await eventually('the silent watch noticed', async () => lines.some((l) => /silent for 1\.5 s/.test(l)), 10_000);
    await env.client.apply(configMap(namespace, 'during'));
    proxy.resume();
    // The next watches are refused, then a connection is reset: each is retried from the same version.
    proxy.respond(503, { match: isWatch, count: 2 });
    proxy.reset({ match: isWatch, count: 1 });
    await eventually('the object made meanwhile seen', async () => names(informer).has('during'), 20_000);
    await env.client.apply(configMap(namespace, 'after'));
    await eventually('a later object seen', async () => names(informer).has('after'), 10_000);
    t.diagnostic(`${informer.counts.watches} watches, ${informer.counts.lists} list; ${lines.join(' | ')}`);
    assert.equal(informer.counts.lists, 1, 'no list after the first');
    assert.ok(proxy.count(503) === 2 && proxy.count('reset') === 1, 'the injected failures were met');
    // The three injected, and the watch held by the stall when it ended.
    const failed = lines.filter((l) => /watch of ConfigMap failed/.test(l));
    assert.ok(failed.length >= 3, lines.join('\n'));
    assert.ok(failed.every((l) => /watching again from resourceVersion \d+/.test(l)));
  },
);

test('a version compacted away in etcd (410 Gone) is the one reason to list again: once', async (t) => {
  const namespace = 'compacted';
  await createNamespace(env.client, namespace);
  await env.client.apply(configMap(namespace, 'kept'));
  await env.client.apply(configMap(namespace, 'deleted-meanwhile'));
  const { proxy, client } = await proxied('compacted', t);
  const { informer, lines } = await informerOf(client, namespace, { silenceMs: 1000, backoffMs: 100 });
  t.after(() => informer.stop());
  proxy.stallAll();
  await eventually('the watch cut off', async () => lines.some((l) => /silent/.test(l)), 10_000);
  await env.client.apply(configMap(namespace, 'made-meanwhile'));
  await env.client.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'deleted-meanwhile' });
  await compactEtcd(env.cluster);
  proxy.resume();
  await eventually(
    'the cache caught up',
    async () => names(informer).has('made-meanwhile') && !names(informer).has('deleted-meanwhile'),
    20_000,
  );
  t.diagnostic(lines.join(' | '));
  assert.equal(informer.counts.lists, 2, 'listed again once, for the 410');
});
