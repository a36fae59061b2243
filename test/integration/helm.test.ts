/**
 * The Helm post-renderer with real Helm 3 and Helm 4 (built from the Go module proxy): `helm template` gives the
 * chart's objects plus the release the core renders, and on the real control plane `helm install`, `helm upgrade`
 * and `helm rollback` drive safe releases through the controller and its admission webhook.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { HELM4_FILENAME_ANNOTATION, ROLLOUT_ANNOTATION } from '../../src/helm/post-render.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { attachRollout } from '../../src/render/attach.js';
import { ROLLOUT_NAME_LABEL } from '../../src/render/labels.js';
import { canaryService } from '../../src/traffic/service.js';
import { type ToolsBuild, ensureTools } from '../testenv/build.js';
import { freePorts } from '../testenv/process.js';
import { createNamespace, eventually, explained, useCluster } from '../support/kube.js';
import { stepwise } from '../support/cli.js';
import { ROOT } from '../support/paths.js';
import { installWithWebhook, startController, type StepwiseProcess } from '../support/processes.js';
import { ReleaseHarness } from '../support/release.js';
import { awaitsApproval } from '../../src/reconciler/run.js';

const env = useCluster();
const CHART = `${ROOT}test/fixtures/helm/web`;
const POST_RENDERER = `${ROOT}helm-plugin/post-render`;

let tools: ToolsBuild;
/** Helm's own directories (plugins, cache, config), apart from the machine's. */
const home = mkdtempSync(join(tmpdir(), 'stepwise-helm-'));
// Not HELM_PLUGINS: Helm 4 installs plugins under HELM_DATA_HOME whatever it says, then looks for them there.
const { HELM_PLUGINS: _plugins, ...inherited } = process.env;
const helmEnv = {
  ...inherited,
  HELM_DATA_HOME: `${home}/data`,
  HELM_CONFIG_HOME: `${home}/config`,
  HELM_CACHE_HOME: `${home}/cache`,
};
before(async () => {
  tools = await ensureTools();
  run(tools.helm4, ['plugin', 'install', `${ROOT}helm-plugin`]);
});
after(() => rmSync(home, { recursive: true, force: true }));

function run(binary: string, args: readonly string[]): string {
  const r = spawnSync(binary, args, { env: helmEnv, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const objects = (stream: string) =>
  parseAllDocuments(stream)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

/** What the output must hold: the chart's objects, the governed ones labelled, and the release the core renders. */
function expectedFrom(plain: KubeObject[]): KubeObject[] {
  const of = (kind: string) => plain.find((o) => o.kind === kind) as KubeObject;
  const [workload, service, route] = [of('Deployment'), of('Service'), of('Ingress')];
  const spec = parse(workload.metadata.annotations?.[ROLLOUT_ANNOTATION] ?? '');
  const attached = attachRollout({ workload, service, route }, spec, { where: 'test' });
  const label = (o: KubeObject) =>
    [workload, service, route].includes(o)
      ? { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, [ROLLOUT_NAME_LABEL]: 'web' } } }
      : o;
  // The canary Service is a copy of the labelled stable one, as `stepwise synth` makes it.
  return [...plain.map(label), attached.rollout, canaryService(label(service), 'pod-template-hash')];
}

/** Objects by kind and name, without Helm 4's bookkeeping annotation, for comparison in any order. */
function byName(list: KubeObject[]): Record<string, unknown> {
  return Object.fromEntries(
    list.map((o) => {
      const { [HELM4_FILENAME_ANNOTATION]: _file, ...annotations } = o.metadata.annotations ?? {};
      const metadata = { ...o.metadata, annotations };
      if (Object.keys(annotations).length === 0) delete (metadata as { annotations?: unknown }).annotations;
      return [`${o.kind}/${o.metadata.name}`, { ...o, metadata }];
    }),
  );
}

for (const version of ['3', '4'] as const) {
  test(`helm ${version} template --post-renderer: the chart's objects, kept, plus the release the core renders`, () => {
    const helm = version === '3' ? tools.helm3 : tools.helm4;
    const renderer = version === '3' ? POST_RENDERER : 'stepwise';
    const plain = run(helm, ['template', 'web', CHART]);
    const rendered = run(helm, ['template', 'web', CHART, '--post-renderer', renderer]);
    assert.deepEqual(byName(objects(rendered)), byName(expectedFrom(objects(plain))));
    // A document the post-renderer does not change comes out as it came in, comments and spacing too (Helm 4
    // itself rewrites every document, with or without a post-renderer in between).
    const settings = version === '3' ? /greeting: {3}"hello" {3}# odd spacing/ : /greeting: "hello" # odd spacing/;
    assert.match(rendered, settings);
    // The same release named in a --config file, passed by Helm as the post-renderer's argument.
    const config = join(home, 'stepwise-helm.yaml');
    const annotation = objects(plain).find((o) => o.kind === 'Deployment')?.metadata.annotations?.[ROLLOUT_ANNOTATION];
    writeFileSync(config, stringify({ rollouts: { promoted: parse(annotation ?? '') } }));
    const named = ['--set', 'rollout=promoted', '--post-renderer-args', `--config=${config}`];
    const byConfig = run(helm, ['template', 'web', CHART, ...named, '--post-renderer', renderer]);
    assert.deepEqual(
      objects(byConfig).filter((o) => o.kind === 'Rollout'),
      objects(rendered).filter((o) => o.kind === 'Rollout'),
    );
    // The hook is kept (Helm 4 passes hooks through the post-renderer; Helm 3 prints them beside).
    assert.equal(objects(rendered).filter((o) => o.metadata.name === 'web-installed').length, 1);
  });

  test(`helm ${version}: a bad reference fails the render, with nothing on stdout`, () => {
    const helm = version === '3' ? tools.helm3 : tools.helm4;
    const renderer = version === '3' ? POST_RENDERER : 'stepwise';
    const args = ['template', 'web', CHART, '--set', 'rollout=nightly'];
    const r = spawnSync(helm, [...args, '--post-renderer', renderer], { env: helmEnv, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    const message = /web\/templates\/deployment\.yaml: .*no rollout named "nightly"/;
    if (version === '3') assert.match(r.stderr, message);
    else {
      // Helm 4.3 runs plugins with their stderr captured and never shows it: the message is seen by piping.
      assert.match(r.stderr, /plugin "stepwise" exited with error/);
      const piped = stepwise(['helm', 'post-render'], { input: run(helm, args) });
      assert.equal(piped.status, 1);
      assert.match(piped.stderr, message);
    }
  });
}

test(
  'helm 3 and 4: install, then upgrade --set image.tag=2 starts a paused release that completes on promote; ' +
    'rollback in the middle of the next release rolls it back',
  async (t) => {
    const [webhookPort] = await freePorts(1);
    const site = { kubeconfig: env.cluster.kubeconfig, namespace: 'helm-system', webhookPort: webhookPort as number };
    await createNamespace(env.client, site.namespace);
    installWithWebhook(site);
    const controller: StepwiseProcess = await startController(site);
    t.after(() => controller.stop());
    for (const version of ['3', '4'] as const) await upgradeAndRollBack(version, () => controller.log);
  },
);

/** One chart's life under Helm `version`, in a namespace of its own, with the controller and its webhook. */
async function upgradeAndRollBack(version: '3' | '4', logs: () => string): Promise<void> {
  const namespace = `helm${version}`;
  await createNamespace(env.client, namespace);
  const renderer = ['--post-renderer', version === '3' ? POST_RENDERER : 'stepwise'];
  // Helm 4 applies server-side: the Service selectors a release pins belong to the reconciler, so it must force
  // them as Argo CD and Flux do (the webhook then keeps the pins); Helm 3 updates and needs nothing.
  const force = version === '4' ? ['--force-conflicts'] : [];
  const helm = (...args: string[]) =>
    run(version === '3' ? tools.helm3 : tools.helm4, [
      ...args,
      '-n',
      namespace,
      '--kubeconfig',
      env.cluster.kubeconfig,
    ]);
  const h = new ReleaseHarness(env.client, namespace, 'web');
  const images = async () =>
    [
      ...new Set((await h.pods()).map((p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image)),
    ].sort();
  const paused = async () => {
    const sub = await h.sub();
    return sub.currentStepIndex === 1 && sub.currentStepState === 'StepPaused';
  };

  helm('install', 'web', CHART, ...renderer);
  await explained(
    eventually('installed and Healthy', async () => (await h.rollout())?.status?.phase === 'Healthy'),
    logs,
  );
  helm('upgrade', 'web', CHART, '--set', 'image.tag=2', ...renderer, ...force);
  await explained(eventually(`helm ${version}: release paused at step 1`, paused), logs);
  assert.deepEqual(await images(), ['example/web:1', 'example/web:2'], 'both versions run while paused');
  // Approved at each pause, as `stepwise promote` would be, until it is released.
  await explained(
    eventually(`helm ${version}: released`, async () => {
      if (awaitsApproval(await h.rollout())) await h.promote();
      return (await h.rollout()).status?.phase === 'Healthy' && (await images()).length === 1;
    }),
    logs,
  );
  assert.deepEqual(await images(), ['example/web:2']);

  helm('upgrade', 'web', CHART, '--set', 'image.tag=3', ...renderer, ...force);
  await explained(eventually(`helm ${version}: next release paused at step 1`, paused), logs);
  helm('rollback', 'web', '2', ...force);
  await explained(
    eventually(
      `helm ${version}: rolled back`,
      async () => (await h.rollout()).status?.phase === 'Healthy' && (await images()).join() === 'example/web:2',
    ),
    logs,
  );
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'web-canary'), undefined, 'no canary route left');
}

test('the chart in charts/stepwise renders, under Helm 3 and 4, the objects `install --controller` applies', () => {
  const printed = stepwise([
    'install',
    '--controller',
    '-n',
    'stepwise-system',
    '--image',
    'registry.test/sw:1',
    '--dry-run',
  ]);
  assert.equal(printed.status, 0, printed.stderr);
  const installed = objects(printed.stdout).filter((o) => o.kind !== 'Namespace');
  const values = ['--set', 'image=registry.test/sw:1'];
  for (const helm of [tools.helm3, tools.helm4]) {
    const rendered = objects(
      run(helm, [
        'template',
        'stepwise',
        `${ROOT}charts/stepwise`,
        '-n',
        'stepwise-system',
        '--include-crds',
        ...values,
      ]),
    );
    const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    assert.deepEqual(rendered.map(key).sort(), installed.map(key).sort(), `${helm}: the same objects`);
    for (const o of installed)
      assert.deepEqual(
        rendered.find((r) => key(r) === key(o)),
        o,
        `${helm}: ${key(o)}`,
      );
    const scaled = objects(
      run(helm, ['template', 'stepwise', `${ROOT}charts/stepwise`, '--set', 'replicas=3,failOpen=true']),
    );
    const deployment = scaled.find((o) => o.kind === 'Deployment') as KubeObject & { spec: { replicas: number } };
    assert.equal(deployment.spec.replicas, 3);
    const webhook = scaled.find((o) => o.kind === 'MutatingWebhookConfiguration') as KubeObject & {
      webhooks: { failurePolicy: string }[];
    };
    assert.deepEqual([...new Set(webhook.webhooks.map((w) => w.failurePolicy))], ['Ignore']);
  }
  assert.match(run(tools.helm3, ['lint', `${ROOT}charts/stepwise`]), /0 chart\(s\) failed/);
});
