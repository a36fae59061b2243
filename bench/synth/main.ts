/**
 * Synthesis benchmark: Stepwise's whole `synth` pipeline (YAML text -> parse, unify, validate, render,
 * YAML) for N apps, against a baseline in the same process: the same Deployment + Service + Ingress per app
 * built with plain cdk8s-plus, one Chart per app in one App, rendered by `app.synthYaml()`.
 *
 *   npm run bench:synth                 # 100 and 1000 apps, median of 3 runs each
 *   node dist/bench/synth/main.js 200 2000 --runs 5
 *
 * Prints a table and the two ratios the targets are stated in; exits 1 when a target is missed.
 */
import { performance } from 'node:perf_hooks';
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { loadApps } from '../../src/appspec/load.js';
import { synthApp } from '../../src/render/synth.js';

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

/** What `stepwise synth -f apps.yaml -o -` does, minus the file read. Returns the YAML. */
export function stepwiseSynth(text: string): string {
  const { apps, issues } = loadApps([{ file: 'apps.yaml', text }]);
  if (issues.some((i) => i.severity === 'error')) throw new Error('benchmark input is invalid');
  return apps.map(({ app }) => synthApp(app)).join('---\n');
}

export function baselineSynth(n: number): string {
  const app = new App();
  for (let i = 0; i < n; i++) {
    const chart = new Chart(app, `app-${i}`, { namespace: 'bench' });
    const deployment = new kplus.Deployment(chart, 'workload', {
      replicas: 3 + (i % 5),
      containers: [
        {
          image: `registry.example.com/app-${i}:1.0.${i}`,
          portNumber: 8080,
          readiness: kplus.Probe.fromHttpGet('/healthz', { port: 8080 }),
        },
      ],
    });
    const service = deployment.exposeViaService({ ports: [{ port: 80, targetPort: 8080 }] });
    const ingress = new kplus.Ingress(chart, 'ingress', { className: 'nginx' });
    ingress.addHostRule(
      `app-${i}.example.com`,
      '/',
      kplus.IngressBackend.fromService(service),
      kplus.HttpIngressPathType.PREFIX,
    );
  }
  return app.synthYaml();
}

function median(runs: number, fn: () => unknown): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && i !== runsAt + 1).map(Number);
const [small, large] = sizes.length === 2 ? (sizes as [number, number]) : [100, 1000];

const texts = new Map([small, large].map((n) => [n, Array.from({ length: n }, (_, i) => appYaml(i)).join('---\n')]));
stepwiseSynth(texts.get(small)!); // warm up the schema compiler and the JIT
baselineSynth(10);

const result = {
  runs,
  stepwise: {
    [small]: median(runs, () => stepwiseSynth(texts.get(small)!)),
    [large]: median(runs, () => stepwiseSynth(texts.get(large)!)),
  },
  baseline: { [small]: median(runs, () => baselineSynth(small)), [large]: median(runs, () => baselineSynth(large)) },
};
const objects = stepwiseSynth(texts.get(large)!).split('\n---\n').length;
const vsBaseline = result.stepwise[large]! / result.baseline[large]!;
const growth = result.stepwise[large]! / result.stepwise[small]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;
console.log(`synth benchmark, median of ${runs} runs (node ${process.version})`);
console.log(`  apps   stepwise       cdk8s-plus baseline`);
for (const n of [small, large])
  console.log(`  ${String(n).padEnd(6)} ${ms(result.stepwise[n]!).padEnd(14)} ${ms(result.baseline[n]!)}`);
console.log(
  `  ${large} apps = ${objects} objects from Stepwise (workload, Service, canary Service, Ingress, Rollout each)`,
);
console.log(`ratio stepwise/baseline at ${large} apps: ${vsBaseline.toFixed(3)} (target <= 0.25)`);
console.log(`growth stepwise ${large}/${small} apps: ${growth.toFixed(2)} (target <= 12)`);
console.log(
  `baseline growth ${large}/${small} apps: ${(result.baseline[large]! / result.baseline[small]!).toFixed(2)}`,
);
console.log(JSON.stringify({ ...result, vsBaseline, growth }));
process.exitCode = vsBaseline <= 0.25 && growth <= 12 ? 0 : 1;
