import { createHash } from 'node:crypto';
import type { Condition, StrategyBody } from './types.js';

/** Sets a condition, keeping its times when nothing about it changed (as Kubernetes' condition helpers do). */
export function withCondition(
  conditions: readonly Condition[],
  change: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>,
  now: string,
): Condition[] {
  const existing = conditions.find((c) => c.type === change.type);
  const same = existing?.status === change.status;
  const next: Condition = {
    ...change,
    lastUpdateTime: same && existing?.reason === change.reason ? existing.lastUpdateTime : now,
    lastTransitionTime: same && existing ? existing.lastTransitionTime : now,
  };
  return [...conditions.filter((c) => c.type !== change.type), next];
}

/** Hash of what decides pod counts and routing: steps without pauses, and the failure threshold (as OpenKruise). */
export function planHash(body: StrategyBody): string {
  const steps = body.steps.map(({ pause: _pause, ...rest }) => rest);
  return createHash('sha256')
    .update(JSON.stringify({ steps, failureThreshold: body.failureThreshold ?? null }))
    .digest('hex')
    .slice(0, 16);
}

/** Seconds from an RFC 3339 time to `now`; forever when there is none. */
export const secondsSince = (from: string | undefined, now: Date) =>
  from ? (now.getTime() - Date.parse(from)) / 1000 : Number.POSITIVE_INFINITY;

/** OpenKruise's status message for a step (`Rollout is in step(2/3), and …`). */
export const atStep = (index: number, count: number, doing: string) =>
  `Rollout is in step(${index}/${count}), and ${doing}`;
