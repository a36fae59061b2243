/**
 * The controller image (scripts/image/build.sh) and podman to run it, as `../shared/reference/packaging.md`
 * describes: a private store and a containers.conf of the test's own (runc, and ulimits this VM allows), host
 * networking to reach the test control plane on 127.0.0.1, and a service-account volume as a Pod would have.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../../src/k8s/client.js';
import type { Cluster } from '../testenv/cluster.js';
import { serviceAccountToken } from './kube.js';
import { ROOT } from './paths.js';
import { kubectl, StepwiseProcess } from './processes.js';

export interface BuiltImage {
  archive: string;
  digest: string;
  bytes: number;
  rootfsBytes: number;
  /** Build time; undefined when the archive of the same inputs was reused. */
  seconds?: number;
}

/** Builds the image (or reuses the cached archive of the same inputs); `fresh` builds into that directory. */
export function buildImage(fresh?: string): BuiltImage {
  const r = spawnSync('bash', [`${ROOT}scripts/image/build.sh`, ...(fresh ? ['--no-cache', fresh] : [])], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`scripts/image/build.sh failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  const fields = new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ', 2) as [string, string]),
  );
  const seconds = fields.get('seconds');
  return {
    archive: fields.get('archive') ?? '',
    digest: fields.get('digest') ?? '',
    bytes: Number(fields.get('bytes')),
    rootfsBytes: Number(fields.get('rootfs-bytes')),
    ...(seconds ? { seconds: Number(seconds) } : {}),
  };
}

/** Podman with a store of its own under a temporary directory, removed (with its containers) by `close`. */
export class Podman {
  private readonly dir = mkdtempSync(join(tmpdir(), 'stepwise-podman-'));
  private readonly env: NodeJS.ProcessEnv;

  constructor() {
    const nofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
    const conf = join(this.dir, 'containers.conf');
    writeFileSync(
      conf,
      `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]\n` +
        '[engine]\nruntime = "runc"\n',
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
  }

  /** The environment podman needs (its configuration). */
  get environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  /** The podman command with this store. */
  get command(): string[] {
    return ['podman', '--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'run'), '--storage-driver', 'vfs'];
  }

  podman(args: readonly string[]): string {
    const [bin, ...before] = this.command as [string, ...string[]];
    const r = spawnSync(bin, [...before, ...args], { encoding: 'utf8', env: this.env, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
    return r.stdout.trim();
  }

  /** Loads an OCI archive; returns the image's ID. */
  load(archive: string): string {
    this.podman(['load', '--quiet', '--input', archive]);
    return this.podman(['images', '--quiet', '--no-trunc']).split('\n')[0] ?? '';
  }

  /** `stepwise ARGS` in a container named `name` of `image`, on the host's network, as `run` gives it. */
  run(
    name: string,
    image: string,
    args: readonly string[],
    options: { env?: Record<string, string>; volumes?: readonly string[] },
  ): StepwiseProcess {
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    const volumes = (options.volumes ?? []).flatMap((v) => ['--volume', v]);
    const run = ['run', '--rm', '--name', name, '--network', 'host', '--read-only', ...env, ...volumes, image];
    return new StepwiseProcess(args, [...this.command, ...run], this.env);
  }

  /** Sends `signal` to the container (KILL: no chance to clean up, as a node lost). */
  kill(name: string, signal: string): void {
    this.podman(['kill', '--signal', signal, name]);
  }

  close(): void {
    spawnSync(this.command[0] as string, [...this.command.slice(1), 'rm', '--all', '--force'], { env: this.env });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What a Pod of `serviceAccount` would have mounted at /var/run/secrets/kubernetes.io/serviceaccount (a token
 * from the TokenRequest API, the cluster's CA, the namespace), readable by the image's user, and the environment
 * that points client-node's in-cluster configuration at the test API server.
 */
export async function podCredentials(
  client: KubeClient,
  cluster: Cluster,
  namespace: string,
  serviceAccount: string,
): Promise<{ volume: string; env: Record<string, string> }> {
  const dir = join(cluster.state.runDir, `sa-${serviceAccount}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'token'), await serviceAccountToken(client, namespace, serviceAccount));
  writeFileSync(join(dir, 'namespace'), namespace);
  copyFileSync(join(cluster.state.runDir, 'pki', 'ca.crt'), join(dir, 'ca.crt'));
  for (const f of ['token', 'namespace', 'ca.crt']) chmodSync(join(dir, f), 0o644);
  const server = new URL(cluster.state.server);
  return {
    volume: `${dir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
    env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
  };
}

/**
 * The cluster's admin kubeconfig with its certificates inline, readable by the image's user, and the volume that
 * mounts it at /kube/config: for benchmarks, which measure the controller rather than its credentials.
 */
export async function flatKubeconfig(cluster: Cluster): Promise<{ path: string; volume: string }> {
  const r = await kubectl(cluster.kubeconfig, ['config', 'view', '--raw', '--minify', '--flatten']);
  if (r.status !== 0) throw new Error(`kubectl config view failed: ${r.stderr}`);
  const dir = join(cluster.state.runDir, 'kube');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'config'), r.stdout);
  chmodSync(join(dir, 'config'), 0o644);
  return { path: '/kube/config', volume: `${dir}:/kube:ro` };
}
