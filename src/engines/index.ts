import type { Engine } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';
import { renderBuiltinRollout } from './builtin.js';
import { renderKruiseRollout } from './kruise.js';
import type { RolloutModel } from './model.js';

/** An engine renders the Rollout its controller executes, and says whether it owns the canary Service. */
export interface EngineRenderer {
  rollout(model: RolloutModel): KubeObject;
  /** The builtin reconciler expects the canary Service to exist; Kruise creates and deletes its own. */
  ownsCanaryService: boolean;
  /**
   * Stepwise's admission (`stepwise apply` and the webhook) guards the governed objects, which carry the
   * rollout-name label; Kruise's own webhook guards its workloads.
   */
  admission: boolean;
}

export const ENGINES: Record<Engine, EngineRenderer> = {
  builtin: { rollout: renderBuiltinRollout, ownsCanaryService: true, admission: true },
  kruise: { rollout: renderKruiseRollout, ownsCanaryService: false, admission: false },
};
