/** Parses `"12.5%"` to 12.5; anything else to undefined. */
export function parsePercent(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value);
  return m ? Number(m[1]) : undefined;
}
