import type { KubeObject } from '../k8s/objects.js';
import { modelMeta, type RolloutModel } from './model.js';
import { strategyBody, workloadRef, writtenAnalysis } from './steps.js';

export const BUILTIN_GROUP = 'stepwise.dev';
export const BUILTIN_API_VERSION = `${BUILTIN_GROUP}/v1alpha1`;

/**
 * Stepwise's own Rollout: OpenKruise v1beta1 field names and shapes (so its users and tools feel at home),
 * plus `progressDeadlineSeconds`, the `cookie` match and metric `analysis`, which the builtin reconciler understands.
 */
export function renderBuiltinRollout(m: RolloutModel): KubeObject {
  return {
    apiVersion: BUILTIN_API_VERSION,
    kind: 'Rollout',
    metadata: modelMeta(m),
    spec: {
      workloadRef: workloadRef(m),
      strategy: strategyBody(m),
      progressDeadlineSeconds: m.rollout.progressDeadlineSeconds,
      ...(m.rollout.analysis ? { analysis: writtenAnalysis(m.rollout.analysis) } : {}),
    },
  };
}
