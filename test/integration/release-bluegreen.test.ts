import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Informer } from '../../src/k8s/informer.js';
import type { Action } from '../../src/reconciler/actions.js';
import type { Workload } from '../../src/reconciler/observed.js';
import { ROLLOUT_REF } from '../../src/reconciler/observe.js';
import { runRelease } from '../../src/reconciler/run.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { stepwise } from '../support/cli.js';
import { appliesWritten, eventually, useCluster } from '../support/kube.js';
import { echoserver, ReleaseHarness, timedBlueGreen } from '../support/release.js';
import { ensureControlPlane } from '../testenv/build.js';

const env = useCluster();

const V1 = 'cilium/echoserver:1.10.3';
const V2 = 'cilium/echoserver:1.10.4';

async function deployed(namespace: string): Promise<ReleaseHarness> {
  const h = await ReleaseHarness.deployed(env.client, namespace, echoserver(V1));
  return h;
}

test('the seed blue-green release: pods, Services, canary Ingress and status at each step and the end', async () => {
  const h = await deployed('seed');
  const v1 = Object.keys(await h.podsByRevision())[0]!;
  assert.deepEqual(await h.apply(echoserver(V2)), { release: true, rollback: false });
  const deployment = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
  assert.equal(deployment.spec.paused, true, 'the native controller does not roll ahead');

  // Step 1: 100% of new pods beside the old ones, no traffic.
  let rollout = await h.run();
  let sub = await h.sub();
  assert.deepEqual(
    [rollout.status?.phase, sub.currentStepIndex, sub.currentStepState, sub.nextStepIndex],
    ['Progressing', 1, 'StepPaused', 2],
  );
  const v2 = sub.podTemplateHash;
  assert.notEqual(v2, v1);
  assert.deepEqual(await h.podsByRevision(), { [v1]: 5, [v2]: 5 });
  assert.deepEqual(await h.selector('echoserver-service'), {
    'app.kubernetes.io/name': 'echoserver',
    'pod-template-hash': v1,
  });
  assert.deepEqual(await h.selector('echoserver-service-canary'), {
    'app.kubernetes.io/name': 'echoserver',
    'pod-template-hash': v2,
  });
  assert.equal(await h.annotations('echoserver-ingress-canary'), undefined, 'no canary Ingress for 0% traffic');
  assert.equal(sub.stableRevision, v1);
  const stored = rollout.status?.blueGreenStatus;
  assert.deepEqual(
    [stored?.updatedRevision, stored?.updatedReplicas, stored?.updatedReadyReplicas],
    [sub.canaryRevision, 5, 5],
    "OpenKruise's BlueGreenStatus names",
  );
  assert.deepEqual(
    Object.keys(stored ?? {}).filter((k) => k.startsWith('canary')),
    [],
  );
  assert.equal(rollout.status?.currentStepState, 'StepPaused', 'the top-level mirror kubectl shows');
  const batches = (await h.pods(`pod-template-hash=${v2}`)).map((p) => [
    p.metadata.labels?.['stepwise.dev/rollout-batch-id'],
    p.metadata.labels?.['stepwise.dev/rollout-id'],
  ]);
  assert.deepEqual(batches, Array(5).fill(['1', sub.observedRolloutID]), 'every new pod carries its batch');
  const blueGreen = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
  assert.deepEqual(
    [blueGreen.spec.paused ?? false, blueGreen.spec.minReadySeconds, blueGreen.spec.strategy?.rollingUpdate],
    [false, 2147483646, { maxSurge: '100%', maxUnavailable: 0 }],
  );

  // Step 2: 10% of traffic.
  await h.promote();
  rollout = await h.run();
  sub = await h.sub();
  assert.deepEqual([sub.currentStepIndex, sub.currentStepState, sub.nextStepIndex], [2, 'StepPaused', 3]);
  assert.deepEqual(await h.podsByRevision(), { [v1]: 5, [v2]: 5 }, 'old pods are never scaled down during the steps');
  const canaryIngress = (await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'))!;
  assert.equal(canaryIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/canary'], 'true');
  assert.equal(canaryIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '10');
  assert.equal((canaryIngress.spec as any).rules[0].http.paths[0].backend.service.name, 'echoserver-service-canary');

  // Step 3: all traffic.
  await h.promote();
  await h.run();
  sub = await h.sub();
  assert.deepEqual([sub.currentStepIndex, sub.currentStepState, sub.nextStepIndex], [3, 'StepPaused', -1]);
  assert.equal(
    (await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'],
    '100',
  );

  // Done: 5 new pods, canary objects gone, stable Service unpinned, the Deployment's own settings back.
  await h.promote();
  rollout = await h.run('done');
  assert.equal(rollout.status?.phase, 'Healthy');
  assert.deepEqual(rollout.status?.conditions?.map((c) => [c.type, c.status, c.reason]).sort(), [
    ['Progressing', 'False', 'Completed'],
    ['Succeeded', 'True', ''],
  ]);
  assert.deepEqual(await h.podsByRevision(), { [v2]: 5 });
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
  assert.deepEqual(await h.selector('echoserver-service'), { 'app.kubernetes.io/name': 'echoserver' });
  assert.deepEqual(
    await h.selector('echoserver-service-canary'),
    { 'app.kubernetes.io/name': 'echoserver' },
    'the declared canary Service is kept, narrowed no more',
  );
  const restored = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
  assert.equal(restored.spec.paused, undefined);
  assert.equal(restored.spec.minReadySeconds ?? 0, 0);
  assert.equal(restored.spec.progressDeadlineSeconds, 600);
  assert.deepEqual(restored.spec.strategy?.rollingUpdate, { maxSurge: '25%', maxUnavailable: '25%' });
  assert.deepEqual(
    Object.keys(restored.metadata.annotations ?? {}).filter((k) => k.startsWith('stepwise.dev/')),
    [],
  );
  assert.equal(restored.metadata.labels?.['stepwise.dev/stable-revision'], undefined);
  const reasons = (await h.events()).map((e) => e.reason);
  assert.ok(reasons.includes('StepPaused') && reasons.includes('RolloutHealthy'), reasons.join());
});

test('approval by a plain `kubectl patch --subresource=status` works like stepwise promote', async () => {
  const h = await deployed('kubectl-approval');
  await h.apply(echoserver(V2));
  await h.run();
  assert.deepEqual([(await h.sub()).currentStepIndex, (await h.sub()).currentStepState], [1, 'StepPaused']);
  const { bin } = await ensureControlPlane();
  const out = execFileSync(
    `${bin}/kubectl`,
    [
      '--kubeconfig',
      env.cluster.kubeconfig,
      '-n',
      'kubectl-approval',
      'patch',
      'rollout.stepwise.dev',
      'echoserver',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"blueGreenStatus":{"currentStepState":"StepReady"}}}',
    ],
    { encoding: 'utf8' },
  );
  assert.match(out, /rollout\.stepwise\.dev\/echoserver patched/);
  await h.run();
  assert.deepEqual([(await h.sub()).currentStepIndex, (await h.sub()).currentStepState], [2, 'StepPaused']);
  assert.equal((await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'], '10');
  // kubectl sees the printer columns the way kubectl-kruise users expect.
  const table = execFileSync(
    `${bin}/kubectl`,
    ['--kubeconfig', env.cluster.kubeconfig, '-n', 'kubectl-approval', 'get', 'rollout.stepwise.dev'],
    { encoding: 'utf8' },
  );
  assert.match(
    table,
    /^echoserver\s+Progressing\s+2\s+StepPaused\s+Rollout is in step\(2\/3\), and you need manually confirm to enter/m,
  );
});

test('stepwise install, status -o json and promote --full (a jump to the last step) through the CLI', async () => {
  const cli = (...args: string[]) => stepwise([...args, '--kubeconfig', env.cluster.kubeconfig]);
  const rbacFile = `${env.cluster.state.runDir}/rbac.yaml`;
  const applies = await appliesWritten(env.client);
  const install = cli('install', '-n', 'cli', '--rbac-out', rbacFile);
  assert.equal(install.status, 1, 'the namespace does not exist yet');
  assert.match(install.stderr, /namespaces "cli" not found\nnothing was applied/);
  assert.equal(await appliesWritten(env.client), applies, 'not even the cluster-scoped objects');
  const h = await deployed('cli');
  const installed = cli('install', '-n', 'cli', '--rbac-out', rbacFile);
  assert.equal(installed.status, 0, installed.stderr);
  // The test cluster installed the CRD already, as `stepwise install` does.
  assert.match(installed.stdout, /^CustomResourceDefinition\/rollouts\.stepwise\.dev unchanged$/m);
  assert.match(installed.stdout, /^ClusterRole\/stepwise-reconciler created$/m);
  const again = cli('install', '-n', 'cli', '--rbac-out', rbacFile);
  assert.deepEqual(
    again.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1]),
    installed.stdout
      .trim()
      .split('\n')
      .map(() => 'unchanged'),
  );
  assert.match(readFileSync(rbacFile, 'utf8'), /kind: ClusterRoleBinding/);
  await h.apply(echoserver(V2));
  await h.run();
  const status = JSON.parse(cli('status', 'echoserver', '-n', 'cli', '-o', 'json').stdout);
  assert.deepEqual(
    [
      status.phase,
      status.step,
      status.steps,
      status.state,
      status.canary.ready,
      status.stable.ready,
      status.traffic.weight,
    ],
    ['Progressing', 1, 3, 'StepPaused', 5, 5, 0],
  );
  const full = cli('promote', 'echoserver', '-n', 'cli', '--full');
  assert.equal(full.status, 0, full.stderr);
  await h.run();
  assert.deepEqual(
    [(await h.sub()).currentStepIndex, (await h.sub()).currentStepState],
    [3, 'StepPaused'],
    'jumped over step 2',
  );
  assert.equal(
    (await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'],
    '100',
  );
  const notPaused = cli('promote', 'nope', '-n', 'cli');
  assert.equal(notPaused.status, 1);
  assert.match(notPaused.stderr, /Rollout cli\/nope not found/);
});

test('with no pauses or grace periods, stages run back to back in a few passes, every step on record', async () => {
  const spec = (image: string) => timedBlueGreen(image, [0, 0, 0]);
  const h = await ReleaseHarness.deployed(env.client, 'back-to-back', spec(V1));
  const recorded: string[] = [];
  const rollouts = new Informer(env.client, { ...ROLLOUT_REF, namespace: h.namespace }, (_type, o) => {
    const r = o as RolloutObject;
    const sub = r.status?.blueGreenStatus;
    const at = r.status?.phase === 'Progressing' && sub ? `step ${sub.currentStepIndex}` : (r.status?.phase ?? '');
    if (recorded[recorded.length - 1] !== at) recorded.push(at);
  });
  await rollouts.start();
  try {
    await h.apply(spec(V2));
    const writing: Action[][] = [];
    await runRelease(env.client, h.namespace, h.name, {
      until: 'done',
      pollMs: 100,
      onPass: (p) => {
        if (p.actions.some((a) => !a.background)) writing.push(p.actions);
      },
    });
    // One stage per pass would take a pass for each of pin, surge, canary Service, three routes, unpin, resume,
    // and the three closing writes; chained, they come in three runs: up to the surge, up to the resume
    // (waiting for the old pods to go), and the end.
    assert.ok(
      writing.length <= 4,
      `${writing.length} passes wrote: ${JSON.stringify(writing.map((w) => w.map((a) => a.why)))}`,
    );
    await eventually('the end is seen', async () => recorded.at(-1) === 'Healthy');
    assert.deepEqual(
      recorded.filter((r) => r.startsWith('step')),
      ['step 1', 'step 2', 'step 3'],
      recorded.join(' → '),
    );
  } finally {
    rollouts.stop();
  }
  assert.deepEqual(Object.values(await h.podsByRevision()), [5]);
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
});
