import type { NormalizedApp } from '../spec/normalize.js';
import type { KubeObject } from '../traffic/objects.js';
import { objectMeta } from '../render/labels.js';
import { kruiseCookie, renderSteps, trafficRoutings, workloadRef } from './steps.js';

export const KRUISE_API_VERSION = 'rollouts.kruise.io/v1beta1';

/**
 * An OpenKruise `rollouts.kruise.io/v1beta1` Rollout. Kruise creates and deletes the canary Service itself,
 * so this engine emits none. A Deployment canary uses an extra canary Deployment
 * (`enableExtraWorkloadForCanary`), which needs no Advanced Deployment controller.
 */
export function renderKruiseRollout(app: NormalizedApp): KubeObject {
  const r = app.rollout;
  const routings = trafficRoutings(app);
  const body = {
    steps: renderSteps(r.steps, kruiseCookie(app.route?.kind)),
    ...(routings ? { trafficRoutings: routings } : {}),
    ...(r.failureThreshold !== undefined ? { failureThreshold: r.failureThreshold } : {}),
    ...(r.style === 'canary' ? { enableExtraWorkloadForCanary: true } : {}),
  };
  return {
    apiVersion: KRUISE_API_VERSION,
    kind: 'Rollout',
    metadata: objectMeta(app, app.name),
    spec: {
      workloadRef: workloadRef(app),
      strategy: r.strategy === 'blueGreen' ? { blueGreen: body } : { canary: body },
    },
  };
}
