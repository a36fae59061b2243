/**
 * Controller image benchmark: two fresh builds of the image (time, size, the same digest), the containerized
 * controller's memory at rest on the real control plane, and the hand-over on SIGTERM between two containers
 * (from the signal to the standby leading), as `stepwise install --controller` runs them. The 200-release figure
 * inside the container comes from `STEPWISE_BENCH_IMAGE=1 node dist/bench/reconcile/main.js scale`.
 *
 *   npm run bench:image        # exits 1 if the digests differ or the hand-over p50 is above 2 s
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../src/k8s/client.js';
import { buildImage, Podman, podCredentials } from '../../test/support/image.js';
import { createNamespace } from '../../test/support/kube.js';
import { stepwise } from '../../test/support/cli.js';
import type { StepwiseProcess } from '../../test/support/processes.js';
import { startCluster } from '../../test/testenv/cluster.js';
import { median } from '../stats.js';

const HANDOVERS = 5;
const HANDOVER_TARGET_MS = 2000;
const MiB = 2 ** 20;

const builds = [1, 2].map(() => {
  const dir = mkdtempSync(join(tmpdir(), 'stepwise-image-bench-'));
  try {
    return buildImage(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
const cached = buildImage();

const cluster = await startCluster({ log: () => {} });
const client = new KubeClient(cluster.kubeConfig());
const podman = new Podman();
try {
  const image = podman.load(cached.archive);
  await createNamespace(client, 'stepwise-system');
  const installed = stepwise(['install', '--kubeconfig', cluster.kubeconfig, '-n', 'stepwise-system']);
  if (installed.status !== 0) throw new Error(installed.stderr);
  const credentials = await podCredentials(client, cluster, 'stepwise-system', 'stepwise-reconciler');
  let next = 0;
  const replica = (): { name: string; process: StepwiseProcess } => {
    const name = `r${next++}`;
    const args = ['controller', '-A', '--no-webhook', '--identity', name, '--lease-namespace', 'stepwise-system'];
    const options = { env: credentials.env, volumes: [credentials.volume] };
    return { name, process: podman.run(`bench-${name}`, image, [...args, '--stats-every', '1'], options) };
  };
  const rssAtRest = async (p: StepwiseProcess) => {
    const seen = p.log.split('\n').filter((l) => l.startsWith('stats ')).length;
    await p.waitFor(new RegExp(`(stats .*\\n){${seen + 3}}`), 30_000);
    const last =
      p.log
        .split('\n')
        .filter((l) => l.startsWith('stats '))
        .at(-1) ?? '';
    return (JSON.parse(last.slice('stats '.length)) as { rssBytes: number }).rssBytes;
  };

  let leader = replica();
  await leader.process.waitFor(/leading as/);
  const atRest = await rssAtRest(leader.process);
  const handovers: number[] = [];
  for (let i = 0; i < HANDOVERS; i++) {
    const standby = replica();
    await standby.process.waitFor(/waiting to lead/);
    const sent = performance.now();
    const stopped = leader.process.stop('SIGTERM');
    await standby.process.waitFor(new RegExp(`leading as ${standby.name}\\b`), 30_000);
    handovers.push(performance.now() - sent);
    await stopped;
    leader = standby;
  }
  await leader.process.stop('SIGTERM');

  const p50 = median(handovers);
  const same = builds.every((b) => b.digest === cached.digest);
  const result = {
    digest: cached.digest,
    reproducible: same,
    buildSeconds: builds.map((b) => b.seconds),
    archiveMiB: cached.bytes / MiB,
    rootfsMiB: cached.rootfsBytes / MiB,
    rssAtRestMiB: atRest / MiB,
    handoverMs: { p50, max: Math.max(...handovers), all: handovers.map(Math.round) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `image ${result.rootfsMiB.toFixed(1)} MiB (archive ${result.archiveMiB.toFixed(1)} MiB), fresh builds ` +
      `${builds.map((b) => `${b.seconds} s`).join(' and ')}, ${same ? 'one digest' : 'DIFFERENT digests'}; ` +
      `RSS at rest ${result.rssAtRestMiB.toFixed(0)} MiB; hand-over on SIGTERM p50 ${p50.toFixed(0)} ms ` +
      `(target <= ${HANDOVER_TARGET_MS})`,
  );
  process.exitCode = same && p50 <= HANDOVER_TARGET_MS ? 0 : 1;
} finally {
  podman.close();
  await cluster.stop();
}
