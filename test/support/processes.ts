import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { ensureControlPlane } from '../testenv/build.js';
import { type CliRun, runAsync, stepwise } from './cli.js';
import { ROOT } from './paths.js';

/** Child processes started by this test file; killed when it ends, however it ends. */
const children = new Set<ChildProcess>();
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL');
};
// At the file's top level (this module is imported there): an `after` called inside a test would run when
// that test ends.
after(killChildren);
process.once('exit', killChildren);
// A run interrupted or timed out ends this process with a signal, which skips 'exit' unless it is handled.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(code);
  });
}
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * A running `stepwise` process (the controller), with its stderr kept for assertions and diagnostics; by default
 * this checkout's CLI, or another command that runs it (a container).
 */
export class StepwiseProcess {
  private output = '';
  private readonly waiters = new Set<() => void>();
  readonly child: ChildProcess;

  constructor(
    args: readonly string[],
    command: readonly string[] = [process.execPath, `${ROOT}bin/stepwise.js`],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const [bin, ...before] = command as [string, ...string[]];
    this.child = spawn(bin, [...before, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    track(this.child);
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
      for (const w of this.waiters) w();
    });
  }

  get log(): string {
    return this.output;
  }

  /** Resolves when the process has printed a line matching `pattern`; fails if it exits first or `timeoutMs` passes. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(pattern);
        if (m) finish(() => resolve(m));
        else if (this.child.exitCode !== null)
          finish(() =>
            reject(new Error(`stepwise exited (${this.child.exitCode}) before printing ${pattern}:\n${this.output}`)),
          );
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out waiting for ${pattern}:\n${this.output}`))),
        timeoutMs,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.child.off('exit', check);
        f();
      };
      this.waiters.add(check);
      this.child.on('exit', check);
      check();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops it (SIGTERM, or SIGKILL) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

/** Where a test runs Stepwise's controller: its namespace (Lease, certificates) and its webhook's port. */
export interface ControllerSite {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly webhookPort: number;
}

/** `stepwise install` of the CRD, RBAC and a webhook configuration calling https://127.0.0.1:PORT. */
export function installWithWebhook(site: ControllerSite, ...extra: string[]): void {
  const args = ['install', '--kubeconfig', site.kubeconfig, '-n', site.namespace];
  const r = stepwise([...args, '--webhook-url', `https://127.0.0.1:${site.webhookPort}`, ...extra]);
  if (r.status !== 0) throw new Error(`stepwise install failed (${r.status}):\n${r.stderr}`);
}

/** `stepwise controller -A` with its webhook on 127.0.0.1, once it serves and leads. */
export async function startController(site: ControllerSite): Promise<StepwiseProcess> {
  const c = new StepwiseProcess([
    'controller',
    '-A',
    '--kubeconfig',
    site.kubeconfig,
    '--lease-namespace',
    site.namespace,
    '--lease-duration',
    '3',
    '--webhook-port',
    String(site.webhookPort),
    '--webhook-bind-address',
    '127.0.0.1',
  ]);
  await c.waitFor(/admission webhook serving on 127\.0\.0\.1:\d+/);
  await c.waitFor(/leading as/);
  return c;
}

/** The test environment's kubectl (the pinned version), against `kubeconfig`. */
export async function kubectl(kubeconfig: string, args: readonly string[], input = ''): Promise<CliRun> {
  const { bin } = await ensureControlPlane();
  return runAsync(`${bin}/kubectl`, ['--kubeconfig', kubeconfig, ...args], { input });
}
