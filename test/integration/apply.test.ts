import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { KubeApiError, FIELD_MANAGER } from '../../src/k8s/client.js';
import { runRelease } from '../../src/reconciler/run.js';
import { renderApp } from '../../src/render/app.js';
import { loadApps } from '../../src/appspec/load.js';
import type { Engine } from '../../src/appspec/types.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import {
  appliesWritten,
  assertContained,
  createNamespace,
  eventually,
  inNamespace,
  useCluster,
} from '../support/kube.js';
import { stepwise } from '../support/cli.js';
import { ROOT } from '../support/paths.js';

const env = useCluster();

const examples = {
  'blue-green': ['examples/blue-green.yaml'],
  'canary-gateway': ['examples/canary-gateway.yaml'],
  'ab-test': ['examples/ab-test.yaml'],
  layers: ['examples/layers/base.yaml', 'examples/layers/prod.yaml'],
};
const render = (files: string[], engine: Engine) =>
  renderApp(loadApps(files.map((f) => ({ file: f, text: readFileSync(`${ROOT}${f}`, 'utf8') }))).apps[0]!.app, engine);

for (const engine of ['builtin', 'kruise'] as const) {
  for (const [name, files] of Object.entries(examples)) {
    test(
      `${name} (${engine} engine): every synthesized object is accepted by server-side apply, nothing pruned, ` +
        `and the workload becomes Ready`,
      async () => {
        const namespace = `${name}-${engine}`;
        await createNamespace(env.client, namespace);
        const objects = inNamespace(render(files, engine), namespace);
        for (const object of objects) {
          const stored = await env.client.apply(object);
          assertContained(object.spec, stored.spec, `${object.kind}.spec`);
          const managers = (stored.metadata.managedFields as { manager: string; operation: string }[]).map(
            (m) => `${m.manager}/${m.operation}`,
          );
          assert.ok(managers.includes(`${FIELD_MANAGER}/Apply`), `${object.kind}: managers ${managers}`);
        }
        const rollout = objects.find((o) => o.kind === 'Rollout')!;
        assert.equal(rollout.apiVersion, engine === 'builtin' ? 'stepwise.dev/v1alpha1' : 'rollouts.kruise.io/v1beta1');
        const workload = objects[0]!;
        const replicas = (workload.spec as { replicas: number }).replicas;
        await eventually(`${workload.metadata.name}: ${replicas} Ready replicas on kwok nodes`, async () => {
          const got = await env.client.get<KubeObject & { status?: { readyReplicas?: number } }>({
            ...workload,
            name: workload.metadata.name,
            namespace,
          });
          return got?.status?.readyReplicas === replicas;
        });
        const pods = await env.client.list<KubeObject & { spec: { nodeName?: string } }>(
          { apiVersion: 'v1', kind: 'Pod', namespace },
          `app.kubernetes.io/name=${workload.metadata.name}`,
        );
        assert.equal(pods.length, replicas);
        assert.ok(
          pods.every((p) => p.spec.nodeName?.startsWith('kwok-node-')),
          'scheduled onto kwok nodes',
        );
      },
    );
  }
}

test('malformed objects are rejected by the real API server, with its message', async () => {
  await createNamespace(env.client, 'malformed');
  const rollout = inNamespace(render(examples['blue-green'], 'builtin'), 'malformed').find(
    (o) => o.kind === 'Rollout',
  )!;
  const rejected = async (object: KubeObject, status: number, message: RegExp) => {
    await assert.rejects(env.client.apply(object), (e: unknown) => {
      assert.ok(e instanceof KubeApiError, String(e));
      assert.equal(e.status, status, e.message);
      assert.match(e.message, message);
      return true;
    });
  };
  // A wrong type fails while building the apply patch (the server answers 500 for that, with the field).
  const wrongType = structuredClone(rollout) as any;
  wrongType.spec.strategy.blueGreen.steps[0].traffic = 10;
  await rejected(
    wrongType,
    500,
    /^Rollout\/malformed\/echoserver: failed to create typed patch object .*steps\[0\]\.traffic: expected string/,
  );
  // A value outside the builtin CRD's schema is a validation error.
  const badPercent = structuredClone(rollout) as any;
  badPercent.spec.strategy.blueGreen.steps[1].traffic = 'ten percent';
  await rejected(
    badPercent,
    422,
    /^Rollout\/malformed\/echoserver: .*blueGreen\.steps\[1\]\.traffic: Invalid value: "ten percent": .* should match/,
  );
  // The same for the upstream CRDs: OpenKruise Rollout and Gateway API HTTPRoute.
  const kruise = inNamespace(render(examples['canary-gateway'], 'kruise'), 'malformed').find(
    (o) => o.kind === 'Rollout',
  ) as any;
  kruise.spec.strategy.canary.steps[0].matches = [{ headers: [{ name: 'x canary', value: 'yes' }] }];
  await rejected(
    kruise,
    422,
    /^Rollout\/malformed\/storefront: .*steps\[0\]\.matches\[0\]\.headers\[0\]\.name: Invalid value: "x canary"/,
  );
  const route = inNamespace(render(examples['canary-gateway'], 'builtin'), 'malformed').find(
    (o) => o.kind === 'HTTPRoute',
  ) as any;
  route.spec.rules[0].backendRefs[0].weight = -1;
  await rejected(route, 422, /^HTTPRoute\/malformed\/storefront: .*weight.*should be greater than or equal to 0/);
  assert.equal(
    await env.client.get({
      apiVersion: 'stepwise.dev/v1alpha1',
      kind: 'Rollout',
      name: 'echoserver',
      namespace: 'malformed',
    }),
    undefined,
    'nothing was stored',
  );
});

test('stepwise apply reports each object created, configured or unchanged, and writes only changes', async () => {
  const namespace = 'cli-apply';
  await createNamespace(env.client, namespace);
  const v2 = `${env.cluster.state.runDir}/blue-green-v2.yaml`;
  writeFileSync(
    v2,
    readFileSync(`${ROOT}examples/blue-green.yaml`, 'utf8').replace(
      'cilium/echoserver:1.10.3',
      'cilium/echoserver:1.10.4',
    ),
  );
  const apply = (file: string) => {
    const run = stepwise(['apply', '-f', file, '-n', namespace, '--kubeconfig', env.cluster.kubeconfig]);
    assert.equal(run.status, 0, run.stderr);
    return run.stdout;
  };
  const reported = (stdout: string) => stdout.split('\n').filter((l) => / (created|configured|unchanged)$/.test(l));
  const objects = inNamespace(render(examples['blue-green'], 'builtin'), namespace);
  type Deployment = KubeObject & {
    spec: { paused?: boolean };
    status?: { observedGeneration?: number; readyReplicas?: number };
  };
  // The Deployment's own controller writes its status: versions are compared once it has caught up.
  const settled = () =>
    eventually('the Deployment settled', async () => {
      const d = await env.client.get<Deployment>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'echoserver',
        namespace,
      });
      return (
        d?.status?.observedGeneration === d?.metadata.generation &&
        (d?.spec.paused || d?.status?.readyReplicas === 5) &&
        d
      );
    });
  const versions = async () =>
    Promise.all(
      objects.map(
        async (o) => (await env.client.get({ ...o, name: o.metadata.name, namespace }))?.metadata.resourceVersion,
      ),
    );
  const names = objects.map((o) => `${o.kind}/${namespace}/${o.metadata.name}`);
  // The workload is reported (and written) last.
  const inOrder = [...names.slice(1), names[0]];

  assert.deepEqual(
    reported(apply('examples/blue-green.yaml')),
    inOrder.map((n) => `${n} created`),
  );
  await settled();
  const written = await versions();
  let applies = await appliesWritten(env.client);
  assert.deepEqual(
    reported(apply('examples/blue-green.yaml')),
    inOrder.map((n) => `${n} unchanged`),
  );
  assert.deepEqual(await versions(), written, 'nothing changed');
  assert.equal((await appliesWritten(env.client)) - applies, 0, 'nothing was written');

  applies = await appliesWritten(env.client);
  const released = apply(v2);
  assert.equal((await appliesWritten(env.client)) - applies, 1, 'the workload alone was written');
  assert.deepEqual(reported(released), [...names.slice(1).map((n) => `${n} unchanged`), `${names[0]} configured`]);
  assert.match(released, /^echoserver: release started \(blueGreen, 3 steps\)/m);
  assert.equal((await settled()).spec.paused, true, "under the Rollout's control");
  const after = await versions();
  assert.deepEqual(after.slice(1), written.slice(1), 'only the workload was written');
  assert.notEqual(after[0], written[0]);
  // Applying the same new version during its release keeps the control fields and changes nothing.
  assert.deepEqual(
    reported(apply(v2)),
    inOrder.map((n) => `${n} unchanged`),
  );
  assert.deepEqual(await versions(), after);

  // At the 0% step both Services are pinned; re-applying (no webhook here: `stepwise apply` alone) keeps the pins.
  const paused = await runRelease(env.client, namespace, 'echoserver', { until: 'pause', pollMs: 250 });
  const sub = paused.status!.blueGreenStatus!;
  const selector = async (name: string) =>
    ((await env.client.get({ apiVersion: 'v1', kind: 'Service', name, namespace }))!.spec as { selector: object })
      .selector;
  const pinned = {
    stable: await selector('echoserver-service'),
    canary: await selector('echoserver-service-canary'),
  };
  assert.deepEqual(pinned, {
    stable: { 'app.kubernetes.io/name': 'echoserver', 'pod-template-hash': sub.stableRevision },
    canary: { 'app.kubernetes.io/name': 'echoserver', 'pod-template-hash': sub.podTemplateHash },
  });
  assert.deepEqual(
    reported(apply(v2)),
    inOrder.map((n) => `${n} unchanged`),
  );
  assert.deepEqual(
    { stable: await selector('echoserver-service'), canary: await selector('echoserver-service-canary') },
    pinned,
  );
});
