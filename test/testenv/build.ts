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

/** Where the OpenKruise Rollouts controller is cached. */
export interface KruiseBuild {
  /** The manager binary. */
  binary: string;
  /**
   * What it reads at run time, in the module's own layout: config/crd/bases, config/webhook, config/default and
   * lua_configuration/. It reads the Lua scripts relative to its working directory, so this is its cwd.
   */
  dir: string;
  version: string;
}

/**
 * Runs scripts/testenv/build.sh for one target (cached, locked, so concurrent callers wait for one build) and
 * resolves to the cache root it prints. Progress goes to stderr: a cold build takes minutes.
 */
function runBuild(target: 'control-plane' | 'kruise' | 'tools' | 'traefik'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [`${ROOT}scripts/testenv/build.sh`, target], { stdio: ['ignore', 'pipe', 'pipe'] });
    // A cold Go build is quiet for minutes at a time: say it is still going.
    const started = Date.now();
    const heartbeat = setInterval(
      () =>
        process.stderr.write(`[testenv] still building ${target} (${Math.round((Date.now() - started) / 1000)} s)\n`),
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
          new Error(
            `scripts/testenv/build.sh ${target} failed (exit ${code}):\n${stderr.split('\n').slice(-30).join('\n')}`,
          ),
        );
      resolve(stdout.trim().split('\n').pop()!);
    });
  });
}

let controlPlane: Promise<ControlPlaneBuild> | undefined;

/** Builds whatever is missing of the control plane and returns its paths (one build per process). */
export function ensureControlPlane(): Promise<ControlPlaneBuild> {
  controlPlane ??= runBuild('control-plane').then((root) => ({
    root,
    bin: `${root}/bin`,
    crds: `${root}/crds`,
    kwokStages: `${root}/kwok-stages`,
    versions: pinnedVersions(),
  }));
  return controlPlane;
}

let kruise: Promise<KruiseBuild> | undefined;

/** Builds the OpenKruise Rollouts controller if it is missing and returns its paths (one build per process). */
export function ensureKruise(): Promise<KruiseBuild> {
  kruise ??= runBuild('kruise').then((root) => ({
    binary: `${root}/bin/kruise-rollout`,
    dir: `${root}/kruise`,
    version: pinnedVersions().KRUISE_ROLLOUTS_VERSION!,
  }));
  return kruise;
}

/** The other real tools the tests use: `cue`, and `helm` 3 and 4. */
export interface ToolsBuild {
  cue: string;
  helm3: string;
  helm4: string;
}

let tools: Promise<ToolsBuild> | undefined;

/** Builds cue and both Helms if they are missing and returns their paths (one build per process). */
export function ensureTools(): Promise<ToolsBuild> {
  tools ??= runBuild('tools').then((root) => ({
    cue: `${root}/bin/cue`,
    helm3: `${root}/bin/helm`,
    helm4: `${root}/bin/helm4`,
  }));
  return tools;
}

let traefik: Promise<string> | undefined;

/** Builds Traefik (the data-plane tests' proxy) if it is missing and returns its path (one build per process). */
export function ensureTraefik(): Promise<string> {
  traefik ??= runBuild('traefik').then((root) => `${root}/bin/traefik`);
  return traefik;
}
