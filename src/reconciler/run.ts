import type { KubeClient } from '../k8s/client.js';
import { stepPause } from '../plan/plan.js';
import { act, isConflict, type ActOptions } from './act.js';
import { decide, type Decision } from './decide.js';
import { observe, type Reader } from './observe.js';
import type { RolloutObject, SubStatus } from './types.js';

export interface PassResult {
  rollout: RolloutObject;
  decision: Decision;
}

export interface PassOptions extends ActOptions {
  /** Read from here instead of the API server (the controller's cache). */
  reader?: Reader;
}

/** One observe → decide → act pass; retried from a fresh read when the Rollout changed under it. */
export async function reconcileOnce(client: KubeClient, namespace: string, name: string, options: PassOptions = {}): Promise<PassResult | undefined> {
  for (let attempt = 0; ; attempt++) {
    const observed = await observe(options.reader ?? client, namespace, name);
    if (!observed) return undefined;
    const decision = decide(observed);
    try {
      return { rollout: await act(client, observed.rollout, decision, options), decision };
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e;
      // Someone else wrote the Rollout (an approval, say): read it afresh before deciding again.
      const fresh = await client.get<RolloutObject>({ apiVersion: observed.rollout.apiVersion, kind: observed.rollout.kind, name, namespace });
      if (fresh) options.onWritten?.(fresh);
    }
  }
}

export function subStatus(rollout: RolloutObject): SubStatus | undefined {
  return rollout.status?.canaryStatus ?? rollout.status?.blueGreenStatus;
}

/** Waiting for a person: paused at a step whose pause has no duration. */
export function awaitsApproval(rollout: RolloutObject): boolean {
  const sub = subStatus(rollout);
  if (rollout.status?.phase !== 'Progressing' || sub?.currentStepState !== 'StepPaused') return false;
  const steps = (rollout.spec.strategy.canary ?? rollout.spec.strategy.blueGreen)!.steps;
  const step = steps[sub.currentStepIndex - 1];
  if (!step) return false;
  return stepPause(rollout.spec.strategy.blueGreen ? 'blueGreen' : 'canary', step.pause?.duration, step.replicas, sub.currentStepIndex === steps.length).kind === 'manual';
}

export function isSettled(rollout: RolloutObject): boolean {
  return rollout.status?.phase === 'Healthy';
}

/**
 * Drives a release from this process until `until` holds: the next approval pause, or the end (Healthy).
 * Sleeps as the decision asks (timed pauses, grace periods), at most `pollMs`, so outside changes are seen.
 */
export async function runRelease(client: KubeClient, namespace: string, name: string, options: { until: 'pause' | 'done'; pollMs?: number; log?: (line: string) => void; onPass?: (r: PassResult) => void; signal?: AbortSignal }): Promise<RolloutObject> {
  const pollMs = options.pollMs ?? 1000;
  for (;;) {
    const result = await reconcileOnce(client, namespace, name, options.log ? { log: options.log } : {});
    if (!result) throw new Error(`Rollout ${namespace}/${name} not found`);
    options.onPass?.(result);
    const { rollout, decision } = result;
    if (isSettled(rollout) && decision.actions.length === 0) return rollout;
    if (options.until === 'pause' && awaitsApproval(rollout)) return rollout;
    if (options.signal?.aborted) return rollout;
    const wait = decision.actions.length && decision.requeueAfterMs === undefined ? 0 : Math.min(decision.requeueAfterMs ?? pollMs, pollMs);
    await new Promise((r) => setTimeout(r, wait));
  }
}
