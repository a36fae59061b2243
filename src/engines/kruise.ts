import type { KubeObject } from '../k8s/objects.js';
import { modelMeta, type RolloutModel } from './model.js';
import { kruiseCookie, strategyBody, workloadRef } from './steps.js';

export const KRUISE_API_VERSION = 'rollouts.kruise.io/v1beta1';

/**
 * An OpenKruise `rollouts.kruise.io/v1beta1` Rollout. Kruise creates and deletes the canary Service itself,
 * so this engine emits none. A Deployment canary uses an extra canary Deployment
 * (`enableExtraWorkloadForCanary`), which needs no Advanced Deployment controller.
 */
export function renderKruiseRollout(m: RolloutModel): KubeObject {
  return {
    apiVersion: KRUISE_API_VERSION,
    kind: 'Rollout',
    metadata: modelMeta(m),
    spec: { workloadRef: workloadRef(m), strategy: strategyBody(m, kruiseCookie(m.route?.kind)) },
  };
}
