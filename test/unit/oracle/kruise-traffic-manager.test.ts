import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canaryIngress, nextCanaryAnnotations } from '../../../src/traffic/nginx.js';
import { canaryService, withRevision } from '../../../src/traffic/service.js';
import { oracle, oracleCase } from '../../support/paths.js';

const cases = oracle('kruise-traffic-manager.json');
const byName = (objects: any[], name: string) => objects.find((o) => o.metadata.name === name);

// DoTrafficRouting's first pass: pin the stable Service to the stable revision and create the canary Service.
const first = oracleCase(cases, '#TestDoTrafficRouting/DoTrafficRouting test1');
test(first.source, () => {
  const ctx = first.input.context;
  const stable = first.input.services[0];
  const key = ctx.revisionLabelKey;
  const pinned = {
    ...stable,
    spec: { ...stable.spec, selector: withRevision(stable.spec.selector, key, ctx.stableRevision) },
  };
  assert.deepEqual(pinned.spec, byName(first.expected.services, 'echoserver').spec);
  const canary = canaryService(stable, key, ctx['canaryRevision(podTemplateHash)']);
  assert.equal(canary.metadata.name, 'echoserver-canary');
  assert.deepEqual(canary.spec, byName(first.expected.services, 'echoserver-canary').spec);
  // The stable Ingress is never modified.
  assert.deepEqual(first.input.ingresses, first.expected.ingresses);
});

// Later passes: the canary Ingress's weight follows the current step.
for (const suffix of [
  '#TestDoTrafficRouting/DoTrafficRouting test3',
  '#TestDoTrafficRouting/DoTrafficRouting test5',
  '#TestRouteAllTrafficToNewVersion/Route all traffic test2',
]) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    const ctx = c.input.context;
    const stableIngress = byName(c.input.ingresses, 'echoserver');
    const existing = byName(c.input.ingresses, 'echoserver-canary');
    // RouteAllTrafficToNewVersion routes 100% whatever the step says.
    const weight = suffix.includes('Route all traffic') ? 100 : Number.parseFloat(ctx.strategy.traffic);
    const want = byName(c.expected.ingresses ?? c.expected.firstCall.ingresses, 'echoserver-canary');
    assert.deepEqual(
      nextCanaryAnnotations(existing.metadata.annotations, { weight }).annotations,
      want.metadata.annotations,
    );
    assert.deepEqual(canaryIngress(stableIngress, 'echoserver', 'echoserver-canary', { weight }).spec, want.spec);
  });
}

// Finalising: the stable Service loses the revision key and comes back to exactly its original selector.
for (const suffix of [
  'stable Service already clear',
  'canary Service already clear',
  'OnlyTrafficRouting true - test 2',
  '#TestRemoveCanaryService/Restore Gateway test1',
]) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    const stable = byName(c.input.services, 'echoserver');
    const pinned = withRevision(stable.spec.selector, c.input.context.revisionLabelKey, c.input.context.stableRevision);
    const expectedServices = c.expected.services ?? c.expected.firstCall.services;
    assert.deepEqual(
      withRevision(pinned, c.input.context.revisionLabelKey),
      byName(expectedServices, 'echoserver').spec.selector,
    );
  });
}

test('the canary Service drops allocated addresses and node ports', () => {
  const stable = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', labels: { a: 'b' } },
    spec: {
      type: 'NodePort',
      clusterIP: '10.0.0.1',
      clusterIPs: ['10.0.0.1'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      selector: { app: 'web' },
      ports: [{ port: 80, nodePort: 30080 }],
    },
  };
  assert.deepEqual(canaryService(stable, 'pod-template-hash', 'abc'), {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web-canary', labels: { a: 'b' } },
    spec: { type: 'NodePort', selector: { app: 'web', 'pod-template-hash': 'abc' }, ports: [{ port: 80 }] },
  });
});
