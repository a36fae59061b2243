import type { NormalizedAnalysis } from '../appspec/normalize.js';
import type { KubeObject } from '../k8s/objects.js';
import { modelMeta, type RolloutModel } from './model.js';
import { strategyBody, workloadRef } from './steps.js';

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
      ...(m.rollout.analysis ? { analysis: written(m.rollout.analysis) } : {}),
    },
  };
}

/** The analysis as written, with its defaults: lists left out are left out (the reconciler reads them as empty). */
function written({ metrics, webhooks, ...rest }: NormalizedAnalysis) {
  return { ...(metrics.length ? { metrics } : {}), ...(webhooks.length ? { webhooks } : {}), ...rest };
}
