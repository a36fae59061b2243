import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** `../shared` beside the repository, as CI lays it out; STEPWISE_SHARED overrides. */
export const SHARED = process.env.STEPWISE_SHARED ?? fileURLToPath(new URL('../../../../shared/', import.meta.url));

export interface OracleCase<I = any, E = any> {
  source: string;
  input: I;
  expected: E;
  notes?: string[];
}

export function oracle<I = any, E = any>(file: string): OracleCase<I, E>[] {
  return JSON.parse(readFileSync(`${SHARED}oracle/${file}`, 'utf8')) as OracleCase<I, E>[];
}

/** The case whose source ends with `suffix`; fails loudly if the oracle file changed. */
export function oracleCase<I = any, E = any>(cases: OracleCase<I, E>[], suffix: string): OracleCase<I, E> {
  const found = cases.find((c) => c.source.endsWith(suffix));
  if (!found) throw new Error(`no oracle case ending with ${suffix}`);
  return found;
}
