import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comparableTemplate, type Workload } from '../../src/reconciler/observed.js';
import { reconcileOnce } from '../../src/reconciler/run.js';
import { stepwise } from '../support/cli.js';
import { eventually, useCluster } from '../support/kube.js';
import { echoserver, ReleaseHarness } from '../support/release.js';
import { rollbackOrder, sampled } from '../support/sample.js';
import { NEVER_READY_LABEL } from '../testenv/cluster.js';

const env = useCluster();

const image = async (h: ReleaseHarness) =>
  (
    (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!.spec.template.spec as {
      containers: { image: string }[];
    }
  ).containers[0]!.image;

async function atStep2(namespace: string, spec: (image: string) => string): Promise<{ h: ReleaseHarness; v1: string }> {
  const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
  const v1 = Object.keys(await h.podsByRevision())[0]!;
  await h.apply(spec('example/app:2'));
  await h.run();
  await h.promote();
  await h.run();
  assert.deepEqual([(await h.sub()).currentStepIndex, (await h.sub()).currentStepState], [2, 'StepPaused']);
  return { h, v1 };
}

async function assertRolledBack(h: ReleaseHarness, v1: string): Promise<void> {
  const rollout = await h.run('done');
  assert.equal(rollout.status?.phase, 'Healthy');
  assert.deepEqual(rollout.status?.conditions?.map((c) => [c.type, c.status]).sort(), [
    ['Progressing', 'False'],
    ['Succeeded', 'False'],
  ]);
  assert.equal(await image(h), 'example/app:1', 'the workload template is back at the stable version');
  await eventually(
    'only stable pods',
    async () => JSON.stringify(await h.podsByRevision()) === JSON.stringify({ [v1]: 5 }),
  );
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
  assert.deepEqual(await h.selector('echoserver-service'), { 'app.kubernetes.io/name': 'echoserver' });
  const d = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
  assert.equal(d.spec.paused, undefined);
  assert.deepEqual(
    Object.keys(d.metadata.annotations ?? {}).filter((k) => k.startsWith('stepwise.dev/')),
    [],
  );
}

/** A controller seen leading in `namespace`: its Lease, renewed just now by `holder`. */
async function leading(namespace: string, holder: string): Promise<void> {
  const renewTime = new Date().toISOString().replace('Z', '000Z');
  await env.client.apply({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'stepwise-controller', namespace },
    spec: { holderIdentity: holder, leaseDurationSeconds: 60, renewTime },
  });
}

test('abort at step 2: traffic back on stable at once, then new pods gone and the workload restored', async () => {
  const { h, v1 } = await atStep2('abort', (i) => echoserver(i));
  assert.equal((await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'], '10');
  // A controller leads: the CLI asks, and the controller's next pass (run here) carries it out.
  await leading('abort', 'elsewhere');
  const r = stepwise(['abort', 'echoserver', '-n', 'abort', '--kubeconfig', env.cluster.kubeconfig]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /the controller elsewhere \(Lease abort\/stepwise-controller\) carries it out/);
  assert.equal(
    (await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'],
    '10',
    'the CLI left it to the controller',
  );
  // The first pass after the abort takes all traffic off the new version.
  await reconcileOnce(env.client, 'abort', 'echoserver');
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
  // Still finishing the rollback, or (with instant pods and no grace period) already done within that pass.
  const conditions = (await h.rollout()).status?.conditions ?? [];
  const reason = conditions.find((c) => c.type === 'Progressing')?.reason;
  assert.ok(
    reason === 'Cancelling' ||
      (reason === 'Completed' && conditions.some((c) => c.type === 'Succeeded' && c.status === 'False')),
    JSON.stringify(conditions),
  );
  await assertRolledBack(h, v1);
  assert.equal(
    (await h.rollout()).metadata.annotations?.['stepwise.dev/abort'],
    undefined,
    'the abort request is cleared',
  );
});

test('with no controller holding the Lease, abort carries the rollback out itself before it returns', async () => {
  const { h, v1 } = await atStep2('abort-alone', (i) => echoserver(i));
  const r = stepwise(['abort', 'echoserver', '-n', 'abort-alone', '--kubeconfig', env.cluster.kubeconfig]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^no controller holds the Lease abort-alone\/stepwise-controller: carrying it out from here$/m,
  );
  assert.match(r.stdout, /abort-alone\/echoserver: Healthy/);
  // Done when the command returned: no canary Ingress, the release cancelled, only stable pods.
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
  assert.equal((await h.rollout()).status?.phase, 'Healthy');
  await assertRolledBack(h, v1);
});

test('undo at step 2 (a canary on an HTTPRoute): the template goes back and the release is cancelled', async () => {
  const { h, v1 } = await atStep2('undo', (i) =>
    echoserver(i, {
      route: '    gateway: {name: echoserver-route, parentRefs: [{name: public}]}',
      rollout:
        '    strategy: canary\n    gracePeriodSeconds: 0\n    steps: [{replicas: 20%, traffic: 20%}, {replicas: ' +
        '40%, traffic: 40%}, {replicas: 100%, traffic: 100%}]',
    }),
  );
  const r = stepwise(['undo', 'echoserver', '-n', 'undo', '--kubeconfig', env.cluster.kubeconfig]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Deployment/echoserver: template back at ${v1}`));
  const rollout = await h.run('done');
  assert.equal(rollout.status?.conditions?.find((c) => c.type === 'Succeeded')?.status, 'False');
  const rules = ((await h.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'echoserver-route'))!.spec as any).rules;
  assert.deepEqual(
    rules.map((x: any) => x.backendRefs.map((b: any) => b.name)),
    [['echoserver-service']],
  );
  assert.equal(await h.get('apps/v1', 'Deployment', 'echoserver-canary'), undefined);
  await assertRolledBack(h, v1);
});

test('a version whose pods never turn Ready is rolled back at the deadline, and never gets traffic', async () => {
  const spec = (i: string) =>
    echoserver(i, {
      workloadExtra: i.endsWith(':2') ? `\n    podLabels: {${NEVER_READY_LABEL}: "true"}` : '',
      rollout:
        '    strategy: canary\n    gracePeriodSeconds: 0\n    progressDeadlineSeconds: 3\n    steps: [{replicas: ' +
        '40%, traffic: 40%}, {replicas: 100%, traffic: 100%}]',
    });
  const h = await ReleaseHarness.deployed(env.client, 'deadline', spec('example/app:1'));
  const v1 = Object.keys(await h.podsByRevision())[0]!;
  await h.apply(spec('example/app:2'));
  let sawCanaryIngress = false;
  const started = Date.now();
  const watcher = setInterval(async () => {
    if (await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary').catch(() => undefined))
      sawCanaryIngress = true;
  }, 100);
  try {
    const rollout = await h.run('done');
    assert.ok(Date.now() - started >= 3000, 'held until the deadline');
    assert.equal(rollout.status?.conditions?.find((c) => c.type === 'Succeeded')?.status, 'False');
    const reasons = await h.events();
    assert.ok(
      reasons.some(
        (e) =>
          e.reason === 'RollingBack' && /not Ready within progressDeadlineSeconds \(3 s\): 0\/2 Ready/.test(e.message),
      ),
      JSON.stringify(reasons),
    );
  } finally {
    clearInterval(watcher);
  }
  assert.equal(sawCanaryIngress, false, 'no traffic was ever routed to the unready version');
  await assertRolledBack(h, v1);
  assert.equal(await h.get('apps/v1', 'Deployment', 'echoserver-canary'), undefined);
});

const withGrace = (image: string) =>
  echoserver(image, {
    rollout:
      '    strategy: blueGreen\n    gracePeriodSeconds: 1\n    steps: [{replicas: 100%, traffic: 0%}, {replicas: ' +
      '100%, traffic: 10%}, {replicas: 100%, traffic: 100%}]',
  });

test('the stable version applied at step 2 is held in that write; the rollback takes traffic off first', async () => {
  const { h, v1 } = await atStep2('apply-stable', withGrace);
  const { violations, samples } = await sampled(
    () => rollbackOrder(h, v1),
    async () => {
      assert.deepEqual(await h.apply(withGrace('example/app:1')), { release: false, rollback: true });
      assert.equal((await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!.spec.paused, true);
      await assertRolledBack(h, v1);
    },
    50,
  );
  assert.deepEqual(violations, [], `${samples} samples`);
});

test('a blue-green rollback written past admission keeps the new pods until traffic has left them', async () => {
  const { h, v1 } = await atStep2('bypass-stable', withGrace);
  const stable = (
    await h.client.list<Workload>({ apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: h.namespace })
  ).find((rs) => rs.metadata.labels?.['pod-template-hash'] === v1)!;
  assert.equal(stable.spec.minReadySeconds, 2147483646, "the stable pods don't count as available meanwhile");
  const { violations, samples } = await sampled(
    () => rollbackOrder(h, v1),
    async () => {
      const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'echoserver', namespace: h.namespace };
      await h.client.jsonPatch(ref, [
        { op: 'replace', path: '/spec/template', value: comparableTemplate(stable.spec.template) },
      ]);
      await assertRolledBack(h, v1);
    },
    50,
  );
  assert.deepEqual(violations, [], `${samples} samples`);
});
