/**
 * The builtin engine against the real OpenKruise controller: one app released under both, applied and approved
 * the same way (kubectl, kubectl-kruise's status patch), compared at every pause, at the end and after a rollback
 * at step 2. Anything observable that differs and is not an intended difference (`../support/differences.ts`,
 * mirrored in the README) fails, naming the field, the stage and both values.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Engine } from '../../src/appspec/types.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { isReady, type Pod } from '../../src/reconciler/observed.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import {
  approveUntilMoved,
  awaitsApproval,
  deployed,
  imageOf,
  kubectlApply,
  type Position,
  positionOf,
  releaseEnded,
  rolloutOf,
  type Scenario,
  synthesize,
  templateImageOf,
  withImage,
  workloadOf,
} from '../support/conformance.js';
import { type Divergence, describe, divergences, observe, type Versions } from '../support/differential.js';
import { DIFFERENCES, type Difference, intended } from '../support/differences.js';
import { createNamespace, eventually, explained, useCluster } from '../support/kube.js';
import { freePorts } from '../testenv/process.js';
import { installWithWebhook, type StepwiseProcess, startController } from '../support/processes.js';
import { type KruiseController, kruiseLogTail, startKruise } from '../testenv/kruise.js';

let kruise: KruiseController | undefined;
let controller: StepwiseProcess | undefined;
after(() => Promise.all([kruise?.stop(), controller?.stop()]));
const env = useCluster();

const ENGINES: readonly Engine[] = ['kruise', 'builtin'];
/** Every pause waits for approval, so both releases can be held at the same point and compared. */
const approvedPauses = (text: string) => text.replace(/pause: \{duration: \d+\}/g, 'pause: {}');

const SCENARIOS: (Scenario & { readonly slug: string; readonly image: string })[] = [
  {
    name: 'the seed blue-green release on nginx',
    slug: 'seed',
    files: ['examples/blue-green.yaml'],
    image: 'cilium/echoserver:1.10.4',
  },
  {
    name: 'a canary on a Gateway API HTTPRoute',
    slug: 'gateway',
    files: ['examples/canary-gateway.yaml'],
    edit: approvedPauses,
    image: 'ghcr.io/example/storefront:2.5.0',
  },
];

/** One engine's copy of the app, in its own namespace. */
interface Side {
  readonly engine: Engine;
  readonly objects: KubeObject[];
  readonly rollout: RolloutObject;
}

const used = new Set<Difference>();

/** Fails with every divergence no intended difference explains; records the intended ones seen. */
function assertConformant(found: readonly Divergence[]): void {
  const unexplained = found.filter((d) => {
    const difference = intended(d.stage, d.field);
    if (difference) used.add(difference);
    return !difference;
  });
  assert.deepEqual(unexplained.map(describe), [], 'observable state differs from OpenKruise');
}

/** A failure carries the controllers' last log lines, which say why a release did not move. */
const withLogs = <T>(work: Promise<T>) =>
  explained(work, () => `kruise-rollout:\n${kruiseLogTail(kruise!)}\nstepwise:\n${controller?.log.slice(-3000)}`);

/**
 * The pause has been taken up: the Rollout says it waits for confirmation. Kruise enters the pause state in one
 * pass and writes its message in the next, so for a moment it still says the step is upgrading.
 */
const saysItWaits = (p: Position) => p.rollout.status?.message?.includes('you need manually confirm') ?? false;

/** The finalising stages a release is seen to pass through, in order, sampled every 100 ms until stopped. */
class FinishingOrder {
  private readonly stages: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(rollout: RolloutObject) {
    this.done = (async () => {
      while (this.running) {
        const seen = (await positionOf(env.client, rollout).catch(() => undefined))?.rollout.status;
        const stage = (seen?.canaryStatus ?? seen?.blueGreenStatus)?.finalisingStep;
        if (stage && this.stages.at(-1) !== stage) this.stages.push(stage);
        await new Promise((r) => setTimeout(r, 100).unref());
      }
    })();
  }

  async stop(): Promise<string> {
    this.running = false;
    await this.done;
    return this.stages.join(', ');
  }
}

async function stopped(side: Side, image: string, pauses: boolean): Promise<Position> {
  const { client } = env;
  const replicas = workloadOf(side.objects).spec.replicas;
  const what = pauses ? 'a pause that waits for approval, or the end' : 'the end';
  return eventually(
    `${side.engine}: ${what}, with ${replicas} Ready pods on ${image}`,
    async () => {
      const p = await positionOf(client, side.rollout);
      if (pauses && awaitsApproval(p)) return saysItWaits(p) && p;
      if (!releaseEnded(p)) return undefined;
      const pods = await client.list<Pod>({
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: side.rollout.metadata.namespace,
      });
      const settled = pods.length === replicas && pods.every((q) => imageOf(q) === image && isReady(q));
      return settled && p;
    },
    120_000,
  );
}

/**
 * Releases the scenario's new image under both engines side by side, comparing them at each stage; with
 * `rollbackAt`, re-applies the first version at that pause. Returns what differed.
 */
async function compare(scenario: (typeof SCENARIOS)[number], rollbackAt?: number): Promise<Divergence[]> {
  const { client, cluster } = env;
  const mode = rollbackAt ? 'rollback' : 'end';
  const sides: Side[] = [];
  for (const engine of ENGINES) {
    const namespace = `${scenario.slug}-${mode}-${engine}`;
    await createNamespace(client, namespace);
    const objects = synthesize(scenario, engine, namespace);
    sides.push({ engine, objects, rollout: rolloutOf(objects) });
  }
  await Promise.all(sides.map((s) => kubectlApply(cluster.kubeconfig, s.objects)));
  await Promise.all(sides.map((s) => deployed(client, s.objects)));
  const first = templateImageOf(workloadOf(sides[0]!.objects))!;
  const versions: Versions = { [first]: 'v1', [scenario.image]: 'v2' };
  const observeAll = async (stage: string) => {
    const [k, b] = await Promise.all(sides.map((s) => observe(client, s.rollout, versions)));
    return divergences(stage, k!, b!);
  };

  await Promise.all(sides.map((s) => kubectlApply(cluster.kubeconfig, withImage(s.objects, scenario.image))));
  const finishing = sides.map((s) => new FinishingOrder(s.rollout));
  const found: Divergence[] = [];
  for (;;) {
    const positions = await Promise.all(sides.map((s) => stopped(s, scenario.image, true)));
    const [k] = positions as [Position, Position];
    const stage = releaseEnded(k) ? 'end' : `step ${k.step} paused`;
    found.push(...(await observeAll(stage)));
    if (positions.some(releaseEnded)) {
      const [kruiseOrder, builtinOrder] = await Promise.all(finishing.map((f) => f.stop()));
      return [...found, ...divergences('end', { finishing: kruiseOrder! }, { finishing: builtinOrder! })];
    }
    if (k.step === rollbackAt) break;
    await Promise.all(positions.map((p) => approveUntilMoved(env.client, p)));
  }
  await Promise.all(finishing.map((f) => f.stop()));
  await Promise.all(sides.map((s) => kubectlApply(cluster.kubeconfig, s.objects)));
  await Promise.all(sides.map((s) => stopped(s, first, false)));
  found.push(...(await observeAll('rolled back')));
  return found;
}

test('both engines run each release alike: at every pause, at the end, and rolled back at step 2', {
  concurrency: true,
}, async (t) => {
  const { cluster } = env;
  const [webhookPort] = (await freePorts(1)) as [number];
  const site = { kubeconfig: cluster.kubeconfig, namespace: 'stepwise-system', webhookPort };
  await createNamespace(env.client, site.namespace);
  installWithWebhook(site);
  [kruise, controller] = await Promise.all([startKruise(cluster), startController(site)]);
  const runs = SCENARIOS.flatMap((scenario) => [
    t.test(`${scenario.name}, to the end`, async () => assertConformant(await withLogs(compare(scenario)))),
    t.test(`${scenario.name}, rolled back at step 2`, async () =>
      assertConformant(await withLogs(compare(scenario, 2))),
    ),
  ]);
  await Promise.all(runs);
});

test('every intended difference in the allow-list was observed (the list holds nothing stale)', () => {
  assert.deepEqual(
    DIFFERENCES.filter((d) => !used.has(d)).map((d) => d.title),
    [],
  );
});
