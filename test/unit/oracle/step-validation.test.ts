import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateRolloutSpec } from '../../../src/engines/validate-rollout.js';
import { oracle } from '../../support/paths.js';

// Apply each case's modification to the base Rollout, as the upstream table test does.
function modified(base: any, modification: string): any {
  const spec = structuredClone(base);
  const canary = spec.strategy.canary;
  const steps = canary.steps;
  if (modification.startsWith('trafficRoutings[0].service = ""')) canary.trafficRoutings[0].service = '';
  else if (modification.startsWith('steps = []')) canary.steps = [];
  else if (modification.startsWith('steps[2].traffic = "%5"')) steps[2].traffic = '%5';
  else if (modification.startsWith('steps[1].replicas = "101%"')) steps[1].replicas = '101%';
  else if (modification.startsWith('steps[1].traffic = "0%"')) steps[1].traffic = '0%';
  else if (modification.includes('CloneSet')) {
    if (modification.includes('enableExtraWorkloadForCanary = true')) canary.enableExtraWorkloadForCanary = true;
    spec.workloadRef = { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'cloneset-demo' };
    if (modification.includes('"31%"')) steps[steps.length - 1].replicas = '31%';
  } else if (modification.startsWith('enableExtraWorkloadForCanary = true')) canary.enableExtraWorkloadForCanary = true;
  else if (modification.startsWith('last step replicas = "31%"')) steps[steps.length - 1].replicas = '31%';
  else if (modification.startsWith('limit set to 50, last step replicas = "51%"'))
    steps[steps.length - 1].replicas = '51%';
  else if (modification !== 'base rollout as is') throw new Error(`unhandled modification: ${modification}`);
  return spec;
}

for (const c of oracle('step-validation.json')) {
  test(c.source, () => {
    const modification: string = c.input.modification;
    // Upstream resets the partition limit to 30 after every case; only the last case sets 50 itself.
    const partitionPercentLimit = modification.startsWith('limit set to 50') ? 50 : 30;
    const violations = validateRolloutSpec(modified(c.input['baseRollout.spec'], modification), {
      partitionPercentLimit,
    });
    assert.equal(violations.length === 0, c.expected.valid, `violations: ${JSON.stringify(violations)}`);
  });
}

test('the webhook rules also reject blue-green on a StatefulSet and a second traffic routing', () => {
  const base = {
    workloadRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 's' },
    strategy: { blueGreen: { steps: [{ replicas: '100%', traffic: '0%' }] } },
  };
  assert.match(
    validateRolloutSpec(base as any)
      .map((v) => v.message)
      .join(),
    /blueGreen supports only/,
  );
  const twoRoutes = {
    workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' },
    strategy: {
      canary: {
        steps: [{ replicas: 1 }],
        trafficRoutings: [
          { service: 'a', ingress: { name: 'a' } },
          { service: 'b', ingress: { name: 'b' } },
        ],
      },
    },
  };
  assert.match(
    validateRolloutSpec(twoRoutes as any)
      .map((v) => v.message)
      .join(),
    /at most one traffic routing/,
  );
});
