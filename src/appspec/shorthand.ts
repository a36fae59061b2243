/**
 * Flagger's weight progression (`stepWeight`/`maxWeight`, or `stepWeights`), expanded into the canary
 * weights of explicit steps. Like Flagger, a fixed step may overshoot `maxWeight` once: stepWeight 20 with
 * maxWeight 50 gives 20, 40, 60, since promotion only starts when the weight has reached the maximum.
 */
export interface WeightShorthand {
  stepWeight?: number;
  maxWeight?: number;
  stepWeights?: number[];
}

export function expandWeights(s: WeightShorthand): number[] {
  const fixed = s.stepWeight !== undefined && s.stepWeight > 0;
  const weights = s.stepWeights ?? [];
  const max =
    !fixed && weights.length > 0
      ? Math.min(100, weights[weights.length - 1])
      : s.maxWeight && s.maxWeight > 0
        ? s.maxWeight
        : 100;
  const next = (current: number): number => {
    if (fixed || weights.length === 0) return s.stepWeight ?? 100;
    const room = 100 - current;
    if (room === 0) return 1;
    if (current === 0) return Math.min(room, weights[0]);
    const i = weights.indexOf(current);
    return i >= 0 && i + 1 < weights.length ? Math.min(room, weights[i + 1] - current) : room;
  };
  const out: number[] = [];
  // Each step adds at least 1, so the expansion ends within 100 steps whatever the input.
  for (let canary = 0; canary < max; ) {
    canary = Math.min(100, canary + Math.max(1, next(canary)));
    out.push(canary);
  }
  return out;
}
