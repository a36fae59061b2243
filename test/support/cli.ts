import { spawnSync } from 'node:child_process';
import { ROOT } from './paths.js';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `stepwise` bin as a user would, from `cwd` (default: the repository root). */
export function stepwise(args: readonly string[], options: { cwd?: string; input?: string } = {}): CliRun {
  const r = spawnSync(process.execPath, [`${ROOT}bin/stepwise.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? '',
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
