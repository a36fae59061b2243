import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderApp } from '../../src/render/app.js';
import { loadApps } from '../../src/appspec/load.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { ROOT } from '../support/paths.js';

const example = (name: string) =>
  loadApps([{ file: name, text: readFileSync(`${ROOT}examples/${name}`, 'utf8') }]).apps[0]!.app;
const find = (objects: KubeObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (!name || o.metadata.name === name)) as any;

test('blue-green example, builtin engine: workload, stable and canary Service, Ingress, Rollout', () => {
  const objects = renderApp(example('blue-green.yaml'));
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'Deployment/echoserver',
      'Service/echoserver-service',
      'Service/echoserver-service-canary',
      'Ingress/echoserver-ingress',
      'Rollout/echoserver',
    ],
  );
  const deployment = find(objects, 'Deployment');
  assert.deepEqual(deployment.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'echoserver' });
  const container = deployment.spec.template.spec.containers[0];
  // Nothing the spec did not ask for: no security context, pull policy or startup probe.
  assert.deepEqual(Object.keys(container).sort(), ['env', 'image', 'name', 'ports', 'readinessProbe', 'resources']);
  const canary = find(objects, 'Service', 'echoserver-service-canary');
  assert.deepEqual(
    canary.spec.selector,
    { 'app.kubernetes.io/name': 'echoserver' },
    'the reconciler adds the revision',
  );
  assert.deepEqual(find(objects, 'Ingress').spec.rules[0].http.paths[0].backend.service, {
    name: 'echoserver-service',
    port: { number: 80 },
  });
  const rollout = find(objects, 'Rollout');
  assert.equal(rollout.apiVersion, 'stepwise.dev/v1alpha1');
  assert.deepEqual(rollout.spec.strategy.blueGreen.trafficRoutings, [
    {
      service: 'echoserver-service',
      gracePeriodSeconds: 3,
      ingress: { classType: 'nginx', name: 'echoserver-ingress' },
    },
  ]);
  assert.deepEqual(
    rollout.spec.strategy.blueGreen.steps.map((s: any) => s.traffic),
    ['0%', '10%', '100%'],
  );
});

test('kruise engine: a rollouts.kruise.io/v1beta1 Rollout and no canary Service (Kruise owns it)', () => {
  const objects = renderApp(example('ab-test.yaml'), 'kruise');
  assert.deepEqual(
    objects.map((o) => o.kind),
    ['Deployment', 'Service', 'Ingress', 'Rollout'],
  );
  const rollout = find(objects, 'Rollout');
  assert.equal(rollout.apiVersion, 'rollouts.kruise.io/v1beta1');
  assert.equal(rollout.spec.strategy.canary.enableExtraWorkloadForCanary, true);
  // Kruise's nginx script reads a cookie match as a header named canary-by-cookie.
  assert.deepEqual(rollout.spec.strategy.canary.steps[1].matches[1], {
    headers: [{ name: 'canary-by-cookie', value: 'checkout-beta', type: 'Exact' }],
  });
  assert.equal(rollout.spec.progressDeadlineSeconds, undefined, 'not a Kruise field');
});

test('gateway example: an HTTPRoute to the stable Service, and Kruise gets the cookie as a Cookie header match', () => {
  const app = example('canary-gateway.yaml');
  const route = find(renderApp(app), 'HTTPRoute');
  assert.deepEqual(route.spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateway-system' }],
    hostnames: ['shop.example.com'],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/store' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'storefront', port: 80 }],
      },
    ],
  });
  app.rollout.steps[0]!.matches = [{ cookie: 'beta' }];
  const kruise = find(renderApp(app, 'kruise'), 'Rollout');
  assert.deepEqual(kruise.spec.strategy.canary.steps[0].matches, [
    { headers: [{ type: 'RegularExpression', name: 'Cookie', value: '(^|;\\s*)beta=always(;|$)' }] },
  ]);
});

test('a StatefulSet gets its governing Service and a partition-style Rollout', () => {
  const { apps } = loadApps([
    {
      file: 's.yaml',
      text:
        'apiVersion: stepwise.dev/v1alpha1\nkind: App\nmetadata: {name: db}\nspec:\n  workload: {kind: ' +
        'StatefulSet, image: db:1, replicas: 3}\n  rollout: {strategy: canary, steps: [{replicas: 1}]}\n',
    },
  ]);
  const objects = renderApp(apps[0]!.app);
  assert.equal(find(objects, 'StatefulSet').spec.serviceName, 'db');
  assert.equal(find(objects, 'Rollout').spec.strategy.canary.enableExtraWorkloadForCanary, undefined);
  assert.equal(find(objects, 'Service', 'db-canary'), undefined, 'no route, no canary Service');
});

test('synthesized YAML reads back the same under YAML 1.1, as kubectl parses it', async () => {
  const { parseAllDocuments } = await import('yaml');
  const { toYaml } = await import('../../src/render/synth.js');
  const app = example('blue-green.yaml');
  app.labels = { enabled: 'on', approved: 'yes', window: '12:30', mode: 'NO' };
  app.workload.env = [
    { name: 'FLAG', value: 'y' },
    { name: 'MASK', value: '0755' },
  ];
  const objects = renderApp(app);
  const read = parseAllDocuments(toYaml(objects), { version: '1.1' }).map((d) => d.toJS());
  assert.deepEqual(read, JSON.parse(JSON.stringify(objects)));
});
