/**
 * The test control plane: `build` builds what is missing of it, of the OpenKruise Rollouts controller and of the
 * other real tools (before the integration tests run), and a local cluster for trying Stepwise by hand:
 *   eval "$(npm run -s cluster:up)"    # starts it (or finds the running one) and exports KUBECONFIG and PATH
 *   kubectl get nodes
 *   npm run cluster:down
 * Progress and hints go to stderr; stdout carries only the export lines.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { attachCluster, startCluster } from './cluster.js';
import { ensureControlPlane, ensureKruise, ensureTools, ensureTraefik } from './build.js';
import { isAlive } from './process.js';

const stateDir = `${process.env.STEPWISE_CACHE ?? `${homedir()}/.cache/stepwise`}/cluster`;
const pointer = `${stateDir}/current`;

function current(): string | undefined {
  if (!existsSync(pointer)) return undefined;
  const runDir = readFileSync(pointer, 'utf8').trim();
  if (!existsSync(`${runDir}/state.json`)) return undefined;
  const { state } = attachCluster(runDir);
  return state.components.every((c) => isAlive(c.pid)) ? runDir : undefined;
}

async function up(): Promise<void> {
  const { bin } = await ensureControlPlane();
  let runDir = current();
  if (runDir) process.stderr.write(`a cluster is already running (${runDir})\n`);
  else {
    const previous = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : undefined;
    if (previous && existsSync(`${previous}/state.json`)) await attachCluster(previous).stop(); // Half-dead: clear it.
    const cluster = await startCluster({ detached: true });
    runDir = cluster.state.runDir;
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(pointer, `${runDir}\n`);
    const mib = Object.values(cluster.memory()).reduce((a, b) => a + b, 0) / 2 ** 20;
    process.stderr.write(
      `started in ${(cluster.startupMs / 1000).toFixed(1)} s, using ${mib.toFixed(0)} MiB; stop it with: npm run ` +
        `cluster:down\n`,
    );
  }
  const { state } = attachCluster(runDir);
  process.stderr.write('try: kubectl get nodes\n');
  process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\nexport PATH=${bin}:$PATH\n`);
}

async function down(): Promise<void> {
  if (!existsSync(pointer)) {
    process.stderr.write('no cluster is running\n');
    return;
  }
  const runDir = readFileSync(pointer, 'utf8').trim();
  if (existsSync(`${runDir}/state.json`)) await attachCluster(runDir).stop();
  rmSync(pointer, { force: true });
  process.stderr.write(`stopped the cluster in ${runDir}\n`);
}

// `npm test` builds first, outside any test's timeout: a cold build takes many minutes. The control plane first:
// every integration test needs it, and build.sh builds one target at a time anyway.
async function build(): Promise<void> {
  process.stderr.write(`[testenv] control plane in ${(await ensureControlPlane()).root}\n`);
  process.stderr.write(`[testenv] kruise-rollout ${(await ensureKruise()).binary}\n`);
  process.stderr.write(`[testenv] helm 3 and 4, cue beside ${(await ensureTools()).helm3}\n`);
  process.stderr.write(`[testenv] traefik ${await ensureTraefik()}\n`);
}

const command = process.argv[2];
if (command === 'build') await build();
else if (command === 'up') await up();
else if (command === 'down') await down();
else {
  process.stderr.write('usage: cli.js build|up|down\n');
  process.exitCode = 2;
}
