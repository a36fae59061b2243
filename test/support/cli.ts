import { spawn, spawnSync } from 'node:child_process';
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
export function stepwise(args: readonly string[], options: RunOptions = {}): CliRun {
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

export interface RunOptions {
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs a command without blocking this process (a test sending requests meanwhile keeps sending them), reported
 * as `stepwise` reports it; `stepwise` stands for the bin.
 */
export function runAsync(command: string, args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const [bin, argv] =
    command === 'stepwise' ? [process.execPath, [`${ROOT}bin/stepwise.js`, ...args]] : [command, [...args]];
  return new Promise((resolve) => {
    const child = spawn(bin, argv, { cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (e) => resolve({ status: null, stdout, stderr: `${stderr}\n${e.message}` }));
    child.on('close', (status, signal) =>
      resolve({ status, stdout, stderr: signal ? `${stderr}\ntimed out (${signal})` : stderr }),
    );
    child.stdin.end(options.input ?? '');
  });
}
