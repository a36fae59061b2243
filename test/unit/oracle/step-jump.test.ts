import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recalculateStep, stepJump } from '../../../src/reconciler/jump.js';
import type { SubStatus } from '../../../src/reconciler/types.js';
import { oracle } from '../../support/paths.js';

const cases = oracle('step-jump.json');
const before = '2026-01-01T00:00:00Z';
const now = '2026-01-01T00:05:00Z';

for (const c of cases.filter((c) => c.input.function === 'doStepJump')) {
  test(c.source, () => {
    const s = c.input.status;
    const status: SubStatus = {
      ...s,
      podTemplateHash: '',
      canaryRevision: '',
      finalisingStep: '',
      lastUpdateTime: before,
    };
    // Upstream passes the jump targets' steps separately from the Rollout's (stepsArgument); the step count
    // that decides "the natural next step" is the Rollout's own, which is the same length in every case.
    assert.equal(c.input.stepsArgument.length, c.input['rollout.spec.strategy.canary.steps'].length);
    const jumped = stepJump(status, c.input.stepsArgument, c.input.workloadReplicas, now);
    assert.equal(jumped !== undefined, c.expected.jumped);
    const after = jumped ?? status;
    assert.equal(after.currentStepIndex, c.expected.currentStepIndex);
    assert.equal(after.nextStepIndex, c.expected.nextStepIndex);
    assert.equal(after.currentStepState, c.expected.currentStepState);
    assert.equal(after.lastUpdateTime === now, c.expected.lastUpdateTimeRefreshed);
  });
}

for (const c of cases.filter((c) => c.source.includes('TestReCalculateCanaryStepIndex'))) {
  test(c.source, () => {
    const { batches, batchPartition } = c.input.batchRelease;
    const batch = batches[batchPartition].canaryReplicas;
    assert.equal(recalculateStep(c.input.newSteps, c.input.workloadReplicas, batch), c.expected.stepIndex);
  });
}

test('a step edit recalculation prefers the current step when it still covers the deployed pods', () => {
  const steps = [{ replicas: '20%' as const }, { replicas: '50%' as const }, { replicas: '100%' as const }];
  assert.equal(recalculateStep(steps, 10, 2, 3), 3);
  assert.equal(recalculateStep(steps, 10, 6, 1), 3);
  assert.equal(recalculateStep(steps, 10, 11), 3, 'none covers: the last scanned');
  assert.equal(recalculateStep(steps, 10, undefined, 2), 1, 'no batch has run yet: step 1');
});
