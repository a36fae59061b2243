/**
 * Analysis benchmark, on the real control plane with `stepwise controller` as a separate process and a real
 * Prometheus scraping ingress-nginx-shaped metrics every second: a canary at its first step passes its checks,
 * then its error rate jumps. Measured per release: from the moment Prometheus first returns a failing value for
 * the success-rate query to the moment no traffic goes to the new version (the canary Ingress gone or at weight 0);
 * the errors start at a point of the check cycle spread evenly over the releases.
 * The baseline is the bound, one analysis interval + 1 s (Flagger needs interval × threshold).
 *
 *   npm run bench:analysis            # 7 releases; exits 1 if the p50 is above the bound
 *   node dist/bench/analysis/main.js 3
 */
import { performance } from 'node:perf_hooks';
import { renderQuery } from '../../src/analysis/metrics.js';
import { queryValue } from '../../src/analysis/prometheus.js';
import { KubeClient } from '../../src/k8s/client.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { createNamespace, eventually } from '../../test/support/kube.js';
import { StepwiseProcess } from '../../test/support/processes.js';
import { IngressMetrics, startPrometheus } from '../../test/support/prometheus.js';
import { analyzedCanary, ReleaseHarness } from '../../test/support/release.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { median, percentile } from '../stats.js';

const RELEASES = Number(process.argv[2] ?? 7);
const INTERVAL_SECONDS = 5;
const BOUND_MS = (INTERVAL_SECONDS + 1) * 1000;

const cluster = await startCluster({ log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const metrics = new IngressMetrics('web');
const prometheus = await startPrometheus(await metrics.start());
await prometheus.scraped(3);
await createNamespace(client, 'stepwise-system');
const controller = new StepwiseProcess([
  'controller',
  '-A',
  '--no-webhook',
  '--kubeconfig',
  cluster.kubeconfig,
  '--lease-namespace',
  'stepwise-system',
]);
await controller.waitFor(/leading as/);

const spec = (image: string) =>
  analyzedCanary(image, {
    intervalSeconds: INTERVAL_SECONDS,
    checks: 100,
    prometheus: { address: prometheus.address },
    metrics: [{ name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 }, interval: '10s' }],
  });

/** Polls `check` every `everyMs` and returns the time it first held. */
async function whenTrue(check: () => Promise<boolean>, everyMs: number, timeoutMs = 120_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const delays: number[] = [];
try {
  for (let i = 1; i <= RELEASES; i++) {
    const namespace = `analysis-${i}`;
    metrics.namespace = namespace;
    metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
    const h = await ReleaseHarness.create(client, namespace, spec('example/app:1'));
    await eventually('Healthy', async () => (await h.rollout()).status?.phase === 'Healthy', 60_000);
    await h.apply(spec('example/app:2'));
    const checking = (r: RolloutObject) => (r.status?.analysis?.passed ?? 0) >= 1 && r.status?.analysis?.step === 1;
    await eventually('a passed check at step 1', async () => checking(await h.rollout()), 120_000);
    const { query } = renderQuery({ template: 'request-success-rate' }, 'ingress', {
      name: 'web',
      namespace,
      target: 'web-canary',
      service: 'web',
      ingress: 'web',
      interval: '10s',
    });
    // The failure starts at a different point of the check cycle in each release, spread evenly over it.
    await new Promise((r) => setTimeout(r, ((i - 1) / RELEASES) * INTERVAL_SECONDS * 1000));
    metrics.traffic = { ...metrics.traffic, errorRatio: 0.5 };
    const failing = whenTrue(async () => {
      const m = await queryValue({ address: prometheus.address }, query);
      return 'value' in m && m.value < 99;
    }, 100);
    const stable = whenTrue(async () => {
      const canary = await h.get('networking.k8s.io/v1', 'Ingress', 'web-canary');
      return !canary || canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'] === '0';
    }, 50);
    const [failedAt, stableAt] = await Promise.all([failing, stable]);
    delays.push(stableAt - failedAt);
    console.log(
      `release ${i}: traffic on stable ${((stableAt - failedAt) / 1000).toFixed(2)} s after the first failing value`,
    );
  }
} finally {
  await controller.stop();
  await prometheus.stop();
  await metrics.stop();
  await cluster.stop();
}

const p50 = median(delays);
const p95 = percentile(delays, 95);
console.log(
  `first failing value → traffic on stable, ${delays.length} releases: p50 ${(p50 / 1000).toFixed(2)} s, ` +
    `p95 ${(p95 / 1000).toFixed(2)} s; bound (interval ${INTERVAL_SECONDS} s + 1 s) ${BOUND_MS / 1000} s, ` +
    `p50/bound ${(p50 / BOUND_MS).toFixed(2)}`,
);
console.log(JSON.stringify({ releases: delays.length, intervalSeconds: INTERVAL_SECONDS, delaysMs: delays, p50 }));
if (p50 > BOUND_MS) process.exit(1);
