/**
 * Data-plane benchmark, with real requests through a real Traefik to pods answering from a network namespace (the
 * data-plane tests' lab, test/support/releases-under-load.ts): every example released to the end under both
 * engines, about 300 requests a second throughout. Measured per release: the delay from each write of a routing
 * object (Ingress or HTTPRoute, as a watch sees it) to Traefik serving a changed configuration (its API read every
 * 25 ms), and the requests that failed (goal 0).
 * Baseline, in the same run: the same delay for bare writes of an HTTPRoute (a rule added or removed by this script,
 * no controller involved), so the ratio says whether what the engines write is served as fast as a plain write.
 *
 *   npm run bench:dataplane           # 3 examples × 2 engines, 20 bare writes; exits 1 if a request failed
 *   node dist/bench/dataplane/main.js 40
 */
import { KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import type { Engine } from '../../src/appspec/types.js';
import { eventually } from '../../test/support/kube.js';
import { ReleaseLab, SCENARIOS } from '../../test/support/releases-under-load.js';
import { failed, RoutingWrites } from '../../test/support/traffic.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { claimPodBlock } from '../../test/testenv/podnet.js';
import { median, percentile } from '../stats.js';

const BARE_WRITES = Number(process.argv[2] ?? 20);
const ENGINES: readonly Engine[] = ['builtin', 'kruise'];

const block = claimPodBlock();
const cluster = await startCluster({ podBlock: block, log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const lab = await ReleaseLab.start(cluster, client, block);

const summary = (delays: readonly number[]) => ({
  writes: delays.length,
  p50: median(delays),
  p95: percentile(delays, 95),
});

/** Bare writes: a header rule added to and removed from the HTTPRoute the gateway release left, each once served. */
async function bareWrites(count: number): Promise<number[]> {
  const namespace = 'gateway-builtin-end';
  const [route] = await client.list<KubeObject & { spec: { rules: unknown[] } }>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace,
  });
  if (!route) throw new Error(`no HTTPRoute in ${namespace}`);
  const ref = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace, name: route.metadata.name };
  const [rule] = route.spec.rules as { matches?: unknown[] }[];
  const withHeader = {
    ...rule,
    matches: [{ path: { type: 'PathPrefix', value: '/bench' }, headers: [{ name: 'x-bench', value: 'yes' }] }],
  };
  const writes = await RoutingWrites.start(client, namespace);
  const host = `${namespace}.${SCENARIOS.gateway.host}`;
  const { load, served } = lab.plane.load({ host, path: SCENARIOS.gateway.path, kinds: [{ name: 'plain' }] });
  try {
    for (let i = 0; i < count; i++) {
      const changes = served.changes.length;
      const rules = i % 2 === 0 ? [rule, withHeader] : [rule];
      await client.mergePatch(ref, { spec: { rules } }, undefined, 'bench');
      // The next write once this one is both seen by the watch and served, so each pairs with its own change.
      await eventually(`write ${i + 1} seen by the watch and served by Traefik`, async () => {
        if (served.changes.length > changes && writes.at.length > i) return true;
        throw new Error(
          `the watch saw ${writes.at.length} writes; Traefik served ${served.changes.length - changes} changes`,
        );
      });
    }
  } finally {
    await load.stop();
    await served.stop();
    await writes.stop();
  }
  return writes.delays(served);
}

const rows: { release: string; requests: number; failed: number; writes: number; p50: number; p95: number }[] = [];
const delays: Record<Engine, number[]> = { builtin: [], kruise: [] };
let baseline: ReturnType<typeof summary>;
try {
  for (const engine of ENGINES) {
    for (const example of ['seed', 'gateway', 'ab'] as const) {
      const r = await lab.release(example, engine, 'end');
      delays[engine].push(...r.delays);
      const row = { release: `${example} (${engine})`, requests: r.answers.length, failed: failed(r.answers).length };
      rows.push({ ...row, ...summary(r.delays) });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  baseline = summary(await bareWrites(BARE_WRITES));
} finally {
  await lab.close();
  await cluster.stop();
}

console.log(
  `bare HTTPRoute writes → served: p50 ${baseline.p50} ms, p95 ${baseline.p95} ms (${baseline.writes} writes)`,
);
for (const engine of ENGINES) {
  const { writes, p50, p95 } = summary(delays[engine]);
  console.log(
    `${engine}: write → served p50 ${p50} ms, p95 ${p95} ms (${writes} writes); p50/baseline ` +
      `${(p50 / baseline.p50).toFixed(2)}, p95/baseline ${(p95 / baseline.p95).toFixed(2)}`,
  );
}
const failures = rows.reduce((n, r) => n + r.failed, 0);
console.log(`failed requests: ${failures} of ${rows.reduce((n, r) => n + r.requests, 0)} in ${rows.length} releases`);
if (failures > 0) process.exit(1);
