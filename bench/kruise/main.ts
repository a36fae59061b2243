/**
 * Stepwise against the real OpenKruise Rollouts controller, on one test control plane: the seed blue-green
 * release (examples/blue-green.yaml, 5 replicas, three approval pauses, grace period 3 s) from `kubectl apply` of
 * the new image to `Healthy` with `Succeeded=True`, each approval sent the moment its pause is seen through a
 * watch. Runs alternate between the engines, each in a fresh namespace, so both meet the same machine.
 *
 *   npm run bench:kruise            # 3 runs each; exits 1 if the median ratio misses the target (≤ 0.6)
 *   node dist/bench/kruise/main.js 5
 */
import { performance } from 'node:perf_hooks';
import type { Engine } from '../../src/appspec/types.js';
import { KubeClient } from '../../src/k8s/client.js';
import { Informer } from '../../src/k8s/informer.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import {
  approve,
  awaitsApproval,
  deployed,
  kubectlApply,
  positionIn,
  rolloutOf,
  synthesize,
  withImage,
} from '../../test/support/conformance.js';
import { createNamespace } from '../../test/support/kube.js';
import { installWithWebhook, startController } from '../../test/support/processes.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { startKruise } from '../../test/testenv/kruise.js';
import { freePorts } from '../../test/testenv/process.js';
import { median } from '../stats.js';

const RUNS = Number(process.argv[2] ?? 3);
const TARGET = 0.6;
const SEED = { name: 'seed', files: ['examples/blue-green.yaml'] };
const V2 = 'cilium/echoserver:1.10.4';

const cluster = await startCluster({ log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const [webhookPort] = (await freePorts(1)) as [number];
const site = { kubeconfig: cluster.kubeconfig, namespace: 'stepwise-system', webhookPort };
await createNamespace(client, site.namespace);
installWithWebhook(site);
const [kruise, controller] = await Promise.all([startKruise(cluster, { log: () => {} }), startController(site)]);

/**
 * One release of the seed under `engine`: milliseconds from the apply of the new image to success. Approvals go
 * out on every watch event that shows a pause waiting (Kruise can overwrite an early one; the patch is conditional).
 */
async function release(engine: Engine, run: number): Promise<number> {
  const namespace = `${engine}-${run}`;
  await createNamespace(client, namespace);
  const objects = synthesize(SEED, engine, namespace);
  await kubectlApply(cluster.kubeconfig, objects);
  await deployed(client, objects);
  const declared = rolloutOf(objects);
  let succeeded!: (at: number) => void;
  const done = new Promise<number>((r) => {
    succeeded = r;
  });
  const { apiVersion, kind } = declared;
  const informer = new Informer(client, { apiVersion, kind, namespace }, (_type, object) => {
    const rollout = object as RolloutObject;
    if (rollout.metadata.name !== declared.metadata.name) return;
    const p = positionIn(rollout);
    if (p.done) succeeded(performance.now());
    else if (awaitsApproval(p)) void approve(client, p).catch(() => {});
  });
  await informer.start();
  const t0 = performance.now();
  await kubectlApply(cluster.kubeconfig, withImage(objects, V2));
  const timeout = setTimeout(() => succeeded(Number.NaN), 300_000);
  const at = await done;
  clearTimeout(timeout);
  informer.stop();
  if (Number.isNaN(at)) throw new Error(`${engine} release ${run} did not succeed within 300 s`);
  return at - t0;
}

const times: Record<Engine, number[]> = { builtin: [], kruise: [] };
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const engine of ['builtin', 'kruise'] as const) {
      const ms = await release(engine, run);
      times[engine].push(ms);
      process.stderr.write(`run ${run} ${engine}: ${(ms / 1000).toFixed(1)} s\n`);
    }
  }
} finally {
  await Promise.all([kruise.stop(), controller.stop()]);
  await cluster.stop();
}
const ratio = median(times.builtin) / median(times.kruise);
const seconds = (xs: number[]) => xs.map((ms) => (ms / 1000).toFixed(1)).join(', ');
console.log(`seed blue-green release, image change to Healthy (${RUNS} runs each, alternating):
  builtin (stepwise controller): ${seconds(times.builtin)} s; median ${(median(times.builtin) / 1000).toFixed(1)} s
  kruise-rollout v0.6.2:         ${seconds(times.kruise)} s; median ${(median(times.kruise) / 1000).toFixed(1)} s
  ratio builtin / kruise: ${ratio.toFixed(2)} (target ≤ ${TARGET})`);
if (!(ratio <= TARGET)) process.exitCode = 1;
