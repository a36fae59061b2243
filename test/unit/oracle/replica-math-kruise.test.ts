import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAtLeast, isBatchReady, stepPods } from '../../../src/plan/replicas.js';
import { oracle, oracleCase } from '../../support/paths.js';

const cases = oracle('replica-math-kruise.json');

for (const c of cases.filter((c) => c.input.function === 'CalculateBatchReplicas')) {
  test(c.source, () => {
    assert.equal(stepPods(c.input.batchCanaryReplicas, c.input.workloadReplicas, false), c.expected.replicas);
  });
}

for (const c of cases.filter((c) => c.input.function === 'IsCurrentMoreThanOrEqualToDesired')) {
  test(c.source, () => {
    assert.equal(isAtLeast(c.input.current, c.input.desired), c.expected.result);
  });
}

const limit = oracleCase(cases, '#TestNewRSReplicasLimit');
test(limit.source, () => {
  for (const e of limit.expected.examples)
    assert.equal(stepPods(e.partition, e.replicas, true), e.expected, JSON.stringify(e));
  // The upstream property: every percent 0..100% against 0..999 replicas.
  for (let replicas = 0; replicas < 1000; replicas++) {
    for (let p = 0; p <= 100; p++) {
      let want = Math.min(Math.ceil((p * replicas) / 100), replicas);
      if (p !== 100 && replicas > 1) want = Math.min(want, replicas - 1);
      assert.equal(stepPods(`${p}%`, replicas, true), Math.max(want, 0), `${p}% of ${replicas}`);
    }
  }
});

const partition = oracleCase(cases, '#TestCalculateBatchContext/partition=90%, replicas=5');
test(partition.source, () => {
  const { canaryReplicas } = partition.input.release.batches[0];
  assert.equal(
    stepPods(canaryReplicas, partition.input.workload['spec.replicas'], true),
    partition.expected.batchContext.desiredUpdatedReplicas,
  );
});

const blueGreen = oracleCase(cases, 'bluegreenstyle/deployment/control_test.go#TestCalculateBatchContext/noraml case');
test(blueGreen.source, () => {
  const batch = blueGreen.input.release.batches[blueGreen.input.release.currentBatch];
  assert.equal(
    stepPods(batch.canaryReplicas, blueGreen.input.deployment['spec.replicas'], true),
    blueGreen.expected.batchContext.desiredUpdatedReplicas,
  );
});

for (const c of cases.filter((c) => c.input.function === 'BatchContext.IsBatchReady')) {
  test(c.source, () => {
    const i = c.input;
    const ready = isBatchReady({
      desired: i.desiredUpdatedReplicas,
      updated: i.updatedReplicas,
      updatedReady: i.updatedReadyReplicas,
      failureThreshold: i.failureThreshold,
      ...(i.rolloutID && i.pods ? { labeled: i.pods.podsWithRolloutIdLabel } : {}),
    });
    assert.equal(ready, c.expected.ready);
  });
}

const bgE2e = oracleCase(cases, 'Bluegreen Release - Deployment - Ingress/bluegreen rolling with traffic case/step 1');
test(bgE2e.source, () => {
  const { deployment, step } = bgE2e.input;
  const updated = stepPods(step.replicas, deployment.replicas, true);
  assert.equal(updated, bgE2e.expected.updatedReplicas);
  assert.equal(deployment.replicas + updated, bgE2e.expected.totalPods, 'blue-green adds new pods beside all old ones');
});

const jump = oracleCase(cases, 'Step Jump/V1->V2: Deployment, Canary, patch nextStepIndex to jump/steps 1-4');
test(jump.source, () => {
  const { deployment, steps } = jump.input;
  for (const [step, want] of Object.entries(jump.expected.canaryDeploymentAvailableReplicasPerStep)) {
    assert.equal(stepPods(steps[Number(step) - 1].replicas, deployment.replicas, false), want, `step ${step}`);
  }
});

// TestParseIntegerAsPercentageIfPossible concerns Kruise's rollback-in-batch partitions, which Stepwise
// does not offer; it is deliberately not mirrored here.
