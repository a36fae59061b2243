/**
 * Leader election and start-up against the real API server, as client-go does them: expiry judged by this
 * process's own observation, a renew deadline that stops the leader before anyone else may lead, the Lease given
 * up on SIGTERM, and a replica that cannot sync never competing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { RECONCILER_RULES } from '../../src/install/rbac.js';
import { CONTROLLER_LEASE, LeaderElector, longestTakeoverMs } from '../../src/k8s/lease.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import {
  createNamespace,
  eventually,
  explained,
  faultProxyFor,
  serviceAccountToken,
  useCluster,
} from '../support/kube.js';
import { leadership, longestWithoutLeader, overlaps, ReleaseMonitor } from '../support/monitor.js';
import { StepwiseProcess } from '../support/processes.js';
import { ReleaseHarness, timedBlueGreen } from '../support/release.js';

const env = useCluster();

const leaseRef = (namespace: string) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  name: CONTROLLER_LEASE,
  namespace,
});
type Lease = KubeObject & { spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } };
const holder = async (namespace: string) => (await env.client.get<Lease>(leaseRef(namespace)))?.spec.holderIdentity;

/** `stepwise controller` for one namespace (no webhook: nothing here needs one), logging to its stderr. */
function controller(kubeconfig: string, namespace: string, identity: string, ...flags: string[]): StepwiseProcess {
  return new StepwiseProcess([
    'controller',
    '--kubeconfig',
    kubeconfig,
    '-n',
    namespace,
    '--no-webhook',
    '--identity',
    identity,
    ...flags,
  ]);
}

/** Resolves with the time (ms) the process exited, and its exit code; fails if it runs on past `timeoutMs`. */
const exited = (p: StepwiseProcess, timeoutMs = 30_000) =>
  new Promise<{ at: number; code: number | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs).unref();
    const done = (code: number | null) => {
      clearTimeout(timer);
      resolve({ at: Date.now(), code });
    };
    if (!p.running) done(p.child.exitCode);
    else p.child.once('exit', done);
  });

test('a Lease that keeps changing is not taken, whatever its renewTime says (clock skew)', async () => {
  const namespace = 'skew';
  await createNamespace(env.client, namespace);
  // A holder on a machine whose clock is an hour behind: every renewTime it writes is an hour old.
  const skewed = () => new Date(Date.now() - 3_600_000).toISOString().replace('Z', '000Z');
  const lease = await env.client.create<Lease>({
    ...leaseRef(namespace),
    metadata: { name: CONTROLLER_LEASE, namespace },
    spec: { holderIdentity: 'behind', leaseDurationSeconds: 2, renewTime: skewed() },
  } as KubeObject);
  let renewing = true;
  const renewals = (async () => {
    let current = lease;
    while (renewing) {
      current = await env.client.replace<Lease>({ ...current, spec: { ...current.spec, renewTime: skewed() } });
      await new Promise((r) => setTimeout(r, 400));
    }
  })();
  const elector = new LeaderElector(env.client, { ...leaseRef(namespace), identity: 'here', leaseSeconds: 2 });
  let ledAt: number | undefined;
  const run = elector.run({ onStartedLeading: () => (ledAt = Date.now()), onStoppedLeading: () => {} });
  try {
    // Three lease durations of a holder renewing with stale times: it leads all along.
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(ledAt, undefined, 'took a lease whose holder kept renewing it');
    assert.equal(await holder(namespace), 'behind');
    renewing = false;
    await renewals;
    const stoppedAt = Date.now();
    await eventually('the elector leads once the holder stopped renewing', async () => ledAt !== undefined, 10_000);
    const waitedMs = Number(ledAt) - stoppedAt;
    assert.ok(waitedMs >= 1500, `waited a lease duration from the last change seen, not ${waitedMs} ms`);
    const longest = longestTakeoverMs({ leaseSeconds: 2 }) + 500;
    assert.ok(waitedMs <= longest, `led ${waitedMs} ms after the last renewal, more than ${longest} ms`);
    assert.equal(await holder(namespace), 'here');
  } finally {
    renewing = false;
    await elector.release();
    await run;
  }
});

test(
  'a leader whose connection stalls stops acting at its renew deadline, and only then does the standby lead; ' +
    'the release in progress completes with each step once and no traffic to a version without Ready pods',
  async (t) => {
    const namespace = 'stall';
    const spec = (image: string) => timedBlueGreen(image, [2, 6, 2]);
    const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
    const { proxy, kubeconfig: viaProxy } = await faultProxyFor(env.cluster, 'stall-a', t);
    const a = controller(viaProxy, namespace, 'a', '--lease-duration', '6');
    await a.waitFor(/leading as a/);
    const b = controller(env.cluster.kubeconfig, namespace, 'b', '--lease-duration', '6');
    await b.waitFor(/waiting to lead/);
    const aExit = exited(a);
    const monitor = new ReleaseMonitor(h);
    t.after(() => monitor.stop());
    const logs = () => `a:\n${a.log}\nb:\n${b.log}`;
    await h.apply(spec('example/app:2'));
    const stalledAt = await explained(
      eventually('step 2 paused', async () => {
        const sub = await h.sub();
        return sub.currentStepIndex === 2 && sub.currentStepState === 'StepPaused' && Date.now();
      }),
      logs,
    );
    proxy.stallAll();
    const { at: aExitedAt, code } = await explained(aExit, logs);
    await explained(b.waitFor(/leading as b/, 30_000), logs);
    await explained(
      eventually('released by b', async () => (await h.rollout()).status?.phase === 'Healthy', 90_000),
      logs,
    );
    const problems = await monitor.stop();
    const spans = [...leadership('a', a, aExitedAt), ...leadership('b', b)];
    const bLed = spans.find((s) => s.identity === 'b')?.from ?? Number.NaN;
    t.diagnostic(
      `a stopped ${aExitedAt - stalledAt} ms after its connection stalled; b led ${bLed - aExitedAt} ms after that; ` +
        `longest without a leader ${longestWithoutLeader(spans, Date.now())} ms; ${monitor.samples} samples`,
    );
    await b.stop();
    assert.equal(code, 1, 'the deposed leader exits non-zero');
    assert.match(a.log, /stopped leading \(no renewal of the Lease within 4 s\)/);
    assert.deepEqual(overlaps(spans), [], 'never two leaders');
    assert.ok(bLed > aExitedAt, 'b led only after a had stopped');
    assert.deepEqual(
      proxy.forwardedWrites().filter((at) => at >= stalledAt),
      [],
      'nothing a wrote reached the API server after its connection stalled',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(monitor.steps, [1, 2, 3]);
  },
);

test('SIGTERM gives the Lease up: the standby leads at once instead of after the lease duration', async (t) => {
  const namespace = 'handover';
  await createNamespace(env.client, namespace);
  const a = controller(env.cluster.kubeconfig, namespace, 'a', '--lease-duration', '15');
  await a.waitFor(/leading as a/);
  const b = controller(env.cluster.kubeconfig, namespace, 'b', '--lease-duration', '15');
  await b.waitFor(/waiting to lead/);
  const asked = Date.now();
  await a.stop('SIGTERM');
  assert.equal(a.child.exitCode, 0);
  assert.match(a.log, /gave up the Lease/);
  await b.waitFor(/leading as b/, 14_000);
  const tookMs = Date.now() - asked;
  t.diagnostic(`the standby led ${tookMs} ms after the leader was sent SIGTERM (lease duration 15 s)`);
  await b.stop();
  assert.ok(tookMs < 8000, `the standby led ${tookMs} ms after SIGTERM, well within the 15 s lease`);
});

test('a replica that cannot list what releases read (403) exits non-zero and never takes the Lease', async () => {
  const namespace = 'forbidden';
  await createNamespace(env.client, namespace);
  const kubeconfig = await serviceAccountKubeconfig(namespace, 'no-pods', (r) => !r.resources.includes('pods'));
  const c = controller(kubeconfig, namespace, 'x', '--lease-duration', '3');
  const { code } = await exited(c);
  assert.equal(code, 1);
  assert.match(c.log, /pods is forbidden/);
  assert.doesNotMatch(c.log, /leading as/);
  assert.equal(await env.client.get(leaseRef(namespace)), undefined, 'no Lease was taken');
});

/**
 * A kubeconfig for a ServiceAccount bound to the reconciler's rules that `keep` keeps: the credentials a
 * controller in the cluster would have, short of something.
 */
async function serviceAccountKubeconfig(
  namespace: string,
  name: string,
  keep: (rule: (typeof RECONCILER_RULES)[number]) => boolean,
): Promise<string> {
  const meta = { name: `${namespace}-${name}` };
  await env.client.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
  await env.client.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta,
    rules: RECONCILER_RULES.filter(keep),
  } as KubeObject);
  await env.client.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta,
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: meta.name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  } as KubeObject);
  const token = await serviceAccountToken(env.client, namespace, name);
  const file = `${env.cluster.state.runDir}/${namespace}-${name}.kubeconfig`;
  const cluster = {
    server: env.cluster.state.server,
    'certificate-authority': `${env.cluster.state.runDir}/pki/ca.crt`,
  };
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  return file;
}
