import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CANARY_WEIGHT, canaryIngress, nextCanaryAnnotations, NGINX_PREFIX } from '../../../src/traffic/nginx.js';
import { validateApp } from '../../../src/appspec/rules.js';
import { oracle, oracleCase } from '../../support/paths.js';

const cases = oracle('nginx-canary-ingress.json');
const nginxKeys = (a: Record<string, string>) =>
  Object.fromEntries(Object.entries(a).filter(([k]) => !k.startsWith('mse.')));

/**
 * Kruise's EnsureRoutes: the existing canary Ingress's annotations rewritten for the step; the spec as
 * buildCanaryIngress makes it.
 */
function ensureRoutes(c: any) {
  const { stableIngress, existingCanaryIngress, config, strategy } = c.input;
  const routing = {
    ...(strategy.traffic ? { weight: Number.parseFloat(strategy.traffic) } : {}),
    matches: strategy.matches ?? [],
  };
  const built = canaryIngress(stableIngress, config.stableService, config.canaryService);
  const { annotations } = nextCanaryAnnotations(existingCanaryIngress.metadata.annotations, routing);
  return { spec: built.spec, annotations };
}

for (const suffix of ['ensure routes test1', 'ensure routes test3']) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    const { spec, annotations } = ensureRoutes(c);
    const want = c.expected.canaryIngress;
    assert.deepEqual(spec, want.spec);
    // The mse.* keys come from the upstream unit test's own Lua script, not the built-in nginx one we follow.
    assert.deepEqual(nginxKeys(annotations), nginxKeys(want.metadata.annotations));
    for (const absent of c.expected.annotationsAbsent)
      assert.ok(!(absent in annotations), `${absent} should be absent`);
  });
}

const query = oracleCase(cases, 'ensure routes test5 (first of two cases with this name: Exact query param)');
test(query.source, () => {
  // ingress-nginx has no query-parameter canary (canary-by-query is an MSE extension): Stepwise rejects such a
  // step up front rather than silently routing everyone by weight.
  const { annotations } = ensureRoutes(query);
  assert.ok(!Object.keys(annotations).some((k) => k.startsWith(`${NGINX_PREFIX}/canary-by-query`)));
  const violations = validateApp({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'echoserver' },
    spec: {
      workload: { image: 'x', readinessProbe: { tcpSocket: { port: 'http' } } },
      route: { ingress: { name: 'echoserver' } },
      rollout: { strategy: 'abTest', steps: [{ replicas: 1, matches: query.input.strategy.matches }] },
    },
  });
  assert.deepEqual(
    violations.map((v) => v.pointer),
    ['/spec/rollout/steps/0/matches/0/queryParams'],
  );
});

const finalise = oracleCase(cases, '#TestFinalise/finalise test1');
test(finalise.source, () => {
  // Finalise deletes the canary Ingress; what it deletes is the name the builder gives it.
  const built = canaryIngress(
    finalise.input.stableIngress,
    finalise.input.config.stableService,
    finalise.input.config.canaryService,
  );
  assert.equal(built.metadata.name, finalise.input.existingCanaryIngress.metadata.name);
  assert.equal(finalise.expected.canaryIngressExists, false);
});

for (const suffix of [
  'A/B testing, header & cookies/step 2',
  'matches and weight using rollout for Istio and Ingress/step 2',
]) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    const weight = c.input.step.weight ?? Number.parseFloat(c.input.step.traffic);
    // The previous step left header and cookie matches on the canary Ingress.
    const before = {
      [`${NGINX_PREFIX}/canary`]: 'true',
      [`${NGINX_PREFIX}/canary-by-header`]: 'user_id',
      [`${NGINX_PREFIX}/canary-by-header-pattern`]: '123456',
      [`${NGINX_PREFIX}/canary-by-header-value`]: 'pc',
      [`${NGINX_PREFIX}/canary-by-cookie`]: 'demo',
    };
    const { annotations } = nextCanaryAnnotations(before, { weight });
    // The e2e reads absent annotations as "".
    for (const [k, v] of Object.entries(c.expected.annotations)) assert.equal(annotations[k] ?? '', v, k);
    const built = canaryIngress(c.input.stableIngress, 'echoserver', 'echoserver-canary', { weight });
    assert.equal(built.metadata.name, c.expected.canaryIngressName ?? 'echoserver-canary');
  });
}

const patchWeight = oracleCase(cases, '#TestCanaryIngressPatchWeight');
test(patchWeight.source, () => {
  const { patch } = nextCanaryAnnotations(patchWeight.input.existingCanaryAnnotations, {
    weight: patchWeight.input.desiredWeight,
  });
  assert.equal(JSON.stringify({ metadata: { annotations: patch } }), patchWeight.expected.mergePatch);
});

const tls = oracleCase(cases, '#TestCanaryIngressRetainTLS');
test(tls.source, () => {
  const stable = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'web' },
    spec: { tls: tls.input.stableTLS, rules: [] },
  };
  assert.deepEqual((canaryIngress(stable, 'web', 'web-canary').spec as any).tls, tls.expected.canaryTLS);
  const noTls = { ...stable, spec: { rules: [] } };
  assert.equal((canaryIngress(noTls, 'web', 'web-canary').spec as any).tls, undefined, 'TestCanaryIngressNotAddTLS');
});

const flagger = oracleCase(cases, 'fluxcd/flagger/pkg/router/ingress_test.go#TestIngressRouter_GetSetRoutes');
test(flagger.source, () => {
  let current: Record<string, string> = { [`${NGINX_PREFIX}/canary`]: 'true' };
  flagger.input.setRoutes.forEach((route: { canary: number }, i: number) => {
    current = nextCanaryAnnotations(current, { weight: route.canary }).annotations;
    const want = Object.fromEntries(
      Object.entries(flagger.expected.annotationsAfterEach[i]).map(([k, v]) => [
        k.replace(flagger.input.annotationsPrefix, NGINX_PREFIX),
        v,
      ]),
    );
    assert.deepEqual(current, want);
  });
  assert.equal(current[CANARY_WEIGHT], '0');
});

// TestCanaryIngressAdditionalAnnotations covers Argo's additionalIngressAnnotations option, which Stepwise
// does not have (spec.route.ingress.annotations are copied from the stable Ingress instead).
