import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT } from '../support/paths.js';

/** Where the built control plane lives. */
export interface ControlPlaneBuild {
  root: string;
  bin: string;
  crds: string;
  kwokStages: string;
  versions: Record<string, string>;
}

/** The pinned versions, from scripts/testenv/versions.env (the one place they are written). */
export function pinnedVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${ROOT}scripts/testenv/versions.env`, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

let pending: Promise<ControlPlaneBuild> | undefined;

/**
 * Builds whatever is missing of the control plane (scripts/testenv/build.sh: cached, locked, so concurrent
 * callers wait for one build) and returns its paths. Progress goes to stderr: a cold build takes minutes.
 */
export function ensureControlPlane(): Promise<ControlPlaneBuild> {
  pending ??= new Promise((resolve, reject) => {
    const child = spawn('bash', [`${ROOT}scripts/testenv/build.sh`, 'control-plane'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A cold Go build is quiet for minutes at a time: say it is still going.
    const started = Date.now();
    const heartbeat = setInterval(
      () => process.stderr.write(`[testenv] still building (${Math.round((Date.now() - started) / 1000)} s)\n`),
      60_000,
    );
    heartbeat.unref();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      for (const line of d.toString().split('\n')) if (line.startsWith('[testenv')) process.stderr.write(`${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code !== 0)
        return reject(
          new Error(`scripts/testenv/build.sh failed (exit ${code}):\n${stderr.split('\n').slice(-30).join('\n')}`),
        );
      const root = stdout.trim().split('\n').pop()!;
      resolve({
        root,
        bin: `${root}/bin`,
        crds: `${root}/crds`,
        kwokStages: `${root}/kwok-stages`,
        versions: pinnedVersions(),
      });
    });
  });
  return pending;
}
