import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredRouteRules, type RouteIntent } from '../../../src/traffic/gateway.js';
import { oracle } from '../../support/paths.js';

for (const c of oracle('gateway-httproute.json')) {
  test(c.source, () => {
    const { config, rules, matches } = c.input;
    const weight = c.input.weight ?? c.input.canaryPercent;
    const intent: RouteIntent = matches ? { matches } : { weight };
    const desired = desiredRouteRules(rules, config.stableService, config.canaryService, intent);
    assert.deepEqual(desired, c.expected.rules);
    if (c.expected.unchanged) assert.deepEqual(desired, rules);
  });
}

const stableOnly = [
  { matches: [{ path: { value: '/web' } }], backendRefs: [{ kind: 'Service', name: 'web-svc', port: 8080 }] },
  { matches: [{ path: { value: '/store' } }], backendRefs: [{ name: 'store-svc', port: 8080 }] },
];

test('restore removes canary refs and canary-only rules and sets the stable weight to 1', () => {
  const weighted = desiredRouteRules(stableOnly, 'store-svc', 'store-svc-canary', { weight: 30 });
  const withAb = desiredRouteRules(weighted, 'store-svc', 'store-svc-canary', {
    matches: [{ headers: [{ name: 'x', value: '1' }] }],
  });
  for (const before of [weighted, withAb]) {
    const restored = desiredRouteRules(before, 'store-svc', 'store-svc-canary', { restore: true });
    assert.deepEqual(restored, [
      stableOnly[0],
      { ...stableOnly[1], backendRefs: [{ name: 'store-svc', port: 8080, weight: 1 }] },
    ]);
  }
});

test('a missing backendRef kind counts as Service, and weight 0 keeps the canary ref', () => {
  const zero = desiredRouteRules(stableOnly, 'store-svc', 'store-svc-canary', { weight: 0 });
  assert.deepEqual(zero[1]!.backendRefs, [
    { name: 'store-svc', port: 8080, weight: 100 },
    { name: 'store-svc-canary', port: 8080, weight: 0 },
  ]);
});

test("each step routes exactly as it says: a weight step drops the previous step's match rules", () => {
  const ab = desiredRouteRules(stableOnly, 'store-svc', 'store-svc-canary', { matches: [{ cookie: 'beta' }] });
  assert.equal(ab.length, 3);
  assert.deepEqual(ab[2]!.matches, [
    {
      path: { value: '/store' },
      headers: [{ type: 'RegularExpression', name: 'Cookie', value: '(^|;\\s*)beta=always(;|$)' }],
    },
  ]);
  const weighted = desiredRouteRules(ab, 'store-svc', 'store-svc-canary', { weight: 50 });
  assert.equal(weighted.length, 2);
  assert.deepEqual(
    weighted[1]!.backendRefs!.map((r) => r.weight),
    [50, 50],
  );
});

test('a step match with a path stands alone, once, on the first stable rule', () => {
  const rules = [
    ...stableOnly,
    { matches: [{ path: { value: '/storage' } }], backendRefs: [{ kind: 'Service', name: 'store-svc', port: 8080 }] },
  ];
  const out = desiredRouteRules(rules, 'store-svc', 'store-svc-canary', {
    matches: [{ path: { type: 'PathPrefix', value: '/beta' } }],
  });
  assert.equal(out.length, 4);
  assert.deepEqual(out[3]!.matches, [{ path: { type: 'PathPrefix', value: '/beta' } }]);
  assert.deepEqual(out[3]!.backendRefs, [{ name: 'store-svc-canary', port: 8080 }]);
});
