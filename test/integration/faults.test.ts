/**
 * The controller under API trouble, each fault during a release: the API server killed and restarted, and a
 * fault-injecting proxy between the controller and the API server (429 with Retry-After, 500 and 503, reset
 * connections, a connection stalled for 30 s, a Rollout whose writes keep failing). Every release completes,
 * each step once, while a monitor samples every 100 ms that no traffic goes to a version without a Ready pod.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { ProxiedRequest } from '../support/fault-proxy.js';
import { compactEtcd, eventually, explained, faultProxyFor, useCluster } from '../support/kube.js';
import { leadership, longestWithoutLeader, overlaps, ReleaseMonitor } from '../support/monitor.js';
import { StepwiseProcess } from '../support/processes.js';
import { ReleaseHarness, timedBlueGreen } from '../support/release.js';

const env = useCluster();

const spec = (image: string) => timedBlueGreen(image, [2, 4, 2]);

/** `stepwise controller` for one namespace, printing its stats every second. */
function controller(kubeconfig: string, namespace: string, identity: string, ...flags: string[]): StepwiseProcess {
  const args = ['controller', '--kubeconfig', kubeconfig, '-n', namespace, '--no-webhook', '--identity', identity];
  return new StepwiseProcess([...args, '--stats-every', '1', ...flags]);
}

/** The requests the controller retried, from its last stats line. */
function retriesOf(p: StepwiseProcess): number {
  const last = p.log.match(/^stats (.*)$/gm)?.at(-1);
  return last ? (JSON.parse(last.slice('stats '.length)) as { retries: number }).retries : 0;
}

/** A release from v1 to v2 under watch, driven by the controllers given; resolves once it is Healthy again. */
async function release(
  t: TestContext,
  namespace: string,
  start: () => Promise<StepwiseProcess[]>,
  beforeRelease: () => void = () => {},
) {
  const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1'));
  const controllers = await start();
  beforeRelease();
  const logs = () => controllers.map((c, i) => `controller ${i}:\n${c.log}`).join('\n');
  const monitor = new ReleaseMonitor(h);
  t.after(() => monitor.stop());
  await h.apply(spec('example/app:2'));
  // Healthy again after the last step: right after the apply the Rollout is still Healthy from before.
  const healthy = () =>
    explained(
      eventually(
        'the release completes',
        async () => monitor.steps.includes(3) && (await h.rollout()).status?.phase === 'Healthy',
        120_000,
      ),
      logs,
    );
  const atStep = (step: number) =>
    explained(
      eventually(`step ${step} paused`, async () => {
        const sub = await h.sub();
        return sub.currentStepIndex === step && sub.currentStepState === 'StepPaused';
      }),
      logs,
    );
  return { h, monitor, healthy, atStep, logs };
}

/** Releases completed, requests retried and the longest time without a leader, per fault: for bench/README.md. */
const figures: Record<string, { completed: boolean; retried: number; withoutLeaderMs: number }> = {};

test('kube-apiserver killed mid-step, etcd compacted meanwhile (410), restarted: one leader at a time', async (t) => {
  const exits = new Map<string, number>();
  const replicas: Record<string, StepwiseProcess> = {};
  const r = await release(t, 'apiserver-restart', async () => {
    for (const [id, state] of [
      ['a', /leading as a/],
      ['b', /waiting to lead/],
    ] as const) {
      const p = controller(env.cluster.kubeconfig, 'apiserver-restart', id, '--lease-duration', '6');
      p.child.once('exit', () => exits.set(id, Date.now()));
      replicas[id] = p;
      await p.waitFor(state);
    }
    return Object.values(replicas);
  });
  await r.atStep(2);
  const killedAt = Date.now();
  await env.cluster.kill('kube-apiserver');
  // History the watches would resume from is compacted away, as after a long outage on a busy cluster.
  await compactEtcd(env.cluster);
  await env.cluster.restart('kube-apiserver');
  const downMs = Date.now() - killedAt;
  await r.healthy();
  const problems = await r.monitor.stop();
  const spans = Object.entries(replicas).flatMap(([id, p]) => leadership(id, p, exits.get(id)));
  const withoutLeaderMs = longestWithoutLeader(spans, Date.now());
  const retried = Object.values(replicas).reduce((n, p) => n + retriesOf(p), 0);
  figures['kube-apiserver restart'] = { completed: true, retried, withoutLeaderMs };
  t.diagnostic(`API server down ${downMs} ms; longest without a leader ${withoutLeaderMs} ms; ${retried} retries`);
  for (const p of Object.values(replicas)) await p.stop();
  assert.deepEqual(overlaps(spans), [], 'never two leaders');
  for (const p of Object.values(replicas)) assert.match(p.log, /is gone \(410\); listing again/);
  assert.deepEqual(problems, []);
  assert.deepEqual(r.monitor.steps, [1, 2, 3]);
});

test(
  'a Rollout whose writes keep failing is retried with growing backoff, and says so in its status and in ' +
    'Warning Events',
  async (t) => {
    const { proxy, kubeconfig } = await faultProxyFor(env.cluster, 'failing', t);
    let c: StepwiseProcess | undefined;
    // client-go's backoff from 5 ms: the 12th retry waits 10 s (5 to 15 with jitter).
    const FAILURES = 12;
    // Pinning the stable Service, the release's first write: a merge patch is not idempotent, so the client
    // leaves it to the work queue to retry.
    const pin = (q: ProxiedRequest) => q.method === 'PATCH' && q.path.includes('/services/echoserver-service?');
    const r = await release(
      t,
      'failing',
      async () => {
        c = controller(kubeconfig, 'failing', 'solo');
        await c.waitFor(/leading as solo/);
        return [c];
      },
      () => proxy.respond(500, { match: pin, count: FAILURES }),
    );
    await r.healthy();
    const problems = await r.monitor.stop();
    const attempts = proxy.log.filter(pin).map((e) => e.at);
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] as number));
    const warnings = (await r.h.events()).filter((e) => e.reason === 'ReconcileFailed');
    t.diagnostic(`gaps between attempts (ms): ${gaps.join(', ')}; ${warnings.length} Warning Events`);
    figures[`a write failing ${FAILURES} times (500)`] = {
      completed: true,
      retried: retriesOf(c as StepwiseProcess),
      withoutLeaderMs: 0,
    };
    await c?.stop();
    assert.equal(proxy.count(500), FAILURES);
    const [last, early] = [gaps.at(-1) as number, Math.max(...gaps.slice(0, 3))];
    assert.ok(last > 2000 && last > 10 * early, `retries wait longer and longer, not a flat delay: ${gaps}`);
    assert.ok(warnings.length >= 2, 'Warning Events, not only log lines');
    assert.match(warnings[0]?.message ?? '', /^reconcile failed: .+; retrying in \d+ m?s$/);
    assert.ok(
      [...r.monitor.messages].some((m) => m.startsWith('reconcile failed: ')),
      `the status said so: ${[...r.monitor.messages]}`,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(r.monitor.steps, [1, 2, 3]);
  },
);

test(
  'through 429s with Retry-After, 500s and 503s, reset connections and one connection stalled for 30 s, the ' +
    'release completes',
  async (t) => {
    const { proxy, kubeconfig } = await faultProxyFor(env.cluster, 'flaky', t);
    let c: StepwiseProcess | undefined;
    const r = await release(t, 'flaky', async () => {
      c = controller(kubeconfig, 'flaky', 'solo');
      await c.waitFor(/leading as solo/);
      return [c];
    });
    const notLease = (q: ProxiedRequest) => !q.path.includes('/leases/');
    proxy.respond(429, { retryAfterSeconds: 1, count: 5, match: notLease });
    proxy.respond(503, { count: 5, match: notLease });
    proxy.respond(500, { count: 3, match: notLease });
    proxy.reset({ count: 3, match: notLease });
    proxy.stall({ ms: 30_000, count: 1, match: (q) => q.method === 'PUT' && q.path.includes('/rollouts/') });
    await r.healthy();
    const problems = await r.monitor.stop();
    const retried = retriesOf(c as StepwiseProcess);
    figures['429, 500, 503, resets, a 30 s stall'] = { completed: true, retried, withoutLeaderMs: 0 };
    const injected = proxy.log.filter((e) => e.outcome !== 'forwarded').map((e) => e.outcome);
    t.diagnostic(`${retried} requests retried; injected: ${injected.join(', ')}`);
    await c?.stop();
    assert.equal(proxy.count(429) + proxy.count(503) + proxy.count(500) + proxy.count('reset'), 16);
    assert.equal(proxy.count('stalled'), 1);
    assert.ok(retried > 0);
    assert.deepEqual(problems, []);
    assert.deepEqual(r.monitor.steps, [1, 2, 3]);
    t.diagnostic(`figures ${JSON.stringify(figures)}`);
  },
);
