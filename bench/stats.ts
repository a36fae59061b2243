/** The `p`th percentile (0-100) of `xs` by nearest rank: a value measured, never interpolated; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export const median = (xs: readonly number[]) => percentile(xs, 50);
