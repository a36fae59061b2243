/**
 * Metric analysis against a real Prometheus (Debian's package) scraping metrics shaped as ingress-nginx exports
 * them, on the real control plane: a healthy canary promotes, an error spike and a latency breach roll back at
 * once (traffic on stable, new pods gone, template restored), and no data follows each `noData` policy.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { Workload } from '../../src/reconciler/observed.js';
import { awaitsApproval } from '../../src/reconciler/run.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { eventually, useCluster } from '../support/kube.js';
import { IngressMetrics, type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { analyzedCanary, ReleaseHarness } from '../support/release.js';

const env = useCluster();
const metrics = new IngressMetrics('web');
let prometheus: RunningPrometheus;

/** Webhook receivers on 127.0.0.1: each path answers the status set for it (200 by default), and keeps each body. */
class Receivers {
  readonly answers = new Map<string, number>();
  readonly received: { path: string; body: Record<string, unknown> }[] = [];
  private server?: Server;
  address = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, body: JSON.parse(body || '{}') as Record<string, unknown> });
        res.writeHead(this.answers.get(path) ?? 200, { 'content-type': 'text/plain' }).end(`answer for ${path}`);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.address = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  calls(path: string) {
    return this.received.filter((r) => r.path === path);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
const hooks = new Receivers();

before(async () => {
  prometheus = await startPrometheus(await metrics.start());
  await hooks.start();
  await prometheus.scraped(3);
});
after(async () => {
  await prometheus?.stop();
  await metrics.stop();
  await hooks.stop();
});

/** Webhooks on the receivers, each `[name, type, path]`. */
const webhooks = (...list: [string, string, string][]) => list.map(([name, type, path]) => ({ name, type, path }));

interface AnalysisOptions {
  noData?: string;
  inconclusiveLimit?: number;
  webhooks?: { name: string; type: string; path: string }[];
}

/** A canary checked every 2 s on both built-in metrics, over rates of the last 10 s. */
function spec(image: string, options: AnalysisOptions = {}): string {
  const metric = (name: string, template: string, thresholdRange: object) => ({
    name,
    template,
    thresholdRange,
    interval: '10s',
  });
  return analyzedCanary(image, {
    intervalSeconds: 2,
    noData: options.noData ?? 'inconclusive',
    inconclusiveLimit: options.inconclusiveLimit ?? 0,
    prometheus: { address: prometheus.address },
    metrics: [
      metric('success', 'request-success-rate', { min: 99 }),
      metric('latency', 'request-duration', { max: 500 }),
    ],
    ...(options.webhooks
      ? {
          webhooks: options.webhooks.map(({ name, type, path }) => ({
            name,
            type,
            url: `${hooks.address}${path}`,
            metadata: { cmd: 'hey -z 1m' },
          })),
        }
      : {}),
  });
}

/** v1 deployed, v2 applied: the release under analysis, with the canary traffic `metrics` reports from now. */
async function release(namespace: string, analysis?: AnalysisOptions): Promise<ReleaseHarness> {
  metrics.namespace = namespace;
  const h = await ReleaseHarness.deployed(env.client, namespace, spec('example/app:1', analysis));
  await h.apply(spec('example/app:2', analysis));
  return h;
}

const image = async (h: ReleaseHarness) =>
  ((await h.get<Workload>('apps/v1', 'Deployment', 'web'))!.spec.template.spec as { containers: { image: string }[] })
    .containers[0]!.image;

/** The Rollout's Succeeded condition: ['True'] after a release completed, ['False'] after a rollback. */
const succeeded = (r: RolloutObject) =>
  r.status?.conditions?.filter((c) => c.type === 'Succeeded').map((c) => c.status);

/** Runs `body` while the metrics endpoint serves no series of the canary at all. */
async function withoutSeries(body: () => Promise<void>): Promise<void> {
  metrics.exported = false;
  try {
    await body();
  } finally {
    metrics.exported = true;
  }
}

async function assertRolledBack(h: ReleaseHarness, rollout: RolloutObject, failed: RegExp): Promise<void> {
  assert.equal(rollout.status?.phase, 'Healthy');
  assert.deepEqual(succeeded(rollout), ['False']);
  assert.match(rollout.status?.analysis?.failure ?? '', failed);
  const rolling = (await h.events()).find((e) => e.reason === 'RollingBack');
  assert.match(rolling?.message ?? '', /^analysis failed: /);
  assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'web-canary'), undefined, 'no canary route');
  assert.equal(await image(h), 'example/app:1', 'the workload template is back at the stable version');
  await eventually('only stable pods', async () => Object.keys(await h.podsByRevision()).length === 1);
}

test('a healthy canary passes every check and completes, each check recorded with its values', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  const h = await release('analysis-ok');
  const done = await h.run('done');
  assert.equal(done.status?.phase, 'Healthy');
  assert.deepEqual(succeeded(done), ['True']);
  const checks = done.status?.analysis?.checks ?? [];
  assert.deepEqual([...new Set(checks.map((c) => c.step))], [1, 2], 'both steps were analyzed');
  assert.ok(checks.every((c) => c.verdict === 'Passed'));
  for (const c of checks) {
    const [success, latency] = c.metrics;
    assert.equal(success?.value, 100);
    assert.ok(Math.abs((latency?.value ?? 0) - 50) < 1, `latency ${latency?.value} ms`);
  }
  const passed = (await h.events()).filter((e) => e.reason === 'AnalysisPassed');
  assert.ok(passed.length >= 2);
  assert.match(passed[0]?.message ?? '', /^step 1: success = 100 \(≥ 99\); latency = 50(\.\d+)? \(≤ 500\)$/);
});

test('an error spike rolls the release back at the first failed check', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0.5, latencySeconds: 0.05 };
  const h = await release('analysis-errors');
  // Half the requests fail; rate() extrapolates the two counters' first samples differently, so about 50.
  const failure = /^success = (4\d|5\d)(\.\d+)?, below the minimum 99 \(1 failed check at step 1, failureLimit 0\)$/;
  await assertRolledBack(h, await h.run('done'), failure);
});

test('a latency breach rolls the release back, naming the metric and its value', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.8 };
  const h = await release('analysis-latency');
  await assertRolledBack(h, await h.run('done'), /^latency = 800, above the maximum 500/);
});

test('no data, inconclusive: the release waits for a person, says why, and goes on when promoted', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  await withoutSeries(async () => {
    const h = await release('analysis-nodata');
    const halted = await h.run();
    assert.ok(awaitsApproval(halted));
    assert.deepEqual([halted.status?.currentStepIndex, halted.status?.currentStepState], [1, 'StepMetricsAnalysis']);
    const noData = 'no data (the query returned no series); noData: inconclusive';
    assert.ok(
      halted.status?.message?.includes(`analysis inconclusive: success: ${noData}; latency: ${noData} (1 inconclusive`),
      halted.status?.message,
    );
    assert.match(halted.status?.message ?? '', /waiting for a person: stepwise promote goes on/);
    assert.ok((await h.events()).some((e) => e.reason === 'AnalysisInconclusive'));
    metrics.exported = true;
    await h.promote();
    const done = await h.run('done');
    assert.deepEqual(succeeded(done), ['True']);
  });
});

test('no data, fail: counted as a failed check, so the release rolls back', async () => {
  await withoutSeries(async () => {
    const h = await release('analysis-nodata-fail', { noData: 'fail' });
    await assertRolledBack(h, await h.run('done'), /^success: no data \(the query returned no series\); noData: fail/);
  });
});

test('no data, pass: the release goes on without the metrics, and says so in every check', async () => {
  await withoutSeries(async () => {
    const h = await release('analysis-nodata-pass', { noData: 'pass' });
    const done = await h.run('done');
    assert.deepEqual(succeeded(done), ['True']);
    assert.ok(done.status?.analysis?.checks.every((c) => c.metrics.every((m) => /noData: pass$/.test(m.message))));
  });
});

test('webhooks: load at every check, a confirm-promotion gate holding until it says yes, post-rollout', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  hooks.answers.set('/gate', 403);
  const list = webhooks(
    ['load', 'rollout', '/load'],
    ['promote', 'confirm-promotion', '/gate'],
    ['tell', 'post-rollout', '/tell'],
  );
  const h = await release('hooks-gate', { webhooks: list });
  const done = h.run('done');
  await eventually('the gate asked twice, the release held at the last step', async () => {
    const r = await h.rollout();
    return (
      hooks.calls('/gate').length >= 2 && r.status?.currentStepState === 'StepReady' && r.status.phase === 'Progressing'
    );
  });
  assert.match(
    (await h.rollout()).status?.message ?? '',
    /waiting for webhooks: promote: HTTP 403 \(answer for \/gate\)/,
  );
  const asked = hooks.calls('/gate')[0]?.body;
  assert.deepEqual(
    [asked?.name, asked?.namespace, asked?.phase, typeof asked?.checksum, asked?.metadata],
    ['web', 'hooks-gate', 'WaitingPromotion', 'string', { cmd: 'hey -z 1m' }],
  );
  hooks.answers.set('/gate', 200);
  const rollout = await done;
  assert.deepEqual(succeeded(rollout), ['True']);
  const loads = hooks.calls('/load');
  assert.ok(loads.length >= 2 && loads.every((l) => l.body.phase === 'Progressing'), 'load called with every check');
  assert.ok(
    rollout.status?.analysis?.checks.every((c) => c.metrics.some((m) => m.metric === 'load' && m.verdict === 'Passed')),
  );
  await eventually('post-rollout told once', async () => hooks.calls('/tell').length === 1);
  assert.equal(hooks.calls('/tell')[0]?.body.phase, 'Succeeded');
});

test('webhooks: a rollback webhook that says yes rolls the release back; post-rollout hears it failed', async () => {
  metrics.traffic = { rps: 20, errorRatio: 0, latencySeconds: 0.05 };
  const list = webhooks(['stop', 'rollback', '/stop'], ['tell', 'post-rollout', '/tell-failed']);
  const h = await release('hooks-rollback', { webhooks: list });
  await assertRolledBack(
    h,
    await h.run('done'),
    /^the rollback webhook stop: HTTP 200 \(answer for \/stop\) asked for a rollback$/,
  );
  await eventually('post-rollout told', async () => hooks.calls('/tell-failed').length === 1);
  assert.equal(hooks.calls('/tell-failed')[0]?.body.phase, 'Failed');
});

test('webhooks: a pre-rollout webhook saying no is a failed check, before any traffic reaches the canary', async () => {
  hooks.answers.set('/pre', 500);
  const h = await release('hooks-pre', { webhooks: webhooks(['smoke', 'pre-rollout', '/pre']) });
  const rollout = await h.run('done');
  await assertRolledBack(
    h,
    rollout,
    /^smoke: HTTP 500 \(answer for \/pre\) \(pre-rollout, 1 failed check, failureLimit 0\)$/,
  );
  assert.equal(hooks.calls('/pre').length, 3, 'tried 3 times: a 5xx is tried again twice');
  assert.equal(rollout.status?.analysis?.checks.length ?? 0, 0, 'no metric check: the step never routed traffic');
});
