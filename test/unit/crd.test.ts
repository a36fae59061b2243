import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtinRolloutCrd } from '../../src/engines/crd.js';
import { renderApp } from '../../src/render/app.js';
import { loadApps } from '../../src/appspec/load.js';
import { crdValidator } from '../support/openapi.js';
import { ROOT, SHARED } from '../support/paths.js';

const examples = ['blue-green.yaml', 'canary-gateway.yaml', 'ab-test.yaml'];
const apps = () => [
  ...examples.map((f) => loadApps([{ file: f, text: readFileSync(`${ROOT}examples/${f}`, 'utf8') }]).apps[0]!.app),
  loadApps(
    ['base.yaml', 'prod.yaml'].map((f) => ({ file: f, text: readFileSync(`${ROOT}examples/layers/${f}`, 'utf8') })),
  ).apps[0]!.app,
];
const rolloutOf = (objects: ReturnType<typeof renderApp>) => objects.find((o) => o.kind === 'Rollout')!;

// The upstream CRD, as shipped in github.com/openkruise/rollouts v0.6.2 (config/crd/bases).
const kruise = crdValidator(readFileSync(`${SHARED}crds/rollouts.kruise.io_rollouts.yaml`, 'utf8'), 'v1beta1');

test('kruise-engine Rollouts of every example validate against the upstream OpenKruise v1beta1 CRD schema', () => {
  for (const app of apps()) {
    const rollout = rolloutOf(renderApp(app, 'kruise'));
    assert.equal(rollout.apiVersion, 'rollouts.kruise.io/v1beta1');
    assert.ok(kruise(rollout), `${app.name}: ${JSON.stringify(kruise.errors)}`);
  }
});

test('the CRD check catches what the API server would reject or prune', () => {
  const rollout = structuredClone(rolloutOf(renderApp(apps()[0]!, 'kruise'))) as any;
  rollout.spec.progressDeadlineSeconds = 600;
  assert.equal(kruise(rollout), false, 'an unknown field would be pruned');
  delete rollout.spec.progressDeadlineSeconds;
  rollout.spec.strategy.blueGreen.steps[0].pause = { duration: 'soon' };
  assert.equal(kruise(rollout), false);
});

test('builtin Rollouts validate against the builtin CRD that `stepwise crd` prints', () => {
  const crd = builtinRolloutCrd();
  const builtin = crdValidator(crd, 'v1alpha1');
  for (const app of apps()) {
    const rollout = rolloutOf(renderApp(app, 'builtin'));
    assert.ok(builtin(rollout), `${app.name}: ${JSON.stringify(builtin.errors)}`);
  }
  const version = (crd as any).spec.versions[0];
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c: any) => c.jsonPath),
    [
      '.status.phase',
      '.status.currentStepIndex',
      '.status.currentStepState',
      '.status.message',
      '.metadata.creationTimestamp',
    ],
  );
});

test('the builtin CRD schema is structural: no refs, no type unions, no additionalProperties beside properties', () => {
  const walk = (s: any, path: string): void => {
    if (!s || typeof s !== 'object') return;
    assert.equal(s.$ref, undefined, path);
    assert.ok(!Array.isArray(s.type), `${path}: type union`);
    if (s.properties) assert.equal(s.additionalProperties, undefined, path);
    if (
      s.type === undefined &&
      !s['x-kubernetes-int-or-string'] &&
      !s['x-kubernetes-preserve-unknown-fields'] &&
      !path.includes('anyOf')
    )
      assert.fail(`${path}: no type`);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
    if (s.items) walk(s.items, `${path}[]`);
  };
  walk((builtinRolloutCrd() as any).spec.versions[0].schema.openAPIV3Schema, '');
});
