/**
 * The kruise engine's output run by the real OpenKruise Rollouts controller: every example synthesized with
 * `--engine kruise`, applied with kubectl, given a new image and released to the end, with each pause that waits
 * for a person approved by kubectl-kruise's status patch. Whatever Kruise refuses or mis-executes is a bug in
 * the engine.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isReady, type Pod, type Workload } from '../../src/reconciler/observed.js';
import {
  deployed,
  imageOf,
  kubectlApply,
  manualSteps,
  releaseToEnd,
  rolloutOf,
  type Scenario,
  synthesize,
  withImage,
  workloadOf,
} from '../support/conformance.js';
import { createNamespace, eventually, explained, useCluster } from '../support/kube.js';
import { type KruiseController, kruiseLogTail, startKruise } from '../testenv/kruise.js';

// Stopped before the cluster (root `after` hooks run in the order they are declared), so it does not spend its last
// seconds retrying against a stopped API server. Started by the test itself: node 20 starts root `before` hooks
// without waiting for the ones declared before them, so a hook could not wait for useCluster's.
let kruise: KruiseController | undefined;
after(() => kruise?.stop());
const env = useCluster();

/** Timed pauses of seconds instead of minutes: the release still waits them out, no approval skips them. */
const shortPauses = (text: string) => text.replace(/pause: \{duration: \d+\}/g, 'pause: {duration: 2}');
/** The app as a StatefulSet, whose routing steps may update at most half of the pods in place. */
const asStatefulSet = (text: string) =>
  text
    .replace('  workload:\n', '  workload:\n    kind: StatefulSet\n')
    .replace(
      / {4}steps:\n( {6}- .*\n)+/,
      [
        '    steps:',
        '      - {replicas: 1, traffic: 10%, pause: {}}',
        '      - {replicas: 50%, traffic: 50%}',
        '      - {replicas: 100%}\n',
      ].join('\n'),
    );

const SCENARIOS: (Scenario & { readonly namespace: string; readonly image: string })[] = [
  {
    name: 'the seed blue-green release on nginx',
    namespace: 'blue-green',
    files: ['examples/blue-green.yaml'],
    image: 'cilium/echoserver:1.10.4',
  },
  {
    name: 'a canary on a Gateway API HTTPRoute with timed pauses',
    namespace: 'canary-gateway',
    files: ['examples/canary-gateway.yaml'],
    edit: shortPauses,
    image: 'ghcr.io/example/storefront:2.5.0',
  },
  {
    name: 'a canary on nginx in weight steps, from layered config',
    namespace: 'layers',
    files: ['examples/layers/base.yaml', 'examples/layers/prod.yaml'],
    image: 'ghcr.io/example/api:1.9.0',
  },
  {
    name: 'an A/B test by header and cookie on nginx',
    namespace: 'ab-test',
    files: ['examples/ab-test.yaml'],
    image: 'ghcr.io/example/checkout:3.2.0',
  },
  {
    name: 'a StatefulSet canary through its partition, on an HTTPRoute',
    namespace: 'statefulset',
    files: ['examples/canary-gateway.yaml'],
    edit: asStatefulSet,
    image: 'ghcr.io/example/storefront:2.5.0',
  },
];

/** A failure carries the controller's last log lines, which say why it did not move. */
const withLog = <T>(work: Promise<T>) =>
  explained(work, () => `kruise-rollout's last log lines:\n${kruiseLogTail(kruise!)}`);

test('every example synthesized for the kruise engine runs to the end on the real Kruise controller', {
  concurrency: true,
}, async (t) => {
  const { client, cluster } = env;
  kruise = await startKruise(cluster);
  // Side by side, as releases of different teams run on one controller.
  const releases = SCENARIOS.map((scenario) =>
    t.test(scenario.name, async () => {
      await createNamespace(client, scenario.namespace);
      const v1 = synthesize(scenario, 'kruise', scenario.namespace);
      await kubectlApply(cluster.kubeconfig, v1);
      await withLog(deployed(client, v1));
      const workload = workloadOf(v1);

      await kubectlApply(cluster.kubeconfig, withImage(v1, scenario.image));
      const approved = await withLog(releaseToEnd(client, rolloutOf(v1), 180_000));
      assert.deepEqual(
        approved,
        manualSteps(rolloutOf(v1)),
        'paused for approval exactly where the plan says, in order',
      );

      const selector = Object.entries(workload.spec.selector?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      await withLog(
        eventually(
          `${workload.spec.replicas} Ready pods, all on ${scenario.image}, the canary workload gone`,
          async () => {
            const [pods, workloads] = await Promise.all([
              client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: scenario.namespace }, selector),
              client.list<Workload>({ apiVersion: 'apps/v1', kind: workload.kind, namespace: scenario.namespace }),
            ]);
            return (
              pods.length === workload.spec.replicas &&
              pods.every((p) => imageOf(p) === scenario.image && isReady(p)) &&
              workloads.length === 1
            );
          },
          60_000,
        ),
      );
    }),
  );
  await Promise.all(releases);
});
