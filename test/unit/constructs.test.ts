import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiObject, Chart, Duration, JsonPatch, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parseAllDocuments } from 'yaml';
import { Rollout, StepwiseApp } from '../../constructs/index.js';
import { renderApp } from '../../src/render/app.js';
import { ROLLOUT_NAME_LABEL } from '../../src/render/labels.js';
import { SpecError } from '../../src/appspec/errors.js';
import { loadApps } from '../../src/appspec/load.js';
import { ROOT } from '../support/paths.js';

const exampleSpec = (f: string) => loadApps([{ file: f, text: readFileSync(`${ROOT}examples/${f}`, 'utf8') }]).apps[0]!;

test('StepwiseApp synthesizes the same objects as `stepwise synth`', () => {
  for (const f of ['blue-green.yaml', 'canary-gateway.yaml', 'ab-test.yaml']) {
    for (const engine of ['builtin', 'kruise'] as const) {
      const loaded = exampleSpec(f);
      const chart = Testing.chart();
      new StepwiseApp(chart, 'app', { spec: loaded.spec, engine });
      assert.deepEqual(
        Testing.synth(chart),
        JSON.parse(JSON.stringify(renderApp(loaded.app, engine))),
        `${f} ${engine}`,
      );
    }
  }
});

test('StepwiseApp validates eagerly and names every problem', () => {
  const spec = structuredClone(exampleSpec('blue-green.yaml').spec);
  spec.spec.rollout.steps![1]!.replicas = '50%';
  (spec.spec.workload as any).replica = 2;
  assert.throws(
    () => new StepwiseApp(Testing.chart(), 'web', { spec }),
    (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.match(
        e.message,
        /^test\/web: spec\.workload\.replica: unknown field "replica"; did you mean "replicas"\?$/m,
      );
      assert.match(
        e.message,
        /^test\/web: spec\.rollout\.steps\[1\]\.replicas: replicas must not decrease: 50% after 100%/m,
      );
      return true;
    },
  );
});

function webChart() {
  const chart = Testing.chart();
  const deployment = new kplus.Deployment(chart, 'web', {
    metadata: { name: 'web', labels: { team: 'a' } },
    replicas: 4,
    containers: [{ image: 'web:1', portNumber: 8080 }],
  });
  const service = new kplus.Service(chart, 'svc', {
    metadata: { name: 'web' },
    ports: [{ port: 80, targetPort: 8080 }],
  });
  service.selectLabel('app', 'web');
  const ingress = new kplus.Ingress(chart, 'ing', { metadata: { name: 'web' }, className: 'nginx' });
  ingress.addHostRule('web.example.com', '/', kplus.IngressBackend.fromService(service));
  return { chart, deployment, service, ingress };
}

test('Rollout attaches to cdk8s-plus objects, changing nothing on them but the label that names their Rollout', () => {
  const before = webChart();
  const untouched = Testing.synth(before.chart);
  const after = webChart();
  const rollout = Rollout.blueGreen(after.chart, 'release', {
    workload: after.deployment,
    service: after.service,
    ingress: after.ingress,
    steps: [
      { replicas: '100%', traffic: '0%' },
      { replicas: '100%', traffic: '100%' },
    ],
  });
  const objects = Testing.synth(after.chart);
  const labelled = untouched.map((o: any) => ({
    ...o,
    metadata: { ...o.metadata, labels: { ...o.metadata.labels, [ROLLOUT_NAME_LABEL]: 'web' } },
  }));
  assert.deepEqual(objects.slice(0, untouched.length), labelled);
  const [emitted, canary] = objects.slice(untouched.length);
  assert.deepEqual(emitted.spec.workloadRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' });
  assert.deepEqual(emitted.spec.strategy.blueGreen.trafficRoutings, [
    { service: 'web', gracePeriodSeconds: 3, ingress: { classType: 'nginx', name: 'web' } },
  ]);
  assert.deepEqual(emitted.metadata.labels, { team: 'a' });
  assert.equal(canary.metadata.name, 'web-canary');
  assert.deepEqual(canary.spec.selector, { app: 'web' });
  assert.equal(rollout.plan.steps.length, 2);
});

test('the canary Service follows later changes to the stable Service', () => {
  const { chart, deployment, service, ingress } = webChart();
  Rollout.canary(chart, 'release', {
    workload: deployment,
    service,
    ingress,
    steps: [{ replicas: 1, traffic: '10%' }],
  });
  service.bind(9090, { name: 'metrics', targetPort: 9090 });
  const canary = Testing.synth(chart).find((o) => o.metadata.name === 'web-canary');
  assert.deepEqual(
    canary.spec.ports.map((p: any) => p.port),
    [80, 9090],
  );
});

test('Rollout on raw ApiObjects, with the kruise engine: no canary Service', () => {
  const chart = Testing.chart();
  const workload = new ApiObject(chart, 'sts', {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db' },
  });
  const service = new ApiObject(chart, 'svc', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'db' },
    spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] },
  });
  const route = new ApiObject(chart, 'route', {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'db' },
  });
  const rollout = Rollout.canary(chart, 'release', {
    workload,
    service,
    httpRoute: route,
    engine: 'kruise',
    steps: [{ replicas: 1, traffic: '20%' }],
  });
  assert.equal(rollout.canaryService, undefined);
  const emitted = Testing.synth(chart).find((o) => o.kind === 'Rollout');
  assert.equal(emitted.apiVersion, 'rollouts.kruise.io/v1beta1');
  assert.deepEqual(emitted.spec.strategy.canary.trafficRoutings, [
    { service: 'db', gracePeriodSeconds: 3, gateway: { httpRouteName: 'db' } },
  ]);
  assert.equal(
    emitted.spec.strategy.canary.enableExtraWorkloadForCanary,
    undefined,
    'a StatefulSet is released in place',
  );
});

test('Rollout rejects what cannot work, naming the construct and field', () => {
  const { chart, deployment, service, ingress } = webChart();
  assert.throws(
    () =>
      Rollout.canary(chart, 'bad', {
        workload: deployment,
        service,
        ingress,
        steps: [{ replicas: '60%', traffic: '0%' }, { replicas: '10%' }],
      }),
    (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.match(e.message, /^test\/bad: steps\[0\]\.traffic: traffic must be in \(0%, 100%\], got 0%/m);
      assert.match(
        e.message,
        /^test\/bad: steps\[1\]\.replicas: replicas must not decrease: 10% after 60% in the step before$/m,
      );
      return true;
    },
  );
  assert.throws(
    () => Rollout.canary(chart, 'svc-as-workload', { workload: ApiObject.of(service), steps: [{ replicas: 1 }] }),
    /test\/svc-as-workload: workload must be a Deployment or a StatefulSet, got Service "web"/,
  );
  assert.throws(
    () => Rollout.canary(chart, 'no-svc', { workload: deployment, ingress, steps: [{ replicas: 1 }] }),
    /a route needs the stable service/,
  );
  assert.throws(
    () =>
      Rollout.canary(chart, 'wrong-route', {
        workload: deployment,
        service,
        ingress: ApiObject.of(service),
        steps: [{ replicas: 1 }],
      }),
    /ingress must be an Ingress, got Service "web"/,
  );
});

test('the cdk8s example synthesizes with `cdk8s synth` through cdk8s.yaml', () => {
  const out = mkdtempSync(join(tmpdir(), 'stepwise-cdk8s-'));
  const r = spawnSync('npx', ['cdk8s', 'synth', '--output', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['search.k8s.yaml', 'storefront.k8s.yaml', 'web.k8s.yaml']);
  const kinds = (f: string) =>
    parseAllDocuments(readFileSync(join(out, f), 'utf8')).map((d) => `${d.get('apiVersion')}/${d.get('kind')}`);
  assert.deepEqual(kinds('web.k8s.yaml').sort(), [
    'apps/v1/Deployment',
    'networking.k8s.io/v1/Ingress',
    'stepwise.dev/v1alpha1/Rollout',
    'v1/Service',
    'v1/Service',
  ]);
  assert.ok(kinds('search.k8s.yaml').includes('rollouts.kruise.io/v1beta1/Rollout'));
  assert.ok(kinds('search.k8s.yaml').includes('gateway.networking.k8s.io/v1/HTTPRoute'));
  assert.ok(new Chart(Testing.app(), 'c'), 'cdk8s loads');
});

test('pauses, the grace period and the progress deadline take cdk8s Durations, rendered as whole seconds', () => {
  const { chart, deployment, service, ingress } = webChart();
  const rollout = Rollout.canary(chart, 'release', {
    workload: deployment,
    service,
    ingress,
    steps: [
      { replicas: '20%', traffic: '20%', pause: { duration: Duration.minutes(5) } },
      { replicas: '50%', traffic: '50%', pause: {} },
      { replicas: '100%' },
    ],
    gracePeriod: Duration.seconds(10),
    progressDeadline: Duration.minutes(15),
  });
  const steps = rollout.plan.steps.map((s) => s.pause);
  assert.deepEqual(steps.slice(0, 2), [{ duration: 300 }, {}]);
  const spec = rollout.apiObject.toJson().spec;
  assert.deepEqual(
    [spec.strategy.canary.trafficRoutings[0].gracePeriodSeconds, spec.progressDeadlineSeconds],
    [10, 900],
  );
  assert.throws(
    () =>
      Rollout.canary(chart, 'fractional', {
        workload: deployment,
        steps: [{ replicas: 1, pause: { duration: Duration.millis(1500) } }],
      }),
    /test\/fractional: steps\[0\]\.pause\.duration: 1 second 500 millis is not a whole number of seconds$/,
  );
});

test('the canary Service follows later changes to the stable one, and keeps labels and patches made on it', () => {
  const { chart, deployment, service, ingress } = webChart();
  const rollout = Rollout.blueGreen(chart, 'release', {
    workload: deployment,
    service,
    ingress,
    steps: [{ replicas: 1 }],
  });
  const canary = rollout.canaryService!;
  canary.metadata.addLabel('tier', 'canary');
  canary.addJsonPatch(JsonPatch.add('/metadata/annotations', { 'example.com/owner': 'team-a' }));
  service.bind(9090, { name: 'metrics' });
  const synthesized = Testing.synth(chart).find((o) => o.metadata.name === 'web-canary');
  assert.equal(synthesized.metadata.labels.tier, 'canary');
  assert.deepEqual(synthesized.metadata.annotations, { 'example.com/owner': 'team-a' });
  assert.deepEqual(
    synthesized.spec.ports.map((p: { port: number }) => p.port),
    [80, 9090],
  );
  assert.deepEqual(synthesized.spec.selector, { app: 'web' });
});

test('StepwiseApp gives typed access to every object it made', () => {
  for (const [f, route] of [
    ['blue-green.yaml', 'Ingress'],
    ['canary-gateway.yaml', 'HTTPRoute'],
  ] as const) {
    const app = new StepwiseApp(Testing.chart(), 'app', { spec: exampleSpec(f).spec });
    const name = app.app.name;
    assert.deepEqual(
      [app.workload, app.deployment, app.service, app.canaryService, app.ingress ?? app.httpRoute, app.rollout].map(
        (o) => o && `${o.kind}/${o.name}`,
      ),
      [
        `Deployment/${name}`,
        `Deployment/${name}`,
        `Service/${app.app.service.name}`,
        `Service/${app.app.service.name}-canary`,
        `${route}/${app.app.route?.name}`,
        `Rollout/${name}`,
      ],
    );
    assert.equal(app.statefulSet, undefined);
  }
});

test('Rollout takes metric analysis as the app spec does, and its steps can opt out', () => {
  const { chart, deployment, service, ingress } = webChart();
  const analysis = {
    metrics: [{ name: 'success', template: 'request-success-rate' as const, thresholdRange: { min: 99 } }],
  };
  Rollout.canary(chart, 'release', {
    workload: deployment,
    service,
    ingress,
    steps: [
      { replicas: 1, traffic: '10%', analyze: false },
      { replicas: '100%', traffic: '100%' },
    ],
    analysis,
  });
  const rollout = Testing.synth(chart).find((o: any) => o.kind === 'Rollout');
  assert.deepEqual(rollout.spec.analysis, {
    metrics: [{ ...analysis.metrics[0], interval: '1m' }],
    intervalSeconds: 60,
    checks: 1,
    failureLimit: 0,
    noData: 'inconclusive',
    inconclusiveLimit: 0,
    everyStep: true,
  });
  assert.deepEqual(
    rollout.spec.strategy.canary.steps.map((s: any) => s.analyze),
    [false, undefined],
  );
  const broken = webChart();
  assert.throws(
    () =>
      Rollout.canary(broken.chart, 'release', {
        workload: broken.deployment,
        steps: [{ replicas: 1 }, { replicas: '100%' }],
        analysis,
      }),
    /analysis\.metrics\[0\]\.template: the request-success-rate template reads the route's metrics/,
  );
});
