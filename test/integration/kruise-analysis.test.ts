/**
 * Analysis of releases that the real OpenKruise Rollouts controller drives: the kruise engine's Rollout carries its
 * analysis in an annotation, `stepwise controller` (the library's Controller, in this process) checks a real
 * Prometheus at each analyzed step where Kruise waits, and answers with Kruise's protocol: it approves a healthy
 * step, and rolls a failing release back by putting the Deployment back to its stable template.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KRUISE_ANALYSIS_ANNOTATION, KRUISE_ANALYSIS_STATUS_ANNOTATION } from '../../src/appspec/values.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { Controller } from '../../src/reconciler/controller.js';
import { KRUISE_ROLLOUT_REF } from '../../src/reconciler/kruise-analysis.js';
import type { Pod } from '../../src/reconciler/observed.js';
import type { AnalysisStatus, RolloutObject } from '../../src/reconciler/types.js';
import {
  deployed,
  imageOf,
  kubectlApply,
  positionOf,
  rolloutOf,
  synthesizeSources,
  templateImageOf,
  withImage,
  workloadOf,
} from '../support/conformance.js';
import { createNamespace, eventually, explained, useCluster } from '../support/kube.js';
import { IngressMetrics, type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { analyzedCanary } from '../support/release.js';
import { type KruiseController, kruiseLogTail, startKruise } from '../testenv/kruise.js';

const env = useCluster();
const metrics = new IngressMetrics('web');
let prometheus: RunningPrometheus;
let kruise: KruiseController | undefined;
let controller: Controller | undefined;
const log: string[] = [];

before(async () => {
  prometheus = await startPrometheus(await metrics.start());
  await prometheus.scraped(3);
});
// Declared before useCluster's own, so these stop while the API server still answers.
after(async () => {
  await controller?.stop();
  await kruise?.stop();
  await prometheus?.stop();
  await metrics.stop();
});

/** Kruise and the Stepwise controller, started by the first test (node 20 does not await root hooks in order). */
async function running(): Promise<void> {
  kruise ??= await startKruise(env.cluster);
  if (controller) return;
  controller = new Controller(env.client, { log: (line) => log.push(line), resyncMs: 5000 });
  await controller.sync();
  controller.run();
}

/**
 * The canary as the kruise engine writes it: 1 pod with 20% of the traffic, then half with half, each analyzed
 * (checks every 2 s over 10 s of rates) and continuing a second after its analysis passed, then all.
 */
function objects(namespace: string): KubeObject[] {
  const metric = (name: string, template: string, thresholdRange: object) => ({
    name,
    template,
    thresholdRange,
    interval: '10s',
  });
  const analysis = {
    intervalSeconds: 2,
    prometheus: { address: prometheus.address },
    metrics: [
      metric('success', 'request-success-rate', { min: 99 }),
      metric('latency', 'request-duration', { max: 500 }),
    ],
  };
  const steps = [
    { replicas: 1, traffic: '20%', pause: { duration: 0 } },
    { replicas: '50%', traffic: '50%', pause: { duration: 1 } },
    { replicas: '100%', traffic: '100%' },
  ];
  const text = analyzedCanary('example/app:1', analysis, { engine: 'kruise', steps });
  return synthesizeSources([{ file: 'web.yaml', text }], 'kruise', namespace);
}

const recordOf = (r: RolloutObject): AnalysisStatus | undefined => {
  const text = r.metadata.annotations?.[KRUISE_ANALYSIS_STATUS_ANNOTATION];
  return text ? (JSON.parse(text) as AnalysisStatus) : undefined;
};

async function eventsOf(namespace: string) {
  const events = await env.client.list<KubeObject & { reason: string; message: string; involvedObject: object }>({
    apiVersion: 'v1',
    kind: 'Event',
    namespace,
  });
  return events.filter(
    (e) => (e.involvedObject as { apiVersion?: string }).apiVersion === KRUISE_ROLLOUT_REF.apiVersion,
  );
}

/** A failure carries the last log lines of both controllers. */
const explain = <T>(work: Promise<T>) =>
  explained(work, () => `stepwise:\n${log.slice(-20).join('\n')}\nkruise-rollout:\n${kruiseLogTail(kruise!)}`);

/** v1 deployed and v2 applied with kubectl: Kruise's release under Stepwise's analysis. */
async function release(namespace: string): Promise<KubeObject[]> {
  await running();
  metrics.namespace = namespace;
  await createNamespace(env.client, namespace);
  const v1 = objects(namespace);
  assert.ok(rolloutOf(v1).metadata.annotations?.[KRUISE_ANALYSIS_ANNOTATION], 'the analysis is carried');
  await kubectlApply(env.cluster.kubeconfig, v1);
  await explain(deployed(env.client, v1));
  // The new image alone, as a deployer bumping it does: re-applying the Rollout while Kruise starts the release can
  // meet Kruise's webhook mid-transition (it refused the unchanged trafficRoutings as "immutable" once in CI).
  await kubectlApply(env.cluster.kubeconfig, [workloadOf(withImage(v1, 'example/app:2'))]);
  return v1;
}

test('a healthy Kruise release: each analyzed step is approved only after its analysis passed', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  const v1 = await release('kruise-analysis-ok');
  const rollout = rolloutOf(v1);
  // Sampled through the release (from its first step: Kruise turns Progressing before it resets the last release's
  // position): whenever Kruise is at step n > 1, step n - 1 had passed its analysis.
  const left: number[] = [];
  const violations: string[] = [];
  let started = false;
  await explain(
    eventually(
      'the release to complete',
      async () => {
        const p = await positionOf(env.client, rollout);
        const record = recordOf(p.rollout);
        started ||= p.rollout.status?.phase === 'Progressing' && p.step === 1;
        if (started && p.step > 1 && !left.includes(p.step - 1)) {
          const passed = record?.checks.some((c) => c.step === p.step - 1 && c.verdict === 'Passed');
          if (!passed) violations.push(`at step ${p.step} before step ${p.step - 1} passed: ${JSON.stringify(record)}`);
          left.push(p.step - 1);
        }
        return p.done;
      },
      180_000,
    ),
  );
  assert.deepEqual(violations, []);
  assert.deepEqual(left, [1, 2], 'both analyzed steps were passed through in order');
  const done = (await env.client.get<RolloutObject>({
    ...KRUISE_ROLLOUT_REF,
    namespace: 'kruise-analysis-ok',
    name: 'web',
  }))!;
  const checks = recordOf(done)?.checks ?? [];
  assert.deepEqual([...new Set(checks.map((c) => c.step))], [1, 2]);
  assert.ok(
    checks.every((c) => c.verdict === 'Passed'),
    JSON.stringify(checks),
  );
  assert.equal(checks[0]?.metrics[0]?.value, 100);
  const events = await eventsOf('kruise-analysis-ok');
  assert.deepEqual(
    events
      .filter((e) => e.reason === 'StepApproved')
      .map((e) => e.message)
      .sort(),
    ['step 1: analysis passed', 'step 2: analysis passed'],
  );
  assert.ok(events.some((e) => e.reason === 'AnalysisPassed' && /^step 1: success = 100 \(≥ 99\)/.test(e.message)));
});

test('an error spike in a Kruise release rolls the Deployment back to its stable version', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0.5, latencySeconds: 0.05 };
  const namespace = 'kruise-analysis-errors';
  const v1 = await release(namespace);
  const rollout = rolloutOf(v1);
  const workload = workloadOf(v1);
  let furthest = 0;
  let started = false;
  const sample = (p: { rollout: RolloutObject; step: number }) => {
    started ||= p.rollout.status?.phase === 'Progressing' && p.step === 1;
    if (started) furthest = Math.max(furthest, p.step);
  };
  const failed = await explain(
    eventually('the analysis to fail', async () => {
      const p = await positionOf(env.client, rollout);
      sample(p);
      return recordOf(p.rollout)?.failure;
    }),
  );
  assert.match(failed, /^success = (4\d|5\d)(\.\d+)?, below the minimum 99 \(1 failed check at step 1/);
  const selector = Object.entries(workload.spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  await explain(
    eventually(
      'Kruise to finish the rollback: Healthy, template and every pod on v1, no canary Ingress',
      async () => {
        const [p, deployment, pods, canaryIngress] = await Promise.all([
          positionOf(env.client, rollout),
          env.client.get<typeof workload>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'web' }),
          env.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace }, selector),
          env.client.get({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace, name: 'web-canary' }),
        ]);
        sample(p);
        return (
          p.rollout.status?.phase === 'Healthy' &&
          templateImageOf(deployment!) === 'example/app:1' &&
          pods.length === 4 &&
          pods.every((pod) => imageOf(pod) === 'example/app:1') &&
          canaryIngress === undefined
        );
      },
      120_000,
    ),
  );
  assert.equal(furthest, 1, 'Kruise never went past the failing step');
  const events = await eventsOf(namespace);
  assert.ok(events.some((e) => e.reason === 'RollingBack' && e.message.startsWith('analysis failed: success = ')));
  assert.ok(!events.some((e) => e.reason === 'StepApproved'), 'no step was approved');
});

test('an unusable analysis annotation is reported once, and no step is approved', async () => {
  await running();
  const namespace = 'kruise-analysis-invalid';
  await createNamespace(env.client, namespace);
  const v1 = objects(namespace);
  const rollout = rolloutOf(v1);
  const bad = JSON.stringify({
    analysis: { intervalSeconds: 0, metrics: [{ name: 'm', query: 'up{x="{{ nope }}"}' }] },
  });
  rollout.metadata.annotations = { [KRUISE_ANALYSIS_ANNOTATION]: bad };
  await kubectlApply(env.cluster.kubeconfig, v1);
  const problem = await eventually('the problem on record', async () => {
    const r = await env.client.get<RolloutObject>({ ...KRUISE_ROLLOUT_REF, namespace, name: 'web' });
    const text = r?.metadata.annotations?.[KRUISE_ANALYSIS_STATUS_ANNOTATION];
    return text ? (JSON.parse(text) as { problem?: string }).problem : undefined;
  });
  assert.match(problem, /^stepwise\.dev\/analysis is not usable, so no step is analyzed: /);
  assert.match(problem, /analysis\.intervalSeconds: must be at least 1, got 0/);
  assert.match(problem, /metrics\[0\]: missing required field "thresholdRange"/);
  // Two resyncs later (every 5 s), still told once.
  const passes = controller!.stats.passes;
  await eventually('two more resyncs', async () => controller!.stats.passes >= passes + 2 * 3, 30_000);
  const warnings = (await eventsOf(namespace)).filter((e) => e.reason === 'AnalysisInvalid');
  assert.equal(warnings.length, 1);
  assert.equal((await positionOf(env.client, rollout)).rollout.status?.phase, 'Healthy', 'nothing was released');
});
