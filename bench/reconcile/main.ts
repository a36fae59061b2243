/**
 * Reconciler benchmark, on the real control plane (test/testenv), with `stepwise controller` as a separate
 * process, the way it runs in a cluster:
 *
 * 1. approval latency: time from a step's approval (the status patch) to the canary Ingress carrying the next
 *    step's weight, seen through a watch; p50/p95 over 20 steps, grace period 0;
 * 2. a blue-green release with zero pauses, start to Healthy, relative to the same Deployment alone going
 *    from nothing to all replicas Ready (median of 3 each);
 * 3. 200 releases at once in one controller: its peak RSS, API requests per step, and the slowest step.
 *
 *   npm run bench:reconcile            # exits 1 if a target is missed
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { planApply } from '../../src/cli/commands/apply.js';
import { KubeClient } from '../../src/k8s/client.js';
import { Informer } from '../../src/k8s/informer.js';
import { ROLLOUT_REF } from '../../src/reconciler/observe.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { loadApps } from '../../src/spec/load.js';
import type { KubeObject } from '../../src/traffic/objects.js';
import { createNamespace, eventually } from '../../test/support/kube.js';
import { ROOT } from '../../test/support/paths.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { rssBytes } from '../../test/testenv/process.js';

const cluster = await startCluster({ nodes: 12, log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const controllers: ChildProcess[] = [];

function controller(namespace: string, stats?: (s: { passes: number; requests: number; slowestPassMs: number; rssBytes: number }) => void): ChildProcess {
  const p = spawn(process.execPath, [`${ROOT}bin/stepwise.js`, 'controller', '--kubeconfig', cluster.kubeconfig, '-n', namespace, '--leader-elect=false', '--workers', '16', ...(stats ? ['--stats-every', '1'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let buffer = '';
  p.stderr!.on('data', (d: Buffer) => {
    buffer += d;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) if (stats && line.startsWith('stats ')) stats(JSON.parse(line.slice(6)));
  });
  controllers.push(p);
  return p;
}

async function apply(namespace: string, spec: string): Promise<void> {
  for (const { app } of loadApps([{ file: 'bench.yaml', text: spec }]).apps) {
    const { objects } = await planApply(client, app, namespace);
    for (const o of objects) await client.apply(o, { force: true });
  }
}

const rolloutOf = (namespace: string, name: string) => client.get<RolloutObject>({ ...ROLLOUT_REF, name, namespace });
const healthy = async (namespace: string, name: string) => (await rolloutOf(namespace, name))?.status?.phase === 'Healthy';
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const median = (xs: number[]) => percentile(xs, 50);

function app(name: string, image: string, replicas: number, rollout: string): string {
  return `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: ${name}}
spec:
  workload: {image: ${image}, replicas: ${replicas}, readinessProbe: {tcpSocket: {port: http}}}
  route:
    ingress: {host: ${name}.example.com}
  rollout:
${rollout}
`;
}

// 1. Approval -> traffic object updated.
const latencySteps = 21;
const latencySpec = (image: string) => app('latency', image, 2, `    strategy: canary
    gracePeriodSeconds: 0
    steps:
${Array.from({ length: latencySteps }, (_, i) => `      - {replicas: 1, traffic: ${i + 1}%}`).join('\n')}
      - {replicas: 100%, traffic: 100%}`);
await createNamespace(client, 'latency');
controller('latency');
await apply('latency', latencySpec('example/app:1'));
await eventually('latency v1 healthy', () => healthy('latency', 'latency'), 60_000);
const weightSeen = new Map<string, number>();
const ingresses = new Informer(client, { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'latency' }, (_t, o) => {
  const w = o.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'];
  if (w && !weightSeen.has(w)) weightSeen.set(w, performance.now());
});
await ingresses.start();
await apply('latency', latencySpec('example/app:2'));
await eventually('step 1 paused', async () => (await rolloutOf('latency', 'latency'))?.status?.canaryStatus?.currentStepState === 'StepPaused', 60_000);
const latencies: number[] = [];
for (let step = 2; step <= latencySteps; step++) {
  const t0 = performance.now();
  await client.mergePatch({ ...ROLLOUT_REF, name: 'latency', namespace: 'latency' }, { status: { canaryStatus: { currentStepState: 'StepReady' } } }, 'status', 'bench');
  await eventually(`weight ${step}`, async () => weightSeen.has(String(step)), 30_000);
  latencies.push(weightSeen.get(String(step))! - t0);
  await eventually(`step ${step} paused`, async () => (await rolloutOf('latency', 'latency'))?.status?.canaryStatus?.currentStepState === 'StepPaused', 30_000);
}
ingresses.stop();
for (const p of controllers.splice(0)) p.kill('SIGTERM');

// 2. A zero-pause blue-green release vs the Deployment alone becoming Ready.
const baseline: number[] = [];
for (let i = 0; i < 3; i++) {
  const ns = `baseline-${i}`;
  await createNamespace(client, ns);
  const t0 = performance.now();
  await client.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns }, spec: { replicas: 5, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'example/app:1' }] } } } } as KubeObject);
  await eventually('baseline Ready', async () => ((await client.get<KubeObject & { status?: { readyReplicas?: number } }>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: ns }))?.status?.readyReplicas ?? 0) === 5, 60_000);
  baseline.push(performance.now() - t0);
}
const releaseSpec = (image: string) => app('web', image, 5, `    strategy: blueGreen
    gracePeriodSeconds: 0
    steps:
      - {replicas: 100%, traffic: 0%, pause: {duration: 0}}
      - {replicas: 100%, traffic: 10%, pause: {duration: 0}}
      - {replicas: 100%, traffic: 100%, pause: {duration: 0}}`);
const releases: number[] = [];
for (let i = 0; i < 3; i++) {
  const ns = `release-${i}`;
  await createNamespace(client, ns);
  controller(ns);
  await apply(ns, releaseSpec('example/app:1'));
  await eventually('v1 healthy', () => healthy(ns, 'web'), 60_000);
  const before = (await rolloutOf(ns, 'web'))!.metadata.resourceVersion;
  const t0 = performance.now();
  await apply(ns, releaseSpec('example/app:2'));
  await eventually('release done', async () => {
    const r = await rolloutOf(ns, 'web');
    return r?.metadata.resourceVersion !== before && r?.status?.phase === 'Healthy' && r.status.conditions?.find((c) => c.type === 'Succeeded')?.status === 'True';
  }, 120_000);
  releases.push(performance.now() - t0);
}
for (const p of controllers.splice(0)) p.kill('SIGTERM');

// 3. 200 releases at once in one controller.
const scale = 200;
const scaleSteps = 2;
const scaleSpec = (i: number, image: string) => app(`app-${i}`, image, 2, `    strategy: canary
    gracePeriodSeconds: 0
    steps:
      - {replicas: 50%, traffic: 50%, pause: {duration: 0}}
      - {replicas: 100%, traffic: 100%}`);
await createNamespace(client, 'scale');
let last = { passes: 0, requests: 0, slowestPassMs: 0, rssBytes: 0 };
const proc = controller('scale', (s) => { last = s; });
let peakRss = 0;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssBytes(proc.pid!)); }, 100);
for (let i = 0; i < scale; i++) await apply('scale', scaleSpec(i, 'example/app:1'));
await eventually('200 apps healthy', async () => (await client.list<RolloutObject>({ ...ROLLOUT_REF, namespace: 'scale' })).filter((r) => r.status?.phase === 'Healthy').length === scale, 300_000);
await new Promise((r) => setTimeout(r, 2000));
const before = last;
// Step timing from the Rollouts' own transitions, seen through a watch.
const transitions = new Map<string, number[]>();
const rollouts = new Informer(client, { ...ROLLOUT_REF, namespace: 'scale' }, (_t, o) => {
  const r = o as RolloutObject;
  const sub = r.status?.canaryStatus;
  const mark = r.status?.phase === 'Healthy' && (r.status.conditions?.find((c) => c.type === 'Succeeded')?.status === 'True') ? scaleSteps + 1 : r.status?.phase === 'Progressing' ? sub?.currentStepIndex ?? 0 : 0;
  const seen = transitions.get(r.metadata.name) ?? [];
  if (mark && seen[mark] === undefined) seen[mark] = performance.now();
  transitions.set(r.metadata.name, seen);
});
await rollouts.start();
const started = performance.now();
const appliedAt = new Map<string, number>();
for (let i = 0; i < scale; i++) {
  await apply('scale', scaleSpec(i, 'example/app:2'));
  appliedAt.set(`app-${i}`, performance.now());
}
const applied = performance.now() - started;
await eventually('200 releases done', async () => [...transitions.values()].filter((t) => t[scaleSteps + 1] !== undefined).length === scale, 600_000);
const total = performance.now() - started;
await new Promise((r) => setTimeout(r, 1500));
clearInterval(sampler);
rollouts.stop();
// A step lasts from reaching it (the first from the app's apply) to reaching the next one, or the end.
const stepDurations = [...transitions].flatMap(([name, t]) => {
  const marks = [appliedAt.get(name)!, ...t.slice(2, scaleSteps + 2)];
  return marks.slice(1).map((at, i) => at - marks[i]!);
});
const slowestStep = Math.max(...stepDurations);
const requestsPerStep = (last.requests - before.requests) / (scale * scaleSteps);

for (const p of controllers) p.kill('SIGTERM');
await cluster.stop();

const result = {
  approvalLatencyMs: { p50: median(latencies), p95: percentile(latencies, 95), steps: latencies.length },
  releaseMs: median(releases),
  deploymentReadyMs: median(baseline),
  releaseOverDeployment: median(releases) / median(baseline),
  scale: { releases: scale, peakRssMiB: peakRss / 2 ** 20, requestsPerStep, slowestStepMs: slowestStep, applyAllMs: applied, allDoneMs: total, slowestPassMs: last.slowestPassMs },
};
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`reconcile benchmark (node ${process.version}, kube-apiserver ${'v1.36.3'}, kwok nodes)`);
console.log(`approval -> traffic updated: p50 ${ms(result.approvalLatencyMs.p50)}, p95 ${ms(result.approvalLatencyMs.p95)} over ${latencies.length} steps (target p50 <= 250 ms)`);
console.log(`zero-pause blue-green release ${ms(result.releaseMs)} vs Deployment alone Ready ${ms(result.deploymentReadyMs)}: ratio ${result.releaseOverDeployment.toFixed(2)} (target <= 1.5)`);
console.log(`${scale} releases at once: peak RSS ${result.scale.peakRssMiB.toFixed(0)} MiB (target <= 250), ${requestsPerStep.toFixed(1)} API requests per step, slowest step ${ms(slowestStep)} (target <= 5000), all done ${ms(total)} after the first apply (applying took ${ms(applied)})`);
console.log(JSON.stringify(result));
process.exitCode = result.approvalLatencyMs.p50 <= 250 && result.releaseOverDeployment <= 1.5 && result.scale.peakRssMiB <= 250 && slowestStep <= 5000 ? 0 : 1;
