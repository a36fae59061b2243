/**
 * Reconciler benchmark, on the real control plane (test/testenv), with `stepwise controller` as a separate
 * process, the way it runs in a cluster:
 *
 * 1. approval latency: time from a step's approval (the status patch) to the canary Ingress carrying the next
 *    step's weight, seen through a watch; p50/p95 over 20 steps, grace period 0;
 * 2. a blue-green release with zero pauses, start to Healthy, relative to the same Deployment alone rolling to
 *    the new image and going from nothing to all replicas Ready (median of 5 each), at three pod start-up times;
 * 3. 200 releases at once in one controller: its peak RSS, API requests per step, and the slowest step.
 *
 *   npm run bench:reconcile            # exits 1 if a target is missed
 *   node dist/bench/reconcile/main.js scale   # one part (latency, release, scale) while working on it
 *   STEPWISE_BENCH_IMAGE=1 node dist/bench/reconcile/main.js scale   # the controller in its container (podman)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { applyPlanned, planApply, type PlannedObject } from '../../src/apply/plan.js';
import { KubeClient } from '../../src/k8s/client.js';
import { Informer } from '../../src/k8s/informer.js';
import { ROLLOUT_REF } from '../../src/reconciler/observe.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { renderApp } from '../../src/render/app.js';
import { loadApps } from '../../src/appspec/load.js';
import type { NormalizedApp } from '../../src/appspec/normalize.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { apiserverSeries, createNamespace, eventually } from '../../test/support/kube.js';
import { ROOT } from '../../test/support/paths.js';
import { READY_AFTER_ANNOTATION, startCluster } from '../../test/testenv/cluster.js';
import { rssBytes } from '../../test/testenv/process.js';
import { buildImage, flatKubeconfig, Podman } from '../../test/support/image.js';
import { median, percentile } from '../stats.js';

const PARTS = ['latency', 'release', 'scale'] as const;
const chosen = process.argv.slice(2);
for (const part of chosen)
  if (!(PARTS as readonly string[]).includes(part))
    throw new Error(`unknown part ${part}: choose from ${PARTS.join(', ')}`);
const runs = (part: (typeof PARTS)[number]) => chosen.length === 0 || chosen.includes(part);

const cluster = await startCluster({ nodes: 12, log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const controllers: ChildProcess[] = [];
/** With STEPWISE_BENCH_IMAGE set, the controller runs in its image under podman, as in a cluster. */
const container = process.env.STEPWISE_BENCH_IMAGE ? await imageRunner() : undefined;

async function imageRunner() {
  const podman = new Podman();
  const image = podman.load(buildImage().archive);
  const kubeconfig = await flatKubeconfig(cluster);
  process.once('exit', () => podman.close());
  return {
    command: [...podman.command, 'run', '--rm', '--network', 'host', '--read-only', '-v', kubeconfig.volume, image],
    kubeconfig: kubeconfig.path,
    env: podman.environment,
  };
}

function controller(
  namespace: string,
  stats?: (s: { passes: number; requests: number; slowestPassMs: number; rssBytes: number }) => void,
): ChildProcess {
  const [bin, ...before] = (container?.command ?? [process.execPath, `${ROOT}bin/stepwise.js`]) as [string];
  const p = spawn(
    bin,
    [
      ...before,
      'controller',
      '--kubeconfig',
      container?.kubeconfig ?? cluster.kubeconfig,
      '-n',
      namespace,
      '--leader-elect=false',
      '--no-webhook',
      '--workers',
      '16',
      ...(stats ? ['--stats-every', '1'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: container?.env ?? process.env },
  );
  // Its log is kept with the cluster's (STEPWISE_KEEP_RUN=1 keeps the run directory).
  const log = createWriteStream(`${cluster.state.runDir}/controller-${namespace}.log`, { flags: 'a' });
  let buffer = '';
  p.stderr!.on('data', (d: Buffer) => {
    buffer += d;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (stats && line.startsWith('stats ')) stats(JSON.parse(line.slice(6)));
      else log.write(`${line}\n`);
    }
  });
  p.on('exit', (code) => {
    log.end(buffer);
    if (code) console.error(`stepwise controller (${namespace}) exited with ${code}: ${buffer || 'see its log'}`);
  });
  controllers.push(p);
  return p;
}

function stopControllers(): void {
  for (const p of controllers.splice(0)) p.kill('SIGTERM');
}

/** The one app a benchmark spec holds, loaded as `stepwise apply` loads it; a spec error stops the benchmark. */
function loadApp(spec: string): NormalizedApp {
  const loaded = loadApps([{ file: 'bench.yaml', text: spec }]);
  const errors = loaded.issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new Error(errors.map((i) => `${i.path}: ${i.message}`).join('; '));
  return loaded.apps[0]!.app;
}

/** What `stepwise apply` writes for the spec into `namespace`, after its dry runs. */
async function plan(namespace: string, spec: string): Promise<PlannedObject[]> {
  return (await planApply(client, loadApp(spec), namespace)).objects;
}

async function apply(namespace: string, spec: string): Promise<void> {
  await applyPlanned(client, await plan(namespace, spec));
}

/** The app's Deployment as `stepwise synth` renders it, in `namespace`, without Stepwise around it: the baselines. */
function deploymentAlone(spec: string, namespace: string): KubeObject {
  const deployment = renderApp(loadApp(spec))[0]!;
  return { ...deployment, metadata: { ...deployment.metadata, namespace } };
}

const rolloutOf = (namespace: string, name: string) => client.get<RolloutObject>({ ...ROLLOUT_REF, name, namespace });
const healthy = async (namespace: string, name: string) =>
  (await rolloutOf(namespace, name))?.status?.phase === 'Healthy';
const ms = (x: number) => `${x.toFixed(0)} ms`;

interface PartResult {
  line: string;
  met: boolean;
  figures: Record<string, unknown>;
}

/** An app spec; JSON is YAML, and spares the benchmark indentation mistakes. */
function app(
  name: string,
  image: string,
  replicas: number,
  rollout: Record<string, unknown>,
  podAnnotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: {
      workload: { image, replicas, podAnnotations, readinessProbe: { tcpSocket: { port: 'http' } } },
      route: { ingress: { host: `${name}.example.com` } },
      rollout,
    },
  });
}

/** The API server's request and watch-event counters, by series (from its /metrics). */
async function apiserverCounters(): Promise<Map<string, number>> {
  const counters = new Map<string, number>();
  const add = (series: string, value: number) => counters.set(series, (counters.get(series) ?? 0) + value);
  for (const { labels, value } of await apiserverSeries(client, 'apiserver_request_total'))
    add(`${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`, value);
  for (const { labels, value } of await apiserverSeries(client, 'apiserver_watch_events_total'))
    add(`watch events ${labels.resource}`, value);
  return counters;
}

function topDeltas(before: Map<string, number>, after: Map<string, number>, count: number): string {
  return [...after]
    .map(([series, n]) => [series, n - (before.get(series) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([series, n]) => `  ${String(n).padStart(7)}  ${series}`)
    .join('\n');
}

/** 1. Approval -> traffic object updated. */
async function approvalLatency(): Promise<PartResult> {
  const latencySteps = 21;
  const latencySpec = (image: string) =>
    app('latency', image, 2, {
      strategy: 'canary',
      gracePeriodSeconds: 0,
      steps: [
        ...Array.from({ length: latencySteps }, (_, i) => ({ replicas: 1, traffic: `${i + 1}%` })),
        { replicas: '100%', traffic: '100%' },
      ],
    });
  await createNamespace(client, 'latency');
  controller('latency');
  await apply('latency', latencySpec('example/app:1'));
  await eventually('latency v1 healthy', () => healthy('latency', 'latency'), 60_000);
  const weightSeen = new Map<string, number>();
  const ingresses = new Informer(
    client,
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'latency' },
    (_t, o) => {
      const w = o.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'];
      if (w && !weightSeen.has(w)) weightSeen.set(w, performance.now());
    },
  );
  await ingresses.start();
  await apply('latency', latencySpec('example/app:2'));
  await eventually(
    'step 1 paused',
    async () => (await rolloutOf('latency', 'latency'))?.status?.canaryStatus?.currentStepState === 'StepPaused',
    60_000,
  );
  const latencies: number[] = [];
  for (let step = 2; step <= latencySteps; step++) {
    const t0 = performance.now();
    await client.mergePatch(
      { ...ROLLOUT_REF, name: 'latency', namespace: 'latency' },
      { status: { canaryStatus: { currentStepState: 'StepReady' } } },
      'status',
      'bench',
    );
    await eventually(`weight ${step}`, async () => weightSeen.has(String(step)), 30_000);
    latencies.push(weightSeen.get(String(step))! - t0);
    await eventually(
      `step ${step} paused`,
      async () => (await rolloutOf('latency', 'latency'))?.status?.canaryStatus?.currentStepState === 'StepPaused',
      30_000,
    );
  }
  ingresses.stop();
  stopControllers();
  await dropNamespaces(['latency']);
  const p50 = median(latencies);
  return {
    line:
      `approval -> traffic updated: p50 ${ms(p50)}, p95 ${ms(percentile(latencies, 95))} over ` +
      `${latencies.length} steps (target p50 <= 250 ms)`,
    met: p50 <= 250,
    figures: { approvalLatencyMs: { p50, p95: percentile(latencies, 95), steps: latencies.length } },
  };
}

/**
 * Resolves with the moment a watched object of `ref` first satisfies `done`. Seen through a watch, so no
 * polling interval is measured; the Informer lists first, so an object already done resolves at once.
 */
async function watchFor<T extends KubeObject>(
  ref: { apiVersion: string; kind: string; namespace: string },
  done: (o: T) => boolean,
): Promise<{ reached: Promise<number>; stop: () => void }> {
  let resolve!: (at: number) => void;
  const reached = new Promise<number>((r) => {
    resolve = r;
  });
  const informer = new Informer(client, ref, (_type, o) => {
    if (done(o as T)) resolve(performance.now());
  });
  await informer.start();
  const timeout = setTimeout(() => resolve(Number.NaN), 120_000);
  return {
    reached: reached.finally(() => clearTimeout(timeout)),
    stop: () => {
      clearTimeout(timeout);
      informer.stop();
    },
  };
}

type DeploymentStatus = KubeObject & {
  spec: { template: { spec: { containers: { image: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
};

/** Every one of `replicas` pods runs `image` and is available, and no other pod is left. */
const rolledOut = (image: string, replicas: number) => (d: DeploymentStatus) => {
  const s = d.status ?? {};
  return (
    d.spec.template.spec.containers[0]!.image === image &&
    (s.observedGeneration ?? 0) >= Number(d.metadata.generation) &&
    s.replicas === replicas &&
    s.updatedReplicas === replicas &&
    s.readyReplicas === replicas &&
    s.availableReplicas === replicas
  );
};

/** Time from `start()` to `done`, seen through a watch. */
async function timed<T extends KubeObject>(
  ref: { apiVersion: string; kind: string; namespace: string },
  done: (o: T) => boolean,
  start: () => Promise<unknown>,
): Promise<number> {
  const watch = await watchFor(ref, done);
  const t0 = performance.now();
  await start();
  const at = await watch.reached;
  watch.stop();
  if (Number.isNaN(at)) throw new Error(`${ref.kind} in ${ref.namespace} not done within 120 s`);
  return at - t0;
}

/**
 * Pod start-up times the release is measured at. kwok's pods turn Ready the moment they are scheduled, which no
 * real pod does, so at 0 the ratio compares control-plane hops only; 1 s is the quick end of a real container
 * starting and passing its first readiness probe (the default probe period alone is 10 s), 3 s a common one.
 */
const START_UP_MS = [0, 1000, 3000] as const;
/** The start-up time the target is judged at: the quickest realistic one. */
const JUDGED_START_UP_MS = 1000;

/**
 * 2. A zero-pause blue-green release, from `stepwise apply` of the new image to the Rollout Healthy with the
 * old pods gone, against the same Deployment without Stepwise: created from nothing until all replicas are
 * Ready, and updated to the new image by its own rolling update until that is complete; at each start-up time.
 */
async function releaseVsDeployment(): Promise<PartResult> {
  const rows = [];
  for (const startUpMs of START_UP_MS) rows.push(await releaseAt(startUpMs));
  const judged = rows.find((r) => r.startUpMs === JUDGED_START_UP_MS)!;
  const lines = rows.map(
    (r) =>
      `pods Ready ${r.startUpMs} ms after start: zero-pause blue-green release ${ms(r.releaseMs)}; ` +
      `the same Deployment's own rolling update ${ms(r.deploymentUpdateMs)} (ratio ` +
      `${r.releaseOverUpdate.toFixed(2)}), ` +
      `created until Ready ${ms(r.deploymentCreateMs)} (ratio ${r.releaseOverCreate.toFixed(2)})`,
  );
  return {
    line: [...lines, `  target: both ratios <= 1.5 with pods Ready ${JUDGED_START_UP_MS} ms after start`].join('\n'),
    met: judged.releaseOverUpdate <= 1.5 && judged.releaseOverCreate <= 1.5,
    figures: { release: rows },
  };
}

/** Part 2 at one pod start-up time: medians of 5 runs each. */
async function releaseAt(startUpMs: number) {
  const RUNS = 5;
  const spec = (image: string) =>
    app(
      'web',
      image,
      5,
      {
        strategy: 'blueGreen',
        gracePeriodSeconds: 0,
        steps: ['0%', '10%', '100%'].map((traffic) => ({ replicas: '100%', traffic, pause: { duration: 0 } })),
      },
      startUpMs ? { [READY_AFTER_ANNOTATION]: `${startUpMs}ms` } : {},
    );
  const created: number[] = [];
  const updated: number[] = [];
  const releases: number[] = [];
  const namespaces: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ns = `baseline-${startUpMs}-${i}`;
    namespaces.push(ns);
    await createNamespace(client, ns);
    const deployments = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns };
    created.push(
      await timed(deployments, rolledOut('example/app:1', 5), () =>
        client.apply(deploymentAlone(spec('example/app:1'), ns), { force: true }),
      ),
    );
    updated.push(
      await timed(deployments, rolledOut('example/app:2', 5), () =>
        client.apply(deploymentAlone(spec('example/app:2'), ns), { force: true }),
      ),
    );
  }
  for (let i = 0; i < RUNS; i++) {
    const ns = `release-${startUpMs}-${i}`;
    namespaces.push(ns);
    await createNamespace(client, ns);
    controller(ns);
    await apply(ns, spec('example/app:1'));
    await eventually('v1 healthy', () => healthy(ns, 'web'), 60_000);
    const succeeded = (r: RolloutObject) =>
      r.status?.phase === 'Healthy' && r.status.conditions?.find((c) => c.type === 'Succeeded')?.status === 'True';
    releases.push(await timed({ ...ROLLOUT_REF, namespace: ns }, succeeded, () => apply(ns, spec('example/app:2'))));
  }
  stopControllers();
  await dropNamespaces(namespaces);
  const [release, update, create] = [median(releases), median(updated), median(created)];
  return {
    startUpMs,
    releaseMs: release,
    deploymentUpdateMs: update,
    deploymentCreateMs: create,
    releaseOverUpdate: release / update,
    releaseOverCreate: release / create,
  };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Deletes the namespaces and waits until they are gone, so that a part leaves the 12 nodes' pod capacity
 * (110 pods each) to the next: 200 releases need most of it.
 */
async function dropNamespaces(names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => client.delete({ apiVersion: 'v1', kind: 'Namespace', name })));
  await eventually(
    `namespaces ${names.join(', ')} gone`,
    async () => {
      const left = new Set((await client.list({ apiVersion: 'v1', kind: 'Namespace' })).map((n) => n.metadata.name));
      return names.every((n) => !left.has(n));
    },
    300_000,
  );
}

/**
 * 3. 200 releases at once in one controller: every app's new version is planned first (`stepwise apply`'s
 * dry runs), then all are written together, 16 at a time. The same 200 Deployments rolling to the new image
 * by themselves, started the same way on the same cluster, are the baseline for how long the cluster takes.
 */
async function manyReleases(): Promise<PartResult> {
  const scale = 200;
  const scaleSteps = 2;
  const names = Array.from({ length: scale }, (_, i) => `app-${i}`);
  const spec = (name: string, image: string) =>
    app(name, image, 2, {
      strategy: 'canary',
      gracePeriodSeconds: 0,
      steps: [
        { replicas: '50%', traffic: '50%', pause: { duration: 0 } },
        { replicas: '100%', traffic: '100%' },
      ],
    });

  // Baseline: the Deployments alone.
  await createNamespace(client, 'scale-native');
  await inParallel(names, 16, async (name) => {
    await client.apply(deploymentAlone(spec(name, 'example/app:1'), 'scale-native'), { force: true });
  });
  const nativeDone = new Map<string, number>();
  const deployments = new Informer(
    client,
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'scale-native' },
    (_t, o) => {
      if (rolledOut('example/app:2', 2)(o as DeploymentStatus) && !nativeDone.has(o.metadata.name))
        nativeDone.set(o.metadata.name, performance.now());
    },
  );
  await deployments.start();
  await eventually(
    '200 Deployments Ready',
    async () =>
      (
        await client.list<DeploymentStatus>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'scale-native' })
      ).filter(rolledOut('example/app:1', 2)).length === scale,
    300_000,
  );
  const nativeStarted = new Map<string, number>();
  const nativeT0 = performance.now();
  await inParallel(names, 16, async (name) => {
    nativeStarted.set(name, performance.now());
    await client.apply(deploymentAlone(spec(name, 'example/app:2'), 'scale-native'), { force: true });
  });
  await eventually('200 Deployments rolled out', async () => nativeDone.size === scale, 600_000);
  deployments.stop();
  await dropNamespaces(['scale-native']);
  const nativeSlowest = Math.max(...names.map((n) => nativeDone.get(n)! - nativeStarted.get(n)!));
  const nativeAll = Math.max(...nativeDone.values()) - nativeT0;

  // Stepwise.
  await createNamespace(client, 'scale');
  let last = { passes: 0, requests: 0, slowestPassMs: 0, rssBytes: 0 };
  const proc = controller('scale', (s) => {
    last = s;
  });
  let peakRss = 0;
  // In a container the process's own figure (its stats line, every second); else sampled every 100 ms.
  const rss = () => (container ? last.rssBytes : rssBytes(proc.pid!));
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rss());
  }, 100);
  await inParallel(names, 16, (name) => apply('scale', spec(name, 'example/app:1')));
  await eventually(
    '200 apps healthy',
    async () =>
      (await client.list<RolloutObject>({ ...ROLLOUT_REF, namespace: 'scale' })).filter(
        (r) => r.status?.phase === 'Healthy',
      ).length === scale,
    300_000,
  );
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rss();
  const before = last;
  // Timing from the Rollouts' own transitions, seen through a watch: mark k is step k reached, then the steps
  // completed (finalising begins), then Healthy. A mark the status skipped takes the time of the next one.
  const completed = scaleSteps + 1;
  const healthy = scaleSteps + 2;
  const transitions = new Map<string, number[]>();
  const rollouts = new Informer(client, { ...ROLLOUT_REF, namespace: 'scale' }, (_t, o) => {
    const r = o as RolloutObject;
    const sub = r.status?.canaryStatus;
    const mark =
      r.status?.phase === 'Healthy' && r.status.conditions?.find((c) => c.type === 'Succeeded')?.status === 'True'
        ? healthy
        : r.status?.phase !== 'Progressing'
          ? 0
          : sub?.currentStepState === 'Completed'
            ? completed
            : (sub?.currentStepIndex ?? 0);
    const seen = transitions.get(r.metadata.name) ?? [];
    for (let m = mark; m > 0 && seen[m] === undefined; m--) seen[m] = performance.now();
    transitions.set(r.metadata.name, seen);
  });
  await rollouts.start();
  // When each workload's own rolling update is done: finalising can end no sooner.
  const workloadDone = new Map<string, number>();
  const workloads = new Informer(client, { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'scale' }, (_t, o) => {
    if (
      names.includes(o.metadata.name) &&
      !workloadDone.has(o.metadata.name) &&
      rolledOut('example/app:2', 2)(o as DeploymentStatus)
    )
      workloadDone.set(o.metadata.name, performance.now());
  });
  await workloads.start();
  const planned = new Map<string, PlannedObject[]>();
  await inParallel(names, 16, async (name) => {
    planned.set(name, await plan('scale', spec(name, 'example/app:2')));
  });
  const metricsBefore = await apiserverCounters();
  const started = performance.now();
  const appliedAt = new Map<string, number>();
  await inParallel(names, 16, async (name) => {
    await applyPlanned(client, planned.get(name)!);
    appliedAt.set(name, performance.now());
  });
  const applied = performance.now() - started;
  await eventually(
    '200 releases done',
    async () => [...transitions.values()].filter((t) => t[healthy] !== undefined).length === scale,
    600_000,
  );
  const total = performance.now() - started;
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(sampler);
  rollouts.stop();
  workloads.stop();
  const load = topDeltas(metricsBefore, await apiserverCounters(), 12);
  // A step lasts from reaching it (the first from the app's apply) to reaching the next one, the last until
  // the steps are completed; finalising (the workload's own rolling update, the canary removed) comes after.
  const stepDurations = [...transitions].flatMap(([name, t]) => {
    const marks = [appliedAt.get(name)!, ...t.slice(2, completed + 1)];
    return marks.slice(1).map((at, i) => at - marks[i]!);
  });
  const slowestStep = Math.max(...stepDurations);
  const slowestFinalising = Math.max(...[...transitions.values()].map((t) => t[healthy]! - t[completed]!));
  // Of finalising, what the controller adds after the workload's own rolling update is done.
  const afterWorkload = names.map((n) => transitions.get(n)![healthy]! - workloadDone.get(n)!);
  const requestsPerStep = (last.requests - before.requests) / (scale * scaleSteps);

  stopControllers();
  const peakRssMiB = peakRss / 2 ** 20;
  return {
    line: [
      `${scale} Deployments rolling to a new image by themselves, all at once: slowest ${ms(nativeSlowest)}, all ` +
        `done ${ms(nativeAll)}`,
      `${scale} releases at once: peak RSS ${peakRssMiB.toFixed(0)} MiB (target <= 250; ` +
        `${(idleRss / 2 ** 20).toFixed(0)} MiB before), ${requestsPerStep.toFixed(1)} API requests per step, ` +
        `slowest step ${ms(slowestStep)} (target <= 5000), slowest finalising ${ms(slowestFinalising)} (Healthy ` +
        `after the workload's own rolling update: median ${ms(median(afterWorkload))}, max ` +
        `${ms(Math.max(...afterWorkload))}), all done ${ms(total)} (writing them took ${ms(applied)})`,
      `  slowest step / slowest Deployment rollout alone: ${(slowestStep / nativeSlowest).toFixed(2)}; all done / ` +
        `all rolled out alone: ${(total / nativeAll).toFixed(2)}`,
      `  the API server's work during the releases (requests by verb and resource, watch events by resource):\n${load}`,
    ].join('\n'),
    met: peakRssMiB <= 250 && slowestStep <= 5000,
    figures: {
      scale: {
        releases: scale,
        peakRssMiB,
        idleRssMiB: idleRss / 2 ** 20,
        requestsPerStep,
        slowestStepMs: slowestStep,
        slowestFinalisingMs: slowestFinalising,
        healthyAfterWorkloadMs: { p50: median(afterWorkload), max: Math.max(...afterWorkload) },
        applyAllMs: applied,
        allDoneMs: total,
        slowestPassMs: last.slowestPassMs,
        nativeSlowestMs: nativeSlowest,
        nativeAllDoneMs: nativeAll,
      },
    },
  };
}

const results: PartResult[] = [];
try {
  if (runs('latency')) results.push(await approvalLatency());
  if (runs('release')) results.push(await releaseVsDeployment());
  if (runs('scale')) results.push(await manyReleases());
} finally {
  stopControllers();
  await cluster.stop();
}
console.log(`reconcile benchmark (node ${process.version}, kube-apiserver v1.36.3, kwok nodes)`);
for (const r of results) console.log(r.line);
console.log(JSON.stringify(Object.assign({}, ...results.map((r) => r.figures))));
process.exitCode = results.every((r) => r.met) ? 0 : 1;
