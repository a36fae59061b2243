/**
 * Admission benchmark, on the real control plane with `stepwise controller` as a separate process serving its
 * webhook on 127.0.0.1 (the way the tests and a developer's laptop run it):
 *
 * 1. latency: a server-side apply of a new image to a governed Deployment (the webhook starts its release in
 *    the same write) against the same apply to an identical Deployment without the rollout-name label (the
 *    API server does not call the webhook), interleaved one by one so both see the same load; p50 and p99;
 * 2. burst: 200 such applies at once; every one must be admitted.
 *
 *   npm run bench:admission     # exits 1 if a target is missed (p99 added ≤ 20 ms; 0 admission errors)
 */
import { performance } from 'node:perf_hooks';
import { KubeClient, KubeApiError } from '../../src/k8s/client.js';
import type { Workload } from '../../src/reconciler/observed.js';
import { renderApp } from '../../src/render/app.js';
import { ROLLOUT_NAME_LABEL } from '../../src/render/labels.js';
import { loadApps } from '../../src/appspec/load.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { apiserverSeries, createNamespace, eventually } from '../../test/support/kube.js';
import { stepwise } from '../../test/support/cli.js';
import { StepwiseProcess } from '../../test/support/processes.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { freePorts } from '../../test/testenv/process.js';

const SEQUENTIAL = 200;
const BURST = 200;
const NAMESPACE = 'bench';

// 400 apps and 200 plain Deployments of one pod each, plus a canary pod per release: 110 pods a node.
const cluster = await startCluster({ nodes: 10, log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const [port] = (await freePorts(1)) as [number];
await createNamespace(client, 'stepwise-system');
await createNamespace(client, NAMESPACE);
const installed = stepwise([
  'install',
  '--kubeconfig',
  cluster.kubeconfig,
  '-n',
  'stepwise-system',
  '--webhook-url',
  `https://127.0.0.1:${port}`,
]);
if (installed.status !== 0) throw new Error(installed.stderr);
const controller = new StepwiseProcess([
  'controller',
  '-A',
  '--kubeconfig',
  cluster.kubeconfig,
  '--lease-namespace',
  'stepwise-system',
  '--webhook-port',
  String(port),
  '--webhook-bind-address',
  '127.0.0.1',
  '--stats-every',
  '1',
]);
await controller.waitFor(/leading as/);

/** An app of one pod whose release waits for approval at its first step: the release adds no pods to the load. */
function app(name: string, image: string): KubeObject[] {
  const spec = `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  workload: {image: ${image}, replicas: 1}
  rollout:
    strategy: canary
    steps: [{replicas: 1, pause: {}}, {replicas: 100%}]
`;
  return renderApp(loadApps([{ file: `${name}.yaml`, text: spec }]).apps[0]!.app);
}
const workloadOf = (objects: KubeObject[]) => objects.find((o) => o.kind === 'Deployment') as Workload;
/** The same Deployment under another name, without the label the webhook selects on. */
function ungoverned(objects: KubeObject[], name: string): Workload {
  const w = structuredClone(workloadOf(objects));
  const { [ROLLOUT_NAME_LABEL]: _label, ...labels } = w.metadata.labels ?? {};
  return { ...w, metadata: { ...w.metadata, name, labels } };
}

const governedNames = Array.from({ length: SEQUENTIAL + BURST }, (_, i) => `app-${i}`);
const plainNames = Array.from({ length: SEQUENTIAL }, (_, i) => `plain-${i}`);
process.stderr.write(`creating ${governedNames.length} governed apps and ${plainNames.length} plain Deployments\n`);
await Promise.all(
  governedNames.map(async (name) => {
    for (const o of app(name, 'example/app:1')) await client.apply(o, { force: true });
  }),
);
await Promise.all(
  plainNames.map((name, i) => client.apply(ungoverned(app(governedNames[i]!, 'example/app:1'), name), { force: true })),
);
await eventually(
  'every Rollout Healthy',
  async () => {
    const rollouts = await client.list<KubeObject & { status?: { phase?: string } }>({
      apiVersion: 'stepwise.dev/v1alpha1',
      kind: 'Rollout',
      namespace: NAMESPACE,
    });
    return rollouts.filter((r) => r.status?.phase === 'Healthy').length === governedNames.length;
  },
  300_000,
);

async function timed(object: KubeObject): Promise<number> {
  const t0 = performance.now();
  await client.apply(object, { force: true });
  return performance.now() - t0;
}
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;

/** The controller's latest stats line, once it is newer than now (printed every second). */
async function controllerStats(): Promise<{
  webhook: { reviews: number; totalMs: number; slowestMs: number; connections: number };
}> {
  const lines = () => [...controller.log.matchAll(/^stats (.*)$/gm)];
  const seen = lines().length;
  await eventually('a fresh stats line', async () => lines().length > seen);
  return JSON.parse(lines().pop()![1]!);
}
const rollout = (name: string) =>
  client.get<KubeObject & { status?: { phase?: string; canaryStatus?: { currentStepState?: string } } }>({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'Rollout',
    name,
    namespace: NAMESPACE,
  });

process.stderr.write(
  `latency: ${SEQUENTIAL} applies of each kind, in alternating order, each release settled before the next\n`,
);
const governed: number[] = [];
const plain: number[] = [];
/** Seconds and count of the API server's calls to the workload webhook so far, as it measured them. */
async function webhookCalls(): Promise<{ seconds: number; count: number }> {
  const total = async (suffix: string) =>
    (await apiserverSeries(client, `apiserver_admission_webhook_admission_duration_seconds_${suffix}`))
      .filter((x) => x.labels.name === 'workloads.admission.stepwise.dev')
      .reduce((sum, x) => sum + x.value, 0);
  return { seconds: await total('sum'), count: await total('count') };
}
const before = await controllerStats();
const callsBefore = await webhookCalls();
for (let i = 0; i < SEQUENTIAL; i++) {
  const next = app(governedNames[i]!, 'example/app:2');
  const pair = [
    async () => governed.push(await timed(workloadOf(next))),
    async () => plain.push(await timed(ungoverned(next, plainNames[i]!))),
  ];
  for (const measure of i % 2 ? pair.reverse() : pair) await measure();
  // A deploy at a time: the release it started reaches its first pause before the next one is measured.
  await eventually(
    `${governedNames[i]} paused`,
    async () => (await rollout(governedNames[i]!))?.status?.canaryStatus?.currentStepState === 'StepPaused',
  );
}
const afterSequential = await controllerStats();
const callsAfter = await webhookCalls();
const callMs = (1000 * (callsAfter.seconds - callsBefore.seconds)) / (callsAfter.count - callsBefore.count);
const paused = await client.get<Workload>({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  name: governedNames[0]!,
  namespace: NAMESPACE,
});
if (paused?.metadata.annotations?.['stepwise.dev/in-progressing'] === undefined)
  throw new Error('the webhook did not start the release');

process.stderr.write(`burst: ${BURST} applies at once\n`);
const burstStarted = performance.now();
const results = await Promise.allSettled(
  governedNames.slice(SEQUENTIAL).map((name) => timed(workloadOf(app(name, 'example/app:2')))),
);
const burstMs = performance.now() - burstStarted;
const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
const burst = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));

// The webhook's own account of its reviews in each phase, from the controller's stats.
const afterBurst = await controllerStats();
const perReview = (from: typeof before, to: typeof before) => {
  const n = to.webhook.reviews - from.webhook.reviews;
  return (
    `${((to.webhook.totalMs - from.webhook.totalMs) / n).toFixed(2)} ms on average over ${n}, on ` +
    `${to.webhook.connections - from.webhook.connections} new connections`
  );
};
const row = (label: string, xs: number[]) =>
  `| ${label} | ${quantile(xs, 0.5).toFixed(1)} ms | ${quantile(xs, 0.99).toFixed(1)} ms |`;
const addedP50 = quantile(governed, 0.5) - quantile(plain, 0.5);
const addedP99 = quantile(governed, 0.99) - quantile(plain, 0.99);
console.log(
  [
    '| apply of a new image | p50 | p99 |',
    '|---|---:|---:|',
    row('governed (webhook called)', governed),
    row('plain (no webhook)', plain),
    row(`burst of ${BURST} at once`, burst),
  ].join('\n'),
);
console.log(`added by admission: p50 ${addedP50.toFixed(1)} ms, p99 ${addedP99.toFixed(1)} ms (target p99 ≤ 20 ms)`);
console.log(`the API server's call to the webhook, one at a time: ${callMs.toFixed(2)} ms on average`);
console.log(
  `review inside the controller, request in to response out: ${perReview(before, afterSequential)} one at a time; ` +
    `${perReview(afterSequential, afterBurst)} in the burst`,
);
console.log(
  `burst: ${BURST} applies in ${burstMs.toFixed(0)} ms, ${failures.length} failed${
    failures.length
      ? `: ${failures
          .map((f) => (f.reason instanceof KubeApiError ? f.reason.message : String(f.reason)))
          .slice(0, 3)
          .join('; ')}`
      : ''
  }`,
);
await controller.stop();
await cluster.stop();
process.exitCode = addedP99 <= 20 && failures.length === 0 ? 0 : 1;
