import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandWeights } from '../../../src/appspec/shorthand.js';
import { oracle, oracleCase } from '../../support/paths.js';

const cases = oracle('flagger-weights.json');

for (const suffix of ['#TestScheduler_ServicePromotion', '#TestScheduler_ServicePromotionWithWeightsHappyCase']) {
  const c = oracleCase(cases, suffix);
  test(c.source, () => {
    // Flagger starts at 0 and advances once per successful analysis; our steps are those advances.
    assert.deepEqual([0, ...expandWeights(c.input.analysis)], c.expected.expectedCanaryWeights);
    assert.deepEqual(
      c.expected.expectedPrimaryWeights,
      c.expected.expectedCanaryWeights.map((w: number) => 100 - w),
    );
  });
}

const phases = oracleCase(cases, '#TestScheduler_DeploymentAnalysisPhases');
test(phases.source, () => {
  const progressing = phases.expected.sequence
    .filter((s: any) => s.phase === 'Progressing' && s.canaryWeight > 0)
    .map((s: any) => s.canaryWeight);
  assert.deepEqual(expandWeights({ stepWeight: phases.input.analysis.stepWeight }), progressing);
});

test('fluxcd/flagger notes: stepWeights beyond 100 are capped at 100, and a final stepWeight reaches 100', () => {
  assert.deepEqual(expandWeights({ stepWeights: [1, 2, 10, 200] }), [1, 2, 10, 100]);
  assert.deepEqual(expandWeights({ stepWeight: 50, maxWeight: 100 }), [50, 100]);
  assert.deepEqual(expandWeights({ stepWeight: 30 }), [30, 60, 90, 100]);
});

// TestScheduler_DeploymentMirroring and TestScheduler_DeploymentBlueGreenAnalysisPhases describe Flagger's
// mirroring and iteration-based blue/green, which the shorthand does not offer.
