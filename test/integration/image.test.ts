/**
 * The controller image, built by the project's own script without a daemon and run under podman against the test
 * control plane as a Pod of the installed controller would run (its ServiceAccount's token, the RBAC `install`
 * makes, no admin kubeconfig): reproducible, hands the Lease over on SIGTERM and on kill -9, drives a blue-green
 * release through its admission webhook, and reports it on /metrics. Then `install --controller` itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/k8s/objects.js';
import { controllerTimings, longestTakeoverMs } from '../../src/k8s/lease.js';
import { ROLLOUT_REF } from '../../src/reconciler/observe.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { stepwise } from '../support/cli.js';
import { kubectlApply, rolloutOf, synthesizeSources, withImage } from '../support/conformance.js';
import { buildImage, type BuiltImage, Podman, podCredentials } from '../support/image.js';
import { createNamespace, eventually, explained, useCluster } from '../support/kube.js';
import { leadership, overlaps, ReleaseMonitor } from '../support/monitor.js';
import { ROOT } from '../support/paths.js';
import type { StepwiseProcess } from '../support/processes.js';
import { ReleaseHarness, timedBlueGreen } from '../support/release.js';
import { freePorts, probe } from '../testenv/process.js';

const env = useCluster();
const HOME = 'stepwise-system';
const ACCOUNT = 'stepwise-reconciler';
/** The controller's default lease, which `install --controller` runs with. */
const LEASE_SECONDS = 15;
let image: BuiltImage;
let podman: Podman;
let imageId: string;
let credentials: Awaited<ReturnType<typeof podCredentials>>;

before(() => {
  image = buildImage();
  podman = new Podman();
  imageId = podman.load(image.archive);
});
after(() => podman?.close());

/** `stepwise install` (CRD, ServiceAccount, RBAC) in the controller's namespace, and that account's credentials. */
async function installed(...flags: string[]): Promise<void> {
  await createNamespace(env.client, HOME);
  const r = stepwise(['install', '--kubeconfig', env.cluster.kubeconfig, '-n', HOME, ...flags]);
  assert.equal(r.status, 0, r.stderr);
  credentials ??= await podCredentials(env.client, env.cluster, HOME, ACCOUNT);
}

interface Replica {
  identity: string;
  process: StepwiseProcess;
  metrics: string;
}

/** A containerized controller replica; with `webhookPort`, it serves the admission webhook there. */
async function replica(identity: string, webhookPort?: number): Promise<Replica> {
  const [metricsPort] = (await freePorts(1)) as [number];
  const webhook = webhookPort
    ? ['--webhook-port', String(webhookPort), '--webhook-bind-address', '127.0.0.1']
    : ['--no-webhook'];
  const args = [
    'controller',
    '-A',
    '--identity',
    identity,
    '--lease-namespace',
    HOME,
    '--metrics-bind-address',
    `127.0.0.1:${metricsPort}`,
    '--health-probe-bind-address',
    `127.0.0.1:${metricsPort}`,
    '--log-format',
    'json',
    ...webhook,
  ];
  const process = podman.run(`stepwise-${identity}`, imageId, args, {
    env: credentials.env,
    volumes: [credentials.volume],
  });
  const metrics = `http://127.0.0.1:${metricsPort}`;
  await explained(
    eventually('ready', async () => (await probe(`${metrics}/readyz`))?.status === 200, 60_000),
    () => process.log,
  );
  return { identity, process, metrics };
}

/** A metric's value on a replica's /metrics (the sum of its series whose labels include `labels`). */
async function metric(r: Replica, name: string, labels = ''): Promise<number> {
  const body = (await probe(`${r.metrics}/metrics`))?.body ?? '';
  return body
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const leads = (r: Replica, timeoutMs = 30_000) =>
  r.process.waitFor(new RegExp(`leading as ${r.identity}\\b`), timeoutMs);

test('two builds of one tree give the same manifest digest; the image runs stepwise as a non-root user', (t) => {
  const fresh = mkdtempSync(join(tmpdir(), 'stepwise-image-'));
  try {
    const again = buildImage(fresh);
    t.diagnostic(
      `digest ${image.digest}; archive ${(image.bytes / 2 ** 20).toFixed(1)} MiB, unpacked ` +
        `${(image.rootfsBytes / 2 ** 20).toFixed(1)} MiB; a fresh build took ${again.seconds} s`,
    );
    assert.match(image.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(again.digest, image.digest);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
  const config = JSON.parse(podman.podman(['image', 'inspect', imageId]))[0].Config as {
    User: string;
    Entrypoint: string[];
    Cmd: string[];
    Labels: Record<string, string>;
  };
  assert.equal(config.User, '65532:65532');
  assert.deepEqual([config.Entrypoint, config.Cmd], [['stepwise'], ['controller']]);
  const revision = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(config.Labels['org.opencontainers.image.revision']?.startsWith(revision));
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  assert.equal(config.Labels['org.opencontainers.image.version'], version);
});

const HANDOVER =
  'SIGTERM hands the Lease over within 2 s, kill -9 once the lease expires; the release goes on, each step once';
test(HANDOVER, async (t) => {
  await installed();
  const namespace = 'handover';
  const spec = (image: string) => timedBlueGreen(image, [4, 8, 2]);
  const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
  const a = await replica('a');
  await leads(a);
  const b = await replica('b');
  await b.process.waitFor(/waiting to lead/);
  const monitor = new ReleaseMonitor(h);
  t.after(() => monitor.stop());
  await h.apply(spec('example/app:2'));
  const logs = () => `a:\n${a.process.log}\nb:\n${b.process.log}`;
  await explained(
    eventually('step 1 paused', async () => (await h.sub()).currentStepState === 'StepPaused'),
    logs,
  );
  const terminated = Date.now();
  const aStopped = a.process.stop('SIGTERM');
  await explained(leads(b, 10_000), logs);
  const byTerm = Date.now() - terminated;
  await aStopped;
  assert.match(a.process.log, /gave up the Lease/);

  const c = await replica('c');
  await c.process.waitFor(/waiting to lead/);
  await eventually('step 2', async () => (await h.sub()).currentStepIndex === 2);
  const killed = Date.now();
  podman.kill('stepwise-b', 'KILL');
  await explained(leads(c, 30_000), logs);
  const byKill = Date.now() - killed;
  await explained(
    eventually('released', async () => (await h.rollout()).status?.phase === 'Healthy', 90_000),
    () => `${logs()}\nc:\n${c.process.log}`,
  );
  const problems = await monitor.stop();
  t.diagnostic(`standby led ${byTerm} ms after SIGTERM, ${byKill} ms after kill -9 (lease ${LEASE_SECONDS} s)`);
  const spans = [...leadership('a', a.process), ...leadership('b', b.process, killed), ...leadership('c', c.process)];
  await c.process.stop();
  assert.ok(byTerm <= 2000, `SIGTERM: the standby led after ${byTerm} ms`);
  // Counted from the kill, not from the last renewal the standby saw (see longestTakeoverMs); API calls add a little.
  const bound = longestTakeoverMs(controllerTimings(LEASE_SECONDS)) + 500;
  assert.ok(byKill <= bound, `kill -9: the standby led after ${byKill} ms, more than ${bound} ms`);
  assert.deepEqual(overlaps(spans), [], 'never two leaders');
  assert.deepEqual(problems, []);
  assert.deepEqual(monitor.steps, [1, 2, 3]);
});

const RELEASE =
  'the containerized controller releases a change kubectl applies, through its webhook, shows it on /metrics';
test(RELEASE, async (t) => {
  const [webhookPort] = (await freePorts(1)) as [number];
  await installed('--webhook-url', `https://127.0.0.1:${webhookPort}`);
  const namespace = 'webhook';
  await createNamespace(env.client, namespace);
  const spec = timedBlueGreen('example/app:1', [1, 1, 1]);
  const v1 = synthesizeSources([{ file: 'web.yaml', text: spec }], 'builtin', namespace);
  const a = await replica('w', webhookPort);
  await leads(a);
  await kubectlApply(env.cluster.kubeconfig, v1);
  const rollout = { ...ROLLOUT_REF, namespace, name: rolloutOf(v1).metadata.name };
  const healthy = async () => {
    const r = await env.client.get<RolloutObject>(rollout);
    return r?.status?.phase === 'Healthy' && r.status.observedGeneration === r.metadata.generation && r;
  };
  await explained(eventually('v1 Healthy', healthy), () => a.process.log);
  await kubectlApply(env.cluster.kubeconfig, withImage(v1, 'example/app:2'));
  const done = await explained(
    eventually(
      'v2 released',
      async () => {
        const r = await healthy();
        const succeeded = r ? r.status?.conditions?.some((c) => c.type === 'Succeeded' && c.status === 'True') : false;
        return succeeded && r;
      },
      90_000,
    ),
    () => a.process.log,
  );
  assert.match(a.process.log, /"level":"info"/, 'JSON logs');
  const reviews = await metric(a, 'stepwise_webhook_review_duration_seconds_count');
  const steps = await metric(a, 'stepwise_step_duration_seconds_count', 'strategy="blueGreen"');
  t.diagnostic(`${reviews} webhook reviews; ${steps} steps timed; status ${done.status?.message}`);
  assert.equal(await metric(a, 'stepwise_leader'), 1);
  assert.ok(reviews >= 1, 'the change came through the webhook');
  assert.equal(steps, 3, 'each of the three steps timed once');
  assert.ok((await metric(a, 'stepwise_reconcile_total', 'result="success"')) > 0);
  assert.ok((await metric(a, 'stepwise_releases', 'phase="Healthy"')) >= 1);
  await a.process.stop();
});

const INSTALL =
  'install --controller: a server-side dry run accepts it, installing again changes nothing, uninstall removes it';
test(INSTALL, async () => {
  const flags = ['--kubeconfig', env.cluster.kubeconfig, '--controller', '--image', imageId];
  const printed = stepwise(['install', ...flags, '--dry-run']);
  assert.equal(printed.status, 0, printed.stderr);
  const objects = parseAllDocuments(printed.stdout).map((d) => d.toJS() as KubeObject);
  assert.deepEqual(
    objects.map((o) => o.kind).filter((k) => ['Namespace', 'Deployment', 'PodDisruptionBudget', 'Service'].includes(k)),
    ['Namespace', 'Deployment', 'PodDisruptionBudget', 'Service'],
  );
  // The namespace exists already (the tests above made it): every object is judged as the API server would.
  for (const o of objects) await env.client.apply(o, { dryRun: true, force: true });
  const first = stepwise(['install', ...flags]);
  assert.equal(first.status, 0, first.stderr);
  const second = stepwise(['install', ...flags]);
  assert.equal(second.status, 0, second.stderr);
  const changes = second.stdout.trim().split('\n');
  assert.equal(changes.length, objects.length);
  assert.deepEqual(
    changes.filter((line) => !line.endsWith(' unchanged')),
    [],
  );
  const keep = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'users-own', namespace: HOME } };
  await env.client.apply(keep);
  const removed = stepwise(['uninstall', '--kubeconfig', env.cluster.kubeconfig, '--controller']);
  assert.equal(removed.status, 0, removed.stderr);
  for (const o of objects) {
    const live = await env.client.get({ ...o, name: o.metadata.name, namespace: o.metadata.namespace });
    const kept = o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition';
    assert.equal(live !== undefined, kept, `${o.kind} ${o.metadata.name} ${kept ? 'kept' : 'removed'}`);
  }
  assert.ok(await env.client.get({ ...keep, name: 'users-own', namespace: HOME }), "the user's own object stays");
});
