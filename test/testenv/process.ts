import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';

export interface Component {
  name: string;
  pid: number;
  log: string;
  /** How it was started, so that a test can start it again after killing it. */
  start?: { bin: string; args: string[]; detached: boolean; cwd?: string; env?: Record<string, string> };
}

/**
 * Starts a component in its own process group, logging to `log`; `detached` ones outlive this process.
 * `cwd` and `env` (added to this process's environment) are for components that read them.
 */
export function startComponent(
  name: string,
  bin: string,
  args: string[],
  log: string,
  detached: boolean,
  options: { cwd?: string; env?: Record<string, string> } = {},
): Component {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, {
    stdio: ['ignore', fd, fd],
    detached: true,
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${bin}`);
  if (detached) child.unref();
  return { name, pid: child.pid, log, start: { bin, args, detached, ...options } };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The last lines of a component's log, for error messages. */
export function tail(log: string, lines = 25): string {
  if (!existsSync(log)) return '(no log)';
  return readFileSync(log, 'utf8')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `    ${l}`)
    .join('\n');
}

/** Free TCP ports on 127.0.0.1, handed out by the kernel. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** GETs a loopback URL; resolves to the status and body, or undefined when nothing answers yet. */
export function probe(
  url: string,
  options: { ca?: string; insecure?: boolean } = {},
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      u,
      {
        method: 'GET',
        timeout: 2000,
        ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
        rejectUnauthorized: !options.insecure,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Polls `check` until it returns true. Fails after `timeoutMs`, or as soon as `component` exits, with the
 * tail of its log, so a broken flag shows its own error rather than a timeout.
 */
const lastLines = (c: Component) => `last log lines of ${c.name} (${c.log}):\n${tail(c.log)}`;

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  component?: Component,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (component && !isAlive(component.pid))
      throw new Error(
        `${component.name} exited while waiting for ${what}; last log lines ` +
          `(${component.log}):\n${tail(component.log)}`,
      );
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${component ? `; ${lastLines(component)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM to each process group (last started first), SIGKILL after `graceMs`. */
export async function stopComponents(components: readonly Component[], graceMs = 10_000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Already gone.
    }
  };
  for (const c of [...components].reverse()) {
    signal(c.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(c.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(c.pid)) signal(c.pid, 'SIGKILL');
  }
}

/** Synchronous last-resort kill, for process exit and signals. */
export function killNow(components: readonly Component[]): void {
  for (const c of components) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Resident memory of a process in bytes, from /proc. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
