import { scaledValue } from '../plan/replicas.js';
import type { ReplicasValue } from '../appspec/types.js';
import type { RolloutStep, StepState, SubStatus } from './types.js';

/** The step after `current` (1-based), or -1 after the last: OpenKruise's NextBatchIndex. */
export function nextStepIndex(current: number, stepCount: number): number {
  return current >= stepCount ? -1 : current + 1;
}

/**
 * OpenKruise `doStepJump`: a user-set `nextStepIndex` other than the natural next one, within [1, steps],
 * moves the release to that step. Pods are never scaled down by a jump: when the target step's pods are
 * already there, it resumes at traffic routing; otherwise it upgrades first. Returns undefined for no jump.
 */
export function stepJump(
  status: SubStatus,
  steps: readonly RolloutStep[],
  workloadReplicas: number,
  now: string,
): SubStatus | undefined {
  const target = status.nextStepIndex;
  if (target === nextStepIndex(status.currentStepIndex, steps.length) || target < 1 || target > steps.length)
    return undefined;
  const desired = scaledValue(steps[target - 1].replicas, workloadReplicas);
  const state: StepState = desired === status.canaryReplicas ? 'StepTrafficRouting' : 'BeforeStepUpgrade';
  return {
    ...status,
    currentStepIndex: target,
    nextStepIndex: nextStepIndex(target, steps.length),
    currentStepState: state,
    lastUpdateTime: now,
  };
}

/**
 * OpenKruise `recalculateCanaryStep`, for a step list edited mid-release: the first step (trying the current
 * one first) whose pods cover those the current batch planned (`batchReplicas`, as its step wrote them), or the
 * last one scanned; step 1 before any batch ran.
 */
export function recalculateStep(
  steps: readonly RolloutStep[],
  workloadReplicas: number,
  batchReplicas: ReplicasValue | undefined,
  currentIndex = 0,
): number {
  if (batchReplicas === undefined) return 1;
  const planned = scaledValue(batchReplicas, workloadReplicas);
  const order =
    currentIndex >= 1 && currentIndex <= steps.length
      ? [currentIndex, ...steps.map((_, i) => i + 1).filter((i) => i !== currentIndex)]
      : steps.map((_, i) => i + 1);
  for (const index of order) {
    if (scaledValue(steps[index - 1].replicas, workloadReplicas) >= planned) return index;
  }
  return order[order.length - 1] ?? 1;
}
