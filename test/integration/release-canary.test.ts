import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Workload } from '../../src/reconciler/observed.js';
import type { RouteRule } from '../../src/traffic/gateway.js';
import { eventually, useCluster } from '../support/kube.js';
import { ReleaseMonitor } from '../support/monitor.js';
import { echoserver, ReleaseHarness } from '../support/release.js';

const env = useCluster();

async function deployed(namespace: string, spec: (image: string) => string): Promise<ReleaseHarness> {
  const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
  await h.apply(spec('example/app:2'));
  return h;
}

const gatewayRoute = '    gateway: {name: echoserver-route, parentRefs: [{name: public}], path: /}';
const canaryOnGateway = (image: string) =>
  echoserver(image, {
    route: gatewayRoute,
    rollout: `    strategy: canary
    gracePeriodSeconds: 0
    steps:
      - {replicas: 20%, traffic: 20%}
      - {replicas: 50%, traffic: 50%}
      # a canary's last step at "100%" completes at once, as in OpenKruise
      - {replicas: 100%, traffic: 100%, pause: {}}`,
  });

test('a canary on a Gateway API HTTPRoute: 20% -> 50% -> 100% in a separate canary Deployment', async () => {
  const h = await deployed('gateway-canary', canaryOnGateway);
  const weights = async () => {
    const rules = (
      (await h.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'echoserver-route'))!.spec as { rules: RouteRule[] }
    ).rules;
    return rules.map((r) => r.backendRefs!.map((b) => `${b.name}=${b.weight ?? '-'}`).join(','));
  };
  const canaryPods = async () =>
    (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver-canary'))?.status?.readyReplicas;
  for (const [step, weight, pods] of [
    [1, 20, 1],
    [2, 50, 3],
  ] as const) {
    await h.run();
    const sub = await h.sub();
    assert.deepEqual([sub.currentStepIndex, sub.currentStepState], [step, 'StepPaused']);
    assert.deepEqual(
      await weights(),
      [`echoserver-service=${100 - weight},echoserver-service-canary=${weight}`],
      `step ${step}`,
    );
    assert.equal(await canaryPods(), pods, `step ${step}: canary pods`);
    assert.equal(
      (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))?.status?.readyReplicas,
      5,
      'the stable Deployment keeps all its pods',
    );
    await h.promote();
  }
  const rollout = await h.run('done');
  assert.equal(rollout.status?.phase, 'Healthy');
  assert.deepEqual(await weights(), ['echoserver-service=1'], 'the route is restored (stable weight 1, as OpenKruise)');
  assert.equal(await h.get('apps/v1', 'Deployment', 'echoserver-canary'), undefined, 'the canary Deployment is gone');
  const stable = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
  assert.equal((stable.spec.template.spec as any)?.containers?.[0]?.image, 'example/app:2');
  assert.deepEqual(
    [stable.status?.updatedReplicas, stable.status?.readyReplicas, stable.spec.paused],
    [5, 5, undefined],
  );
  assert.deepEqual(Object.values(await h.podsByRevision()), [5]);
});

test('timed pauses continue without approval', async () => {
  const h = await deployed('timed', (image) =>
    echoserver(image, {
      route: gatewayRoute,
      rollout:
        '    strategy: canary\n    gracePeriodSeconds: 0\n    steps:\n      - {replicas: 20%, traffic: 20%, pause: ' +
        '{duration: 1}}\n      - {replicas: 100%, traffic: 100%}',
    }),
  );
  const started = Date.now();
  assert.equal((await h.run('pause')).status?.phase, 'Healthy', 'no step waited for approval');
  assert.ok(Date.now() - started >= 1000, 'the 1 s pause was held');
});

test('a header- and cookie-matched A/B test on nginx', async () => {
  const h = await deployed('ab', (image) =>
    echoserver(image, {
      rollout: `    strategy: abTest
    gracePeriodSeconds: 0
    steps:
      - replicas: 1
        matches: [{headers: [{name: x-canary, value: "true"}]}]
      - replicas: 50%
        matches:
          - headers: [{name: x-user, value: "beta-.*", type: RegularExpression}]
          - cookie: beta`,
    }),
  );
  const nginx = async () =>
    Object.fromEntries(
      Object.entries((await h.annotations('echoserver-ingress-canary')) ?? {})
        .filter(([k]) => k.startsWith('nginx.ingress.kubernetes.io/'))
        .map(([k, v]) => [k.replace('nginx.ingress.kubernetes.io/', ''), v]),
    );
  await h.run();
  assert.deepEqual(
    await nginx(),
    { canary: 'true', 'canary-by-header': 'x-canary', 'canary-by-header-value': 'true' },
    'headers only, no weight',
  );
  await h.promote();
  await h.run();
  assert.deepEqual(await nginx(), {
    canary: 'true',
    'canary-by-header': 'x-user',
    'canary-by-header-pattern': 'beta-.*',
    'canary-by-cookie': 'beta',
  });
  // The step paused once 3 new pods were Ready; kube-controller-manager reports it in the status moments later.
  await eventually("3 Ready canary pods in the canary Deployment's status", async () => {
    return (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver-canary'))?.status?.readyReplicas === 3;
  });
  await h.promote();
  assert.equal((await h.run('done')).status?.phase, 'Healthy');
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
});

test(
  'a new rollout-id on the workload starts a release with an unchanged template: the same pods, relabelled batch ' +
    'by batch',
  async () => {
    const spec = (id: string) => `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: echoserver, labels: {stepwise.dev/rollout-id: ${id}}}
spec:
  workload: {image: example/app:1, replicas: 5, readinessProbe: {tcpSocket: {port: http}}}
  rollout:
    strategy: canary
    steps: [{replicas: 2}, {replicas: 100%}]
`;
    const h = await ReleaseHarness.deployed(env.client, 'rollout-id', spec('r1'));
    const before = (await h.pods()).map((p) => p.metadata.name).sort();
    assert.deepEqual(await h.apply(spec('r2')), { release: true, rollback: false });
    await h.run();
    const labels = async () =>
      (await h.pods())
        .map((p) => [
          p.metadata.labels?.['stepwise.dev/rollout-id'],
          p.metadata.labels?.['stepwise.dev/rollout-batch-id'],
        ])
        .map(([id, batch]) => `${id ?? '-'}/${batch ?? '-'}`)
        .sort();
    assert.deepEqual([(await h.sub()).currentStepIndex, (await h.sub()).currentStepState], [1, 'StepPaused']);
    assert.deepEqual(await labels(), ['-/-', '-/-', '-/-', 'r2/1', 'r2/1']);
    await h.promote();
    assert.equal((await h.run('done')).status?.phase, 'Healthy');
    assert.deepEqual(await labels(), ['r2/1', 'r2/1', 'r2/2', 'r2/2', 'r2/2']);
    assert.deepEqual((await h.pods()).map((p) => p.metadata.name).sort(), before, 'no pod was replaced');
    assert.equal(await h.get('apps/v1', 'Deployment', 'echoserver-canary'), undefined);
    assert.equal((await h.sub()).observedRolloutID, 'r2');
  },
);

test('a StatefulSet canary through its partition: new pods replace old ones in place, highest first', async () => {
  const spec = (image: string) => `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: db}
spec:
  workload: {kind: StatefulSet, image: ${image}, replicas: 4, readinessProbe: {tcpSocket: {port: http}}}
  route:
    ingress: {host: db.example.com}
  rollout:
    strategy: canary
    gracePeriodSeconds: 0
    # routing steps update at most 50% in place
    steps: [{replicas: 1, traffic: 25%}, {replicas: 50%, traffic: 50%}, {replicas: 100%}]
`;
  const h = await ReleaseHarness.create(env.client, 'statefulset', spec('example/db:1'));
  const sts = () => h.get<Workload>('apps/v1', 'StatefulSet', 'db');
  await eventually('4 Ready', async () => (await sts())?.status?.readyReplicas === 4);
  await h.run('done');
  assert.deepEqual(await h.apply(spec('example/db:2')), { release: true, rollback: false });
  assert.equal(
    (await sts())!.spec.updateStrategy?.rollingUpdate?.partition,
    4,
    'held: no pod updated before the release runs',
  );
  const v1 = (await sts())!.status!.currentRevision!;
  const revisions = async () =>
    Object.fromEntries(
      (await h.pods('app.kubernetes.io/name=db')).map((p) => [
        p.metadata.name,
        p.metadata.labels?.['controller-revision-hash'] === v1 ? 'old' : 'new',
      ]),
    );
  await h.run();
  assert.deepEqual(await revisions(), { 'db-0': 'old', 'db-1': 'old', 'db-2': 'old', 'db-3': 'new' });
  const v2 = (await h.sub()).podTemplateHash;
  assert.deepEqual(await h.selector('db'), { 'app.kubernetes.io/name': 'db', 'controller-revision-hash': v1 });
  assert.deepEqual(await h.selector('db-canary'), { 'app.kubernetes.io/name': 'db', 'controller-revision-hash': v2 });
  assert.equal((await h.annotations('db-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'], '25');
  await h.promote();
  await h.run();
  assert.deepEqual(await revisions(), { 'db-0': 'old', 'db-1': 'old', 'db-2': 'new', 'db-3': 'new' });
  assert.equal((await sts())!.spec.updateStrategy?.rollingUpdate?.partition, 2);
  await h.promote();
  assert.equal((await h.run('done')).status?.phase, 'Healthy');
  await eventually(
    'all 4 on the new revision',
    async () =>
      Object.values(await revisions()).every((r) => r === 'new') && (await sts())?.status?.readyReplicas === 4,
  );
  assert.equal((await sts())!.spec.updateStrategy?.rollingUpdate?.partition ?? 0, 0);
  assert.deepEqual(await h.selector('db'), { 'app.kubernetes.io/name': 'db' });
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'db-canary'), undefined);
});

for (const [provider, route] of [
  ['nginx', '    ingress: {host: echo.example.com}'],
  ['a Gateway API HTTPRoute', gatewayRoute],
] as const) {
  test(`on ${provider}, a canary's finishing never sends requests back to the old version`, async (t) => {
    const spec = (image: string) =>
      echoserver(image, {
        route,
        rollout: `    strategy: canary
    gracePeriodSeconds: 1
    steps:
      - {replicas: 40%, traffic: 40%, pause: {duration: 0}}
      - {replicas: 100%, traffic: 100%}`,
      });
    const namespace = `finish-${provider.startsWith('nginx') ? 'nginx' : 'gateway'}`;
    const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
    // Sampled every 100 ms through the whole release: the old version, once at 0%, never gets traffic again, and
    // the new version never falls below the share it has had.
    const monitor = new ReleaseMonitor(h);
    t.after(() => monitor.stop());
    await h.apply(spec('example/app:2'));
    const done = await h.run('done');
    assert.equal(done.status?.phase, 'Healthy');
    assert.deepEqual(await monitor.stop(), []);
    assert.deepEqual(Object.keys(await h.podsByRevision()).length, 1, 'one version left');
  });
}
