import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { planApp } from '../../src/plan/plan.js';
import { parseQuantity } from '../../src/appspec/values.js';
import { formatBytes, formatCpu } from '../../src/plan/quantity.js';
import { loadApps } from '../../src/appspec/load.js';
import { ROOT } from '../support/paths.js';

const load = (text: string, file = 'app.yaml') => {
  const { apps, issues } = loadApps([{ file, text }]);
  assert.deepEqual(
    issues.filter((i) => i.severity === 'error'),
    [],
  );
  return apps[0]!.app;
};
const example = (name: string) => load(readFileSync(`${ROOT}examples/${name}`, 'utf8'), name);

test('the seed blue-green plan: a full second set of 5 pods beside the 5 old ones at every step', () => {
  const plan = planApp(example('blue-green.yaml'));
  assert.equal(plan.style, 'blueGreen');
  assert.deepEqual(
    plan.steps.map((s) => [s.canaryPods, s.stablePods, s.traffic, s.pause.kind]),
    [
      [5, 5, 0, 'manual'],
      [5, 5, 10, 'manual'],
      [5, 5, 100, 'manual'],
    ],
  );
  // Blue-green doubles the pods: 5 extra at 100m / 64Mi each.
  assert.deepEqual(plan.peak, { extraPods: 5, cpuCores: 0.5, memoryBytes: 5 * 64 * 2 ** 20 });
});

test('a canary plan: pods per step rounded up, timed pauses, and the last 100% step completes at once', () => {
  const plan = planApp(example('canary-gateway.yaml'));
  assert.deepEqual(
    plan.steps.map((s) => [s.canaryPods, s.stablePods, s.traffic, s.pause]),
    [
      [2, 10, 20, { kind: 'timed', seconds: 120 }],
      [5, 10, 50, { kind: 'timed', seconds: 300 }],
      [10, 10, 100, { kind: 'none' }],
    ],
  );
  assert.deepEqual(plan.peak, { extraPods: 10, cpuCores: 2.5, memoryBytes: 10 * 256 * 2 ** 20 });
});

test('a StatefulSet canary updates in place: old pods give way, no extra pods, one old pod stays below 100%', () => {
  const plan = planApp(
    load(`apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: db}
spec:
  workload:
    kind: StatefulSet
    image: db:2
    replicas: 5
    readinessProbe: {tcpSocket: {port: http}}
    resources: {limits: {cpu: 1, memory: 1Gi}}
  rollout:
    strategy: canary
    steps: [{replicas: 1}, {replicas: 90%}, {replicas: 100%, pause: {duration: 0}}]
`),
  );
  assert.equal(plan.style, 'partition');
  assert.deepEqual(
    plan.steps.map((s) => [s.canaryPods, s.stablePods]),
    [
      [1, 4],
      [4, 1],
      [5, 0],
    ],
  );
  assert.deepEqual(plan.peak, { extraPods: 0, cpuCores: 0, memoryBytes: 0 });
});

test('a blue-green last step still waits for approval; duration 0 does not', () => {
  const steps = planApp(
    load(`apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  workload: {image: web:2, replicas: 3, readinessProbe: {tcpSocket: {port: http}}, resources: {limits: {cpu: 500m}}}
  route: {ingress: {}}
  rollout:
    strategy: blueGreen
    steps: [{replicas: 100%, traffic: 0%, pause: {duration: 0}}, {replicas: 100%, traffic: 100%}]
`),
  );
  assert.deepEqual(
    steps.steps.map((s) => s.pause.kind),
    ['none', 'manual'],
  );
  assert.equal(steps.peak.cpuCores, 1.5, 'limits count as requests when requests are absent');
});

test('quantities', () => {
  assert.equal(parseQuantity('250m'), 0.25);
  assert.equal(parseQuantity('1.5'), 1.5);
  assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity(2), 2);
  assert.equal(parseQuantity('.5'), 0.5);
  assert.equal(parseQuantity('1e3'), 1000);
  for (const bad of ['lots', '1.2.3', '5Mb', '-5Gi', ''])
    assert.throws(() => parseQuantity(bad), /not a Kubernetes quantity/, bad);
  assert.equal(formatCpu(2.5), '2500m');
  assert.equal(formatCpu(2), '2');
  assert.equal(formatBytes(1.25 * 2 ** 30), '1.25Gi');
});
