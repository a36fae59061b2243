import type { NormalizedApp } from '../spec/normalize.js';
import type { KubeObject } from '../traffic/objects.js';
import { canaryService, REVISION_LABEL } from '../traffic/service.js';
import { objectMeta } from '../render/labels.js';
import { renderSteps, trafficRoutings, workloadRef } from './steps.js';

export const BUILTIN_GROUP = 'stepwise.dev';
export const BUILTIN_API_VERSION = `${BUILTIN_GROUP}/v1alpha1`;

/**
 * Stepwise's own Rollout: OpenKruise v1beta1 field names and shapes (so its users and tools feel at home),
 * plus `progressDeadlineSeconds` and the `cookie` match, which the builtin reconciler understands.
 */
export function renderBuiltinRollout(app: NormalizedApp): KubeObject {
  const r = app.rollout;
  const routings = trafficRoutings(app);
  const body = {
    steps: renderSteps(r.steps),
    ...(routings ? { trafficRoutings: routings } : {}),
    ...(r.failureThreshold !== undefined ? { failureThreshold: r.failureThreshold } : {}),
    ...(r.style === 'canary' ? { enableExtraWorkloadForCanary: true } : {}),
  };
  return {
    apiVersion: BUILTIN_API_VERSION,
    kind: 'Rollout',
    metadata: objectMeta(app, app.name),
    spec: {
      workloadRef: workloadRef(app),
      strategy: r.strategy === 'blueGreen' ? { blueGreen: body } : { canary: body },
      progressDeadlineSeconds: r.progressDeadlineSeconds,
    },
  };
}

/** The builtin engine owns the canary Service; it selects the new revision once the reconciler knows it. */
export function renderBuiltinCanaryService(app: NormalizedApp, stableService: KubeObject): KubeObject | undefined {
  return app.route ? canaryService(stableService, REVISION_LABEL[app.workload.kind]) : undefined;
}
