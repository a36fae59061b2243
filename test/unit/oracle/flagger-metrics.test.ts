import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderQuery } from '../../../src/analysis/metrics.js';
import { type QueryResponse, readResult } from '../../../src/analysis/prometheus.js';
import { oracle, oracleCase } from '../../support/paths.js';

const cases = oracle('flagger-metrics.json');

/** Flagger's observer per provider, and the one of ours that renders the same queries. */
const PROVIDERS = [
  ['nginx_test.go#TestNginxObserver_GetRequestSuccessRate/ok', 'ingress', 'request-success-rate'],
  ['nginx_test.go#TestNginxObserver_GetRequestDuration', 'ingress', 'request-duration'],
  ['http_test.go#TestHttpObserver_GetRequestDuration', 'gateway', 'request-duration'],
] as const;

for (const [suffix, provider, template] of PROVIDERS) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    const { model } = c.input;
    const { query, scale } = renderQuery({ template }, provider, { ...model, service: model.service ?? model.name });
    assert.equal(query, c.expected.promql);
    const measured = readResult((c.input.prometheusResponse as QueryResponse).data, scale);
    assert.deepEqual(measured, { value: c.expected.value ?? c.expected.durationMs });
  });
}

test('every Flagger metric case is either checked above or of a provider Stepwise has no route for (istio)', () => {
  const unchecked = cases.filter((c) => !PROVIDERS.some(([suffix]) => c.source.endsWith(suffix)));
  assert.deepEqual(
    unchecked.map((c) => c.input.provider),
    ['istio'],
  );
});
