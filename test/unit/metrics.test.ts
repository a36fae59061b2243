import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../src/reconciler/metrics.js';

test('metrics are exposed in the Prometheus text format: help, type, labelled series, cumulative buckets', () => {
  const registry = new Registry();
  const passes = registry.counter('stepwise_reconcile_total', 'Passes.');
  passes.inc({ result: 'success' });
  passes.inc({ result: 'success' });
  passes.inc({ result: 'error "quoted"\n' });
  const seconds = registry.histogram('stepwise_reconcile_duration_seconds', 'Seconds.', [0.1, 1]);
  for (const s of [0.05, 0.5, 3]) seconds.observe(s);
  registry.gauge('stepwise_leader', 'Leading.', () => [[{}, 1]]);
  assert.equal(
    registry.expose(),
    [
      '# HELP stepwise_reconcile_total Passes.',
      '# TYPE stepwise_reconcile_total counter',
      'stepwise_reconcile_total{result="success"} 2',
      'stepwise_reconcile_total{result="error \\"quoted\\"\\n"} 1',
      '# HELP stepwise_reconcile_duration_seconds Seconds.',
      '# TYPE stepwise_reconcile_duration_seconds histogram',
      'stepwise_reconcile_duration_seconds_bucket{le="0.1"} 1',
      'stepwise_reconcile_duration_seconds_bucket{le="1"} 2',
      'stepwise_reconcile_duration_seconds_bucket{le="+Inf"} 3',
      'stepwise_reconcile_duration_seconds_sum 3.55',
      'stepwise_reconcile_duration_seconds_count 3',
      '# HELP stepwise_leader Leading.',
      '# TYPE stepwise_leader gauge',
      'stepwise_leader 1',
      '',
    ].join('\n'),
  );
});
