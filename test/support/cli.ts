import { spawnSync } from 'node:child_process';
import { ROOT } from './paths.js';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `stepwise` bin as a user would, from `cwd` (default: the repository root). A run that outlives
 * `timeoutMs` (default 60 s) is killed and reported with status null and `timed out` on stderr.
 */
export function stepwise(
  args: readonly string[],
  options: { cwd?: string; input?: string; timeoutMs?: number } = {},
): CliRun {
  const r = spawnSync(process.execPath, [`${ROOT}bin/stepwise.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) return { status: null, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}\n${r.error.message}` };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
