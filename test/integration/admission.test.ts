import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderApp } from '../../src/render/app.js';
import { ANNOTATIONS, templateHash, type Workload } from '../../src/reconciler/observed.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { loadApps } from '../../src/appspec/load.js';
import { toYaml } from '../../src/render/synth.js';
import type { RouteRule } from '../../src/traffic/gateway.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { WEBHOOK_CONFIGURATION } from '../../src/webhook/configuration.js';
import { freePorts } from '../testenv/process.js';
import { stepwise } from '../support/cli.js';
import { createNamespace, eventually, useCluster } from '../support/kube.js';
import { ROOT } from '../support/paths.js';
import { installWithWebhook, kubectl, type StepwiseProcess, startController } from '../support/processes.js';
import { echoserver, ReleaseHarness } from '../support/release.js';
import { rollbackOrder, sampled } from '../support/sample.js';

// The API server calls the webhook of a `stepwise controller` on this machine at https://127.0.0.1:PORT.
const env = useCluster();
const SYSTEM = 'stepwise-system';
let port = 0;
let controller: StepwiseProcess | undefined;

const site = () => ({ kubeconfig: env.cluster.kubeconfig, namespace: SYSTEM, webhookPort: port });
const install = (...extra: string[]) => installWithWebhook(site(), ...extra);

/** Once per file, after the cluster is up (node runs top-level `before` hooks concurrently, so not in one). */
let prepared: Promise<void> | undefined;
/** Every test starts with the webhook installed and a controller serving it. */
async function setup(): Promise<void> {
  prepared ??= (async () => {
    [port] = (await freePorts(1)) as [number];
    await createNamespace(env.client, SYSTEM);
    install();
  })();
  await prepared;
  if (!controller?.running) controller = await startController(site());
}

/** The seed app's manifests in `namespace`, as `stepwise synth` prints them. */
function manifests(namespace: string, image: string, options: Parameters<typeof echoserver>[1] = {}): string {
  const spec = echoserver(image, options).replace(
    'metadata: {name: echoserver}',
    `metadata: {name: echoserver, namespace: ${namespace}}`,
  );
  return toYaml(renderApp(loadApps([{ file: 'spec.yaml', text: spec }]).apps[0]!.app));
}

type Client = (namespace: string, yaml: string) => Promise<{ status: number | null; stdout: string; stderr: string }>;
const kubectlServerSide: Client = (_ns, yaml) =>
  kubectl(env.cluster.kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', '-'], yaml);
const kubectlClientSide: Client = (_ns, yaml) => kubectl(env.cluster.kubeconfig, ['apply', '-f', '-'], yaml);
/** `stepwise apply` of an app spec (it reads specs, not manifests). */
function stepwiseApply(namespace: string, spec: string) {
  const file = join(env.cluster.state.runDir, `${namespace}-spec.yaml`);
  writeFileSync(file, spec);
  return stepwise(['apply', '-f', file, '-n', namespace, '--kubeconfig', env.cluster.kubeconfig]);
}
const CLIENTS = { 'kubectl apply --server-side': kubectlServerSide, 'kubectl apply (client-side)': kubectlClientSide };

async function applied(client: Client, namespace: string, yaml: string): Promise<string> {
  const r = await client(namespace, yaml);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return r.stderr;
}

/** The Rollout in `namespace` is Healthy and its workload's pods are all Ready. */
async function healthy(h: ReleaseHarness, replicas: number): Promise<void> {
  await diagnosed(
    h,
    eventually(`${h.namespace}/${h.name} Healthy with ${replicas} Ready pods`, async () => {
      const [r, w] = await Promise.all([h.rollout(), h.get<Workload>('apps/v1', 'Deployment', h.name)]);
      return (
        r?.status?.phase === 'Healthy' && w?.status?.readyReplicas === replicas && w.status.updatedReplicas === replicas
      );
    }),
  );
}

/** A failed wait says where the release was and what the controller last printed. */
async function diagnosed<T>(h: ReleaseHarness, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (e) {
    const status = JSON.stringify((await h.rollout().catch(() => undefined))?.status);
    const listed = (await kubectl(env.cluster.kubeconfig, ['get', 'rollouts.stepwise.dev,deploy', '-A'])).stdout;
    const alive = controller?.running
      ? 'running'
      : `exited ${controller?.child.exitCode ?? controller?.child.signalCode}`;
    throw new Error(
      `${(e as Error).message}\nstatus: ${status}\n${listed}\ncontroller ` +
        `(${alive}):\n${controller?.log.split('\n').slice(-30).join('\n')}`,
    );
  }
}

/** Waits for each pause and approves it (OpenKruise's status patch) until the release ends Healthy. */
async function promoteToEnd(h: ReleaseHarness, steps: number): Promise<void> {
  for (let step = 1; step <= steps; step++) {
    await eventually(`step ${step} paused`, async () => {
      const r = await h.rollout();
      const sub = r.status?.blueGreenStatus ?? r.status?.canaryStatus;
      return r.status?.phase === 'Healthy' || (sub?.currentStepIndex === step && sub.currentStepState === 'StepPaused');
    });
    if ((await h.rollout()).status?.phase === 'Healthy') break;
    await h.promote();
  }
}

const isPaused = (r: RolloutObject, step: number) => {
  const sub = r.status?.blueGreenStatus ?? r.status?.canaryStatus;
  return r.status?.phase === 'Progressing' && sub?.currentStepIndex === step && sub.currentStepState === 'StepPaused';
};

test('certificates: made on first start, kept in a Secret, trusted by the API server, reused on restart', async () => {
  await setup();
  const secret = await env.client.get<KubeObject & { data: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    name: 'stepwise-webhook-tls',
    namespace: SYSTEM,
  });
  assert.ok(secret, 'the Secret exists');
  const decoded = (k: string) => Buffer.from(secret.data[k]!, 'base64').toString();
  const serving = new X509Certificate(decoded('tls.crt'));
  assert.equal(serving.checkIP('127.0.0.1'), '127.0.0.1', 'covers the address the API server calls');
  assert.ok(serving.verify(new X509Certificate(decoded('ca.crt')).publicKey), 'signed by the CA in the Secret');
  const config = await env.client.get<KubeObject & { webhooks: { clientConfig: { caBundle: string } }[] }>({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    name: WEBHOOK_CONFIGURATION,
  });
  assert.ok(
    config!.webhooks.every((w) => Buffer.from(w.clientConfig.caBundle, 'base64').toString() === decoded('ca.crt')),
    'the configuration trusts the CA',
  );

  // The API server calls the webhook over TLS: a server-side dry run of a new image comes back paused.
  await createNamespace(env.client, 'certs');
  await applied(kubectlServerSide, 'certs', manifests('certs', 'example/app:1'));
  await healthy(new ReleaseHarness(env.client, 'certs', 'echoserver'), 5);
  const dryRun = async () => {
    const r = await kubectl(
      env.cluster.kubeconfig,
      ['apply', '--server-side', '--dry-run=server', '-o', 'json', '-f', '-'],
      manifests('certs', 'example/app:2'),
    );
    assert.equal(r.status, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: Workload[] }).items;
    return items.find((o) => o.kind === 'Deployment')!;
  };
  assert.equal((await dryRun()).spec.paused, true);

  await controller!.stop();
  controller = await startController(site());
  const again = await env.client.get<typeof secret>({
    apiVersion: 'v1',
    kind: 'Secret',
    name: 'stepwise-webhook-tls',
    namespace: SYSTEM,
  });
  assert.deepEqual(again!.data, secret.data, 'the same certificates after a restart');
  assert.equal((await dryRun()).spec.paused, true, 'and still accepted by the API server');
});

for (const [name, client] of Object.entries(CLIENTS)) {
  test(`a new image applied with ${name} starts a paused release in the same write; promotes complete it`, async () => {
    await setup();
    const namespace = name.includes('server') ? 'ssa' : 'csa';
    await createNamespace(env.client, namespace);
    const h = new ReleaseHarness(env.client, namespace, 'echoserver');
    await applied(client, namespace, manifests(namespace, 'example/app:1'));
    await healthy(h, 5);
    const stderr = await applied(client, namespace, manifests(namespace, 'example/app:2'));
    assert.match(
      stderr,
      /Warning: stepwise: Deployment\/.*\/echoserver is a new version: Rollout echoserver releases it step by step/,
    );
    const held = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
    assert.ok(held.metadata.annotations?.[ANNOTATIONS.inProgressing], 'marked in-progressing by the same write');
    await eventually('step 1 paused', async () => isPaused(await h.rollout(), 1));
    const { stable, canary } = await h.summary();
    assert.deepEqual([stable.ready, canary.ready], [5, 5], 'blue-green: the old pods serve while the new ones wait');
    await promoteToEnd(h, 3);
    await healthy(h, 5);
    assert.deepEqual(Object.values(await h.podsByRevision()), [5], 'one version left');
    assert.match(
      (await h.pods())[0]!.metadata.labels!['stepwise.dev/rollout-batch-id']!,
      /^\d$/,
      'released in batches',
    );
  });
}

test(
  "the cdk8s example's `cdk8s synth` output applied with kubectl: a new image starts a paused release that " +
    'completes on promote',
  async () => {
    await setup();
    const synth = (image: string) => {
      const out = mkdtempSync(join(env.cluster.state.runDir, 'cdk8s-'));
      const r = spawnSync('npx', ['cdk8s', 'synth', '--output', out], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', WEB_IMAGE: image },
      });
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(join(out, 'web.k8s.yaml'), 'utf8');
    };
    await createNamespace(env.client, 'web');
    const h = new ReleaseHarness(env.client, 'web', 'web');
    await applied(kubectlClientSide, 'web', synth('nginx:1.27'));
    await healthy(h, 4);
    await applied(kubectlClientSide, 'web', synth('nginx:1.28'));
    await eventually('step 1 paused', async () => isPaused(await h.rollout(), 1));
    await promoteToEnd(h, 3);
    await healthy(h, 4);
    const pods = await h.client.list<KubeObject & { spec: { containers: { image: string }[] } }>(
      { apiVersion: 'v1', kind: 'Pod', namespace: 'web' },
      'app=web',
    );
    assert.deepEqual(
      [...new Set(pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.image))],
      ['nginx:1.28'],
    );
  },
);

test(
  'a mid-release re-apply of the whole manifest set with any client moves no traffic: pins and weights stay as ' +
    'the release set them',
  async () => {
    await setup();
    const gatewayRoute = '    gateway: {name: echoserver, parentRefs: [{name: public}]}';
    const cases = [
      { namespace: 'reapply-nginx', options: {}, step: 1 },
      {
        namespace: 'reapply-gateway',
        options: {
          route: gatewayRoute,
          rollout:
            '    strategy: canary\n    gracePeriodSeconds: 0\n    steps:\n      - {replicas: 1, traffic: 10%}\n      ' +
            '- {replicas: 5, traffic: 100%}',
        },
        step: 1,
      },
    ];
    for (const { namespace, options, step } of cases) {
      await createNamespace(env.client, namespace);
      const h = new ReleaseHarness(env.client, namespace, 'echoserver');
      await applied(kubectlServerSide, namespace, manifests(namespace, 'example/app:1', options));
      await healthy(h, 5);
      const v2 = manifests(namespace, 'example/app:2', options);
      await applied(kubectlServerSide, namespace, v2);
      await eventually(`step ${step} paused`, async () => isPaused(await h.rollout(), step));
      const sub = (await h.sub())!;
      const routeOf = async () =>
        JSON.stringify(
          (
            (await h.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'echoserver'))?.spec as
              | { rules: RouteRule[] }
              | undefined
          )?.rules,
        );
      const route = await routeOf();
      const check = async () => {
        const [stable, canary] = await Promise.all([
          h.selector('echoserver-service'),
          h.selector('echoserver-service-canary'),
        ]);
        if (stable?.['pod-template-hash'] !== sub.stableRevision)
          return `stable Service selects ${JSON.stringify(stable)}`;
        if (canary?.['pod-template-hash'] !== sub.podTemplateHash)
          return `canary Service selects ${JSON.stringify(canary)}`;
        const now = await routeOf();
        return now === route ? undefined : `HTTPRoute rules changed to ${now}`;
      };
      const spec = echoserver('example/app:2', options).replace(
        'metadata: {name: echoserver}',
        `metadata: {name: echoserver, namespace: ${namespace}}`,
      );
      const { violations, samples } = await sampled(check, async () => {
        for (const client of Object.values(CLIENTS)) await applied(client, namespace, v2);
        const r = await stepwiseApply(namespace, spec);
        assert.equal(r.status, 0, r.stderr);
      });
      assert.deepEqual(violations, [], `${namespace}: ${samples} samples`);
      // Sharper than any sampling: had a write unpinned a Service even for a moment, the reconciler would have restored
      // it.
      assert.deepEqual(
        (await h.events()).filter((e) => e.reason === 'TrafficRestored'),
        [],
        'no write ever undid the routing',
      );
      assert.ok(isPaused(await h.rollout(), step), 'the release still waits at its step');
    }
  },
);

test(
  "the stable manifests re-applied at step 2 roll the release back in Kruise's order: traffic leaves the new " +
    'pods before any of them goes',
  async () => {
    await setup();
    const namespace = 'apply-stable';
    // The seed scenario as it ships: blue-green on nginx with the default grace period.
    const options = {
      rollout:
        '    strategy: blueGreen\n    steps: [{replicas: 100%, traffic: 0%}, {replicas: 100%, traffic: 10%}, ' +
        '{replicas: 100%, traffic: 100%}]',
    };
    await createNamespace(env.client, namespace);
    const h = new ReleaseHarness(env.client, namespace, 'echoserver');
    const v1Manifests = manifests(namespace, 'example/app:1', options);
    await applied(kubectlServerSide, namespace, v1Manifests);
    await healthy(h, 5);
    const [v1] = Object.keys(await h.podsByRevision()) as [string];
    await applied(kubectlServerSide, namespace, manifests(namespace, 'example/app:2', options));
    await eventually('step 1 paused', async () => isPaused(await h.rollout(), 1));
    await h.promote();
    await diagnosed(
      h,
      eventually('step 2 paused', async () => isPaused(await h.rollout(), 2)),
    );
    const { violations, samples } = await sampled(
      () => rollbackOrder(h, v1),
      async () => {
        await applied(kubectlServerSide, namespace, v1Manifests);
        await healthy(h, 5);
      },
      50,
    );
    assert.deepEqual(violations, [], `${samples} samples`);
    const conditions = (await h.rollout()).status?.conditions ?? [];
    assert.equal(conditions.find((c) => c.type === 'Succeeded')?.status, 'False', 'the release was cancelled');
    assert.deepEqual(await h.podsByRevision(), { [v1]: 5 });
    assert.deepEqual(await h.selector('echoserver-service'), { 'app.kubernetes.io/name': 'echoserver' });
    assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
  },
);

test(
  'with the webhook configuration deleted, a new template is caught by the reconciler and the Rollout never ' +
    'reports Healthy meanwhile',
  async () => {
    await setup();
    await createNamespace(env.client, 'bypass');
    const h = new ReleaseHarness(env.client, 'bypass', 'echoserver');
    await applied(kubectlServerSide, 'bypass', manifests('bypass', 'example/app:1'));
    await healthy(h, 5);
    await env.client.delete({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      name: WEBHOOK_CONFIGURATION,
    });
    try {
      // Healthy is wrong in a status the reconciler wrote after the change while the template is not the released one.
      let changedAt = Infinity;
      const { violations } = await sampled(
        async () => {
          const [r, d] = await Promise.all([h.rollout(), h.get<Workload>('apps/v1', 'Deployment', 'echoserver')]);
          const unreleased = templateHash(d!.spec.template) !== r.status?.stableTemplateHash;
          const afterChange = Number(r.metadata.resourceVersion) > changedAt;
          return r.status?.phase === 'Healthy' && afterChange && unreleased
            ? `Healthy at ${r.metadata.resourceVersion} while unreleased`
            : undefined;
        },
        async () => {
          await applied(kubectlServerSide, 'bypass', manifests('bypass', 'example/app:2'));
          changedAt = Number((await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!.metadata.resourceVersion);
          await eventually('the reconciler took control', async () => {
            const r = await h.rollout();
            return (
              r.status?.phase === 'Progressing' &&
              r.status.conditions?.some((c) => c.type === 'Admitted' && c.reason === 'AdmissionBypassed')
            );
          });
          const d = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
          assert.ok(d.metadata.annotations?.[ANNOTATIONS.inProgressing], "held under the Rollout's control");
          await eventually('a Warning event saying so', async () =>
            (await h.events()).some((e) => e.reason === 'AdmissionBypassed'),
          );
          await promoteToEnd(h, 3);
        },
      );
      assert.deepEqual(violations, []);
      await healthy(h, 5);
      assert.deepEqual(Object.values(await h.podsByRevision()), [5]);
    } finally {
      install();
    }
  },
);

test(
  'with the controller down, a governed change is refused naming Stepwise while others pass; failing open, the ' +
    'reconciler takes over on return',
  async () => {
    await setup();
    await createNamespace(env.client, 'down');
    const h = new ReleaseHarness(env.client, 'down', 'echoserver');
    await applied(kubectlServerSide, 'down', manifests('down', 'example/app:1'));
    await healthy(h, 5);
    await controller!.stop();

    const refused = await kubectlServerSide('down', manifests('down', 'example/app:2'));
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /failed calling webhook "workloads\.admission\.stepwise\.dev"/);
    const image = (w: Workload | undefined) =>
      (w?.spec.template.spec as { containers: { image: string }[] } | undefined)?.containers[0]?.image;
    assert.equal(
      image(await h.get<Workload>('apps/v1', 'Deployment', 'echoserver')),
      'example/app:1',
      'nothing changed',
    );

    const plain = (tag: string) =>
      toYaml([
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'plain', namespace: 'down' },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: 'plain' } },
            template: {
              metadata: { labels: { app: 'plain' } },
              spec: { containers: [{ name: 'c', image: `example/plain:${tag}` }] },
            },
          },
        },
      ]);
    await applied(kubectlServerSide, 'down', plain('1'));
    await applied(kubectlServerSide, 'down', plain('2'));

    install('--fail-open');
    try {
      await applied(kubectlServerSide, 'down', manifests('down', 'example/app:2'));
      controller = await startController(site());
      await eventually('the reconciler took control', async () =>
        (await h.rollout()).status?.conditions?.some((c) => c.reason === 'AdmissionBypassed'),
      );
      await promoteToEnd(h, 3);
      await healthy(h, 5);
      assert.equal(image(await h.get<Workload>('apps/v1', 'Deployment', 'echoserver')), 'example/app:2');
    } finally {
      install();
    }
  },
);
