import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkVerdict, judge, renderQuery, stepOutcome } from '../../src/analysis/metrics.js';
import { readResult } from '../../src/analysis/prometheus.js';
import { normalizeAnalysis } from '../../src/appspec/normalize.js';
import { formatSummary } from '../../src/cli/commands/release.js';
import { validateRollout } from '../../src/appspec/rules.js';
import type { RolloutSpec } from '../../src/appspec/types.js';

const rate = { name: 'success', thresholdRange: { min: 99 }, interval: '1m' };
const latency = { name: 'latency', thresholdRange: { max: 500 }, interval: '1m' };

test('a value in its range passes, outside fails, and the message says by how much', () => {
  assert.deepEqual(judge(rate, { value: 99.5 }, 'inconclusive'), {
    metric: 'success',
    value: 99.5,
    verdict: 'Passed',
    message: 'success = 99.5 (≥ 99)',
  });
  assert.equal(judge(rate, { value: 99 }, 'inconclusive').verdict, 'Passed', 'the range is inclusive');
  assert.deepEqual(judge(rate, { value: 42.125 }, 'inconclusive'), {
    metric: 'success',
    value: 42.125,
    verdict: 'Failed',
    message: 'success = 42.125, below the minimum 99',
  });
  assert.equal(judge(latency, { value: 501 }, 'inconclusive').message, 'latency = 501, above the maximum 500');
});

test('no data follows the policy, never silently: fail, inconclusive or pass, each saying why', () => {
  const none = { noData: 'the query returned no series' };
  assert.deepEqual(
    (['fail', 'inconclusive', 'pass'] as const).map((p) => judge(rate, none, p).verdict),
    ['Failed', 'Inconclusive', 'Passed'],
  );
  assert.equal(judge(rate, none, 'pass').message, 'success: no data (the query returned no series); noData: pass');
  assert.equal(judge(rate, { error: 'Prometheus answered 503' }, 'pass').verdict, 'Inconclusive');
});

test('a query result: one series or a scalar is a value; none or NaN is no data; several is an error', () => {
  const vector = (...values: string[]) => ({
    resultType: 'vector',
    result: values.map((v) => ({ metric: {}, value: [1, v] })),
  });
  assert.deepEqual(readResult(vector('0.25'), 1000), { value: 250 });
  assert.deepEqual(readResult({ resultType: 'scalar', result: [1, '7'] }, 1), { value: 7 });
  assert.deepEqual(readResult(vector(), 1), { noData: 'the query returned no series' });
  assert.deepEqual(readResult(vector('NaN'), 1), { noData: 'the query returned NaN (no requests in the interval)' });
  assert.deepEqual(readResult(vector('1', '2'), 1), { error: 'the query returned 2 series; aggregate it to one' });
  assert.match(String((readResult({ resultType: 'matrix', result: [] }, 1) as { error: string }).error), /matrix/);
});

test('a check fails if any metric fails, is inconclusive if any is, else passes', () => {
  const r = (verdict: 'Passed' | 'Failed' | 'Inconclusive') => ({ metric: 'm', verdict, message: '' });
  assert.equal(checkVerdict([r('Passed'), r('Inconclusive'), r('Failed')]), 'Failed');
  assert.equal(checkVerdict([r('Passed'), r('Inconclusive')]), 'Inconclusive');
  assert.equal(checkVerdict([r('Passed'), r('Passed')]), 'Passed');
});

test("a step's outcome: failures past the limit roll back, inconclusive past theirs halt, enough passes go on", () => {
  const spec = normalizeAnalysis({ metrics: [rate], checks: 2, failureLimit: 1, inconclusiveLimit: 1 });
  const at = (passed: number, failed: number, inconclusive: number) =>
    stepOutcome(spec, { passed, failed, inconclusive });
  assert.equal(at(1, 1, 1), 'continue');
  assert.equal(at(2, 1, 1), 'pass');
  assert.equal(at(0, 2, 0), 'rollback');
  assert.equal(at(2, 2, 0), 'rollback', 'a failure past the limit outweighs passes');
  assert.equal(at(0, 0, 2), 'halt');
});

test('a custom query gets its variables; an unknown one is left for the rules to report', () => {
  const vars = { name: 'web', namespace: 'shop', target: 'web-canary', service: 'web', interval: '30s' };
  const q = 'sum(rate(errors{ns="{{ namespace }}",pod=~"{{target}}-.*"}[{{ interval }}])) {{ other }}';
  assert.deepEqual(renderQuery({ query: q }, undefined, vars), {
    query: 'sum(rate(errors{ns="shop",pod=~"web-canary-.*"}[30s])) {{ other }}',
    scale: 1,
  });
  assert.throws(
    () => renderQuery({ template: 'request-duration' }, undefined, vars),
    /needs an Ingress or an HTTPRoute/,
  );
});

test('stepwise status shows the step tally, why a release stopped, and the latest checks with their values', () => {
  const check = (time: string, verdict: 'Passed' | 'Failed', message: string) => ({
    time,
    step: 2,
    verdict,
    metrics: [{ metric: 'success', verdict, message }],
  });
  const text = formatSummary({
    namespace: 'shop',
    name: 'web',
    phase: 'Progressing',
    strategy: 'canary',
    step: 2,
    steps: 3,
    state: 'StepMetricsAnalysis',
    message: 'analysis failed',
    stable: { pods: 4, ready: 4 },
    canary: { pods: 2, ready: 2 },
    traffic: { weight: 50, matches: [] },
    analysis: {
      step: 2,
      passed: 1,
      failed: 1,
      inconclusive: 0,
      failure: 'success = 42, below the minimum 99 (1 failed check at step 2, failureLimit 0)',
      checks: [
        check('2026-12-06T10:00:00.000Z', 'Passed', 'success = 99.5 (≥ 99)'),
        check('2026-12-06T10:01:00.000Z', 'Failed', 'success = 42, below the minimum 99'),
      ],
    },
  });
  const tally = 'step 2: 1 passed, 1 failed, 0 inconclusive; failed: success = 42, below the minimum 99 (1 failed';
  assert.ok(text.includes(`\n  analysis:    ${tally}`), text);
  assert.match(
    text,
    /\n {4}10:00:00 step 2 Passed: success = 99\.5 \(≥ 99\)\n {4}10:01:00 step 2 Failed: success = 42/,
  );
});

test('analysis rules: each needs what it reads', () => {
  const steps = [{ replicas: 1, traffic: '10%' as const }, { replicas: '100%' as const }];
  const check = (analysis: object, extra: object = {}, routeKind: 'ingress' | 'gateway' | undefined = 'ingress') =>
    validateRollout({ strategy: 'canary', steps, analysis, ...extra } as RolloutSpec, {
      workloadKind: 'Deployment',
      ...(routeKind ? { routeKind } : {}),
    }).map((v) => `${v.pointer}: ${v.message}`);
  const metric = { name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 } };
  assert.deepEqual(check({ metrics: [metric] }), []);
  assert.deepEqual(check({}), ['/spec/rollout/analysis: analysis needs a metric or a webhook to check']);
  assert.deepEqual(check({ metrics: [metric, metric] }), [
    '/spec/rollout/analysis/metrics/1/name: a second metric success',
  ]);
  assert.deepEqual(check({ metrics: [{ ...metric, query: 'up' }] }), [
    '/spec/rollout/analysis/metrics/0: give a metric either a template or a query',
  ]);
  assert.deepEqual(check({ metrics: [{ name: 'q', query: 'x{a="{{ ingres }}"}', thresholdRange: { max: 1 } }] }), [
    '/spec/rollout/analysis/metrics/0/query: unknown variable {{ ingres }}; a query may use {{ name }}, ' +
      '{{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ route }}, {{ interval }}',
  ]);
  const hook = { name: 'gate', type: 'confirm-promotion', url: 'http://127.0.0.1:1/' };
  assert.deepEqual(check({ webhooks: [hook, hook] }), [
    '/spec/rollout/analysis/webhooks/1/name: a second webhook gate',
  ]);
  assert.deepEqual(check({ metrics: [{ ...metric, thresholdRange: { min: 99, max: 1 } }] }), [
    '/spec/rollout/analysis/metrics/0/thresholdRange: min 99 is above max 1: nothing can pass',
  ]);
});

test('the kruise engine carries analysis, says where, and refuses what it cannot run beside Kruise', () => {
  const steps = [
    { replicas: 1, traffic: '10%' as const },
    { replicas: '100%' as const, analyze: true },
  ];
  const metric = { name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 } };
  const check = (analysis: object, workloadKind: 'Deployment' | 'StatefulSet' = 'Deployment') =>
    validateRollout({ strategy: 'canary', engine: 'kruise', steps, analysis } as RolloutSpec, {
      workloadKind,
      routeKind: 'ingress',
    }).map((v) => `${v.severity ?? 'error'} ${v.pointer}: ${v.message}`);
  assert.deepEqual(check({ metrics: [metric] }), [
    "warning /spec/rollout/analysis: OpenKruise's Rollout has no field for analysis: it is carried in the " +
      'annotation stepwise.dev/analysis and run by `stepwise controller`, which approves each analyzed step ' +
      '(Kruise waits for approval there)',
    "warning /spec/rollout/steps/1/analyze: Kruise completes a canary's last step at 100% at once: it cannot be " +
      'analyzed (analyze the step before)',
  ]);
  const hooks = [
    { name: 'load', url: 'http://127.0.0.1:1/' },
    { name: 'gate', type: 'confirm-promotion', url: 'http://127.0.0.1:1/' },
  ];
  assert.deepEqual(check({ webhooks: hooks }).slice(1, 2), [
    'error /spec/rollout/analysis/webhooks/1/type: a confirm-promotion webhook needs engine: builtin; beside a ' +
      'release Kruise runs, Stepwise calls rollout and rollback webhooks only',
  ]);
  assert.ok(
    check({ metrics: [metric] }, 'StatefulSet').includes(
      'error /spec/rollout/analysis: analysis on a release Kruise runs rolls a failing Deployment back to its ' +
        'stable ReplicaSet: a StatefulSet needs engine: builtin',
    ),
  );
});
