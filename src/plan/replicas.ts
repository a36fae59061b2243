import { parsePercent } from '../appspec/values.js';

/**
 * Replica arithmetic with OpenKruise's rounding rules: percentages are scaled with ceil and clamped
 * to the workload size; styles that update in place or by surge never reach every pod below 100%.
 */

/** Kubernetes' `GetScaledValueFromIntOrPercent(value, total, roundUp=true)`. */
export function scaledValue(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const p = parsePercent(value);
  if (p === undefined) throw new Error(`not a count or percentage: ${JSON.stringify(value)}`);
  // Round before ceil so that float noise (e.g. 0.07 * 100) cannot add a pod.
  return Math.ceil(Number(((p * total) / 100).toFixed(9)));
}

/**
 * How many new-version pods a step asks for (`CalculateBatchReplicas`, plus `NewRSReplicasLimit` when
 * `capBelowFull`): clamped to [0, total]; with the cap, a percentage below 100% leaves at least one old pod.
 */
export function stepPods(replicas: number | string, total: number, capBelowFull: boolean): number {
  let pods = Math.min(Math.max(scaledValue(replicas, total), 0), total);
  if (capBelowFull && typeof replicas === 'string' && parsePercent(replicas) !== 100 && total > 1) {
    pods = Math.min(pods, total - 1);
  }
  return pods;
}

/** OpenKruise `IsCurrentMoreThanOrEqualToDesired`: both sides scaled against a large total before comparing. */
export function isAtLeast(current: number | string, desired: number | string): boolean {
  const total = 10_000_000;
  return scaledValue(current, total) >= scaledValue(desired, total);
}

export interface BatchObservation {
  /** Pods the step asks for. */
  desired: number;
  /** New-version pods that exist. */
  updated: number;
  /** New-version pods that are Ready. */
  updatedReady: number;
  /** Updated pods allowed to be not Ready (count or percentage of `updated`). */
  failureThreshold?: number | string;
  /** With a rollout-id: how many new-version pods carry it; at least `desired` must. */
  labeled?: number;
}

/** OpenKruise `IsBatchReady`. */
export function isBatchReady(o: BatchObservation): boolean {
  if (o.updated < o.desired) return false;
  const tolerated = o.failureThreshold === undefined ? 0 : scaledValue(o.failureThreshold, o.updated);
  if (tolerated + o.updatedReady < o.desired) return false;
  if (o.desired > 0 && o.updatedReady === 0) return false;
  if (o.labeled !== undefined && o.labeled < o.desired) return false;
  return true;
}
