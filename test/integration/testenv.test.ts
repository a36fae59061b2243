import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import type { KubeObject } from '../../src/k8s/objects.js';
import { createNamespace, eventually, useCluster } from '../support/kube.js';
import { KubeClient } from '../../src/k8s/client.js';
import { NEVER_READY_LABEL, READY_AFTER_ANNOTATION, startCluster, type Cluster } from '../testenv/cluster.js';
import { isAlive } from '../testenv/process.js';
import { ROOT } from '../support/paths.js';

const env = useCluster();

type Pod = KubeObject & {
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
};
const deployment = (
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'stages' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name, ...labels }, annotations },
      spec: { containers: [{ name: 'c', image: 'example/app:1' }] },
    },
  },
});

test('kwok stages: pods run and turn Ready, except a never-ready version, which runs but never does', async () => {
  await createNamespace(env.client, 'stages');
  await env.client.apply(deployment('good', {}));
  await env.client.apply(deployment('bad', { [NEVER_READY_LABEL]: 'true' }));
  const pods = (app: string) =>
    env.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: 'stages' }, `app=${app}`);
  const ready = (p: Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  await eventually(
    '3 good pods Ready',
    async () => (await pods('good')).filter((p) => ready(p) === 'True').length === 3,
  );
  const bad = await eventually('3 bad pods Running', async () => {
    const list = await pods('bad');
    return list.length === 3 && list.every((p) => p.status?.phase === 'Running') && list;
  });
  assert.deepEqual(bad.map(ready), ['False', 'False', 'False']);
  assert.ok(
    bad.every((p) => p.status?.podIP?.startsWith('10.244.')),
    'pod IPs from the unrouted test range',
  );
  // Still not Ready a while later, and the Deployment reports none ready.
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual((await pods('bad')).map(ready), ['False', 'False', 'False']);
  const status = (await env.client.get<KubeObject & { status?: { readyReplicas?: number; replicas?: number } }>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: 'bad',
    namespace: 'stages',
  }))!.status!;
  assert.equal(status.replicas, 3);
  assert.equal(status.readyReplicas ?? 0, 0);
});

test('kwok stages: a pod annotated ready-after turns Ready that long after it is created, not at once', async () => {
  await createNamespace(env.client, 'stages');
  const readyAt = new Map<string, number>();
  const pods = () => env.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: 'stages' }, 'app=slow');
  const started = performance.now();
  await env.client.apply(deployment('slow', {}, { [READY_AFTER_ANNOTATION]: '1500ms' }));
  await eventually(
    '3 slow pods Ready',
    async () => {
      for (const p of await pods()) {
        if (
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
          !readyAt.has(p.metadata.name)
        )
          readyAt.set(p.metadata.name, performance.now() - started);
      }
      return readyAt.size === 3;
    },
    30_000,
  );
  // Seen by polling every 250 ms: no earlier than the pod turned Ready, and not much later.
  for (const [name, ms] of readyAt)
    assert.ok(
      ms >= 1500 && ms < 5000,
      `${name} seen Ready after ${ms.toFixed(0)} ms; it should turn Ready 1500 ms after it is written`,
    );
});

test('a second cluster runs beside the first, and stop() leaves no process or directory behind', async () => {
  const second = await startCluster({ crds: false, nodes: 1 });
  try {
    assert.notEqual(second.state.server, env.cluster.state.server);
    assert.notEqual(second.state.runDir, env.cluster.state.runDir);
    const nodes = async (c: Cluster) =>
      (await new KubeClient(c.kubeConfig()).list({ apiVersion: 'v1', kind: 'Node' })).length;
    assert.equal(await nodes(second), 1);
    assert.equal(await nodes(env.cluster), 2);
  } finally {
    await second.stop();
  }
  assert.ok(
    second.state.components.every((c) => !isAlive(c.pid)),
    'all components stopped',
  );
  assert.equal(existsSync(second.state.runDir), false);
  assert.ok(
    env.cluster.state.components.every((c) => isAlive(c.pid)),
    'the first cluster is untouched',
  );
});

test('a process interrupted with a cluster running leaves no component and no run directory behind', async () => {
  const script = `import { startCluster } from '${ROOT}dist/test/testenv/cluster.js';
    const c = await startCluster({ crds: false, nodes: 1, log: () => {} });
    console.log(JSON.stringify(c.state));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state = await new Promise<{ runDir: string; components: { pid: number }[] }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out));
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before its cluster was up`)));
  });
  assert.ok(existsSync(state.runDir) && state.components.every((c) => isAlive(c.pid)), 'the cluster is up');
  const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal ?? _code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  await eventually('its components gone', async () => state.components.every((c) => !isAlive(c.pid)), 10_000);
  assert.equal(existsSync(state.runDir), false, 'run directory removed');
});

/** Live control-plane processes this test process started (other clusters on the machine are not ours to count). */
function controlPlaneProcesses(): number {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        // Field 4 of /proc/PID/stat is the parent's pid; the command name before it may hold spaces, in parentheses.
        const parent = Number(
          readFileSync(`/proc/${pid}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1],
        );
        return (
          parent === process.pid &&
          /\/testenv\/[^/]+\/bin\/(etcd|kube-|kwok)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
        );
      } catch {
        return false;
      }
    }).length;
}

test('a component that fails to start is reported with the tail of its log, and nothing is left running', async () => {
  const running = controlPlaneProcesses();
  assert.equal(running, env.cluster.state.components.length);
  let failed: Cluster | undefined;
  await assert.rejects(
    (async () => {
      failed = await startCluster({
        crds: false,
        extraArgs: { 'kube-apiserver': ['--no-such-flag=1'] },
        log: () => {},
      });
    })(),
    (e: Error) => {
      assert.match(
        e.message,
        /^kube-apiserver exited while waiting for kube-apiserver \/readyz; last log lines \(.*kube-apiserver\.log\):/,
      );
      assert.match(e.message, /unknown flag: --no-such-flag/);
      return true;
    },
  );
  assert.equal(failed, undefined);
  assert.equal(controlPlaneProcesses(), running, 'the etcd started for the failed attempt was stopped');
});
