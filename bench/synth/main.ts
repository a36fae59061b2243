/**
 * Synthesis benchmark, as whole processes, the way a person or a pipeline runs them; every figure is a median
 * and every comparison is against a baseline measured in the same run, interleaved with it:
 *
 * 1. start-up: `stepwise validate` and `stepwise synth` of one app, against a bare `node -e ''`;
 * 2. scale: `stepwise synth` of N apps (one multi-document file), against the same Deployment + Service + Ingress
 *    per app with plain cdk8s-plus (one Chart per app in one App, `synthYaml`) as its own process.
 *
 *   npm run bench:synth                 # 100 and 1000 apps, median of 3 runs (7 for start-up)
 *   node dist/bench/synth/main.js 200 2000 --runs 5
 *
 * Exits 1 when a target is missed: start-up <= 5x node's, synth(1000) <= 0.25x the baseline's, growth <= 12.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from '../../test/support/paths.js';
import { median } from '../stats.js';

function appYaml(i: number): string {
  return `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: app-${i}, namespace: bench}
spec:
  workload:
    image: registry.example.com/app-${i}:1.0.${i}
    replicas: ${3 + (i % 5)}
    port: 8080
    readinessProbe: {httpGet: {path: /healthz, port: http}}
    resources: {requests: {cpu: 100m, memory: 128Mi}}
  service: {port: 80}
  route:
    ingress: {host: app-${i}.example.com}
  rollout:
    strategy: ${i % 2 ? 'canary' : 'blueGreen'}
    steps:
      - {replicas: ${i % 2 ? '20%' : '100%'}, traffic: ${i % 2 ? '20%' : '0%'}}
      - {replicas: ${i % 2 ? '50%' : '100%'}, traffic: 50%, pause: {duration: 60}}
      - {replicas: 100%, traffic: 100%}
`;
}

/** Milliseconds of one whole process, its output thrown away; a failure stops the benchmark. */
function timed(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** Medians of several commands, run in turn `runs` times, so that all of them meet the same machine state. */
function medians<K extends string>(runs: number, commands: Record<K, readonly string[]>): Record<K, number> {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < runs; r++) for (const k of Object.keys(commands) as K[]) times[k].push(timed(commands[k]));
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs as number[])])) as Record<K, number>;
}

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && i !== runsAt + 1).map(Number);
const [small, large] = sizes.length === 2 ? (sizes as [number, number]) : [100, 1000];
const cli = 'bin/stepwise.js';
const ms = (x: number) => `${x.toFixed(0)} ms`;

const startup = medians(Math.max(runs, 7), {
  node: ['-e', ''],
  validate: [cli, 'validate', '-f', 'examples/blue-green.yaml'],
  synth: [cli, 'synth', '-f', 'examples/blue-green.yaml'],
});
const validateRatio = startup.validate / startup.node;
const synthRatio = startup.synth / startup.node;
console.log(`start-up, median of ${Math.max(runs, 7)} runs (node ${process.version})`);
console.log(
  `  node -e '': ${ms(startup.node)}; stepwise validate: ${ms(startup.validate)} (${validateRatio.toFixed(2)}x); ` +
    `stepwise synth: ${ms(startup.synth)} (${synthRatio.toFixed(2)}x)   target <= 5x`,
);

const dir = mkdtempSync(join(tmpdir(), 'stepwise-bench-synth-'));
const specs = Object.fromEntries(
  [small, large].map((n) => {
    const file = join(dir, `apps-${n}.yaml`);
    writeFileSync(file, Array.from({ length: n }, (_, i) => appYaml(i)).join('---\n'));
    return [n, file];
  }),
);
const baseline = 'dist/bench/synth/baseline.js';
const scale = medians(runs, {
  stepwiseSmall: [cli, 'synth', '-f', specs[small]!],
  stepwiseLarge: [cli, 'synth', '-f', specs[large]!],
  baselineSmall: [baseline, String(small)],
  baselineLarge: [baseline, String(large)],
});
rmSync(dir, { recursive: true, force: true });
const vsBaseline = scale.stepwiseLarge / scale.baselineLarge;
const growth = scale.stepwiseLarge / scale.stepwiseSmall;
console.log(`synth as whole processes, median of ${runs} runs`);
console.log('  apps   stepwise       cdk8s-plus baseline');
console.log(`  ${String(small).padEnd(6)} ${ms(scale.stepwiseSmall).padEnd(14)} ${ms(scale.baselineSmall)}`);
console.log(`  ${String(large).padEnd(6)} ${ms(scale.stepwiseLarge).padEnd(14)} ${ms(scale.baselineLarge)}`);
console.log(`ratio stepwise/baseline at ${large} apps: ${vsBaseline.toFixed(3)} (target <= 0.25)`);
console.log(
  `growth stepwise ${large}/${small} apps: ${growth.toFixed(2)} (target <= 12); baseline ` +
    `${(scale.baselineLarge / scale.baselineSmall).toFixed(2)}`,
);
console.log(JSON.stringify({ runs, startup, scale, validateRatio, synthRatio, vsBaseline, growth }));
process.exitCode = validateRatio <= 5 && synthRatio <= 5 && vsBaseline <= 0.25 && growth <= 12 ? 0 : 1;
