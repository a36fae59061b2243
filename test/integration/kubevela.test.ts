/**
 * The KubeVela trait with real `cue` (built from the Go module proxy): for every example and a set of parameters
 * covering each strategy, provider, engine and workload kind, the trait's CUE, given KubeVela's `context` and the
 * spec's rollout, service and route blocks as `parameter`, renders exactly the objects `stepwise synth` renders
 * and passes `cue vet`; bad parameters fail in `cue` naming the field. Its health policy and custom status are
 * evaluated against Rollouts and workloads captured from a real release on the control plane. KubeVela's own
 * controller is not built here (it is not on the module proxy), so applying the definition through it is not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type LoadedApp, loadApps } from '../../src/appspec/load.js';
import { KRUISE_ANALYSIS_ANNOTATION } from '../../src/appspec/values.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { traitDefinition, traitTemplate } from '../../src/kubevela/trait.js';
import { renderApp } from '../../src/render/app.js';
import { renderWorkload } from '../../src/render/workload.js';
import { yamlDocument } from '../../src/render/yaml.js';
import type { Workload } from '../../src/reconciler/observed.js';
import { reconcileOnce } from '../../src/reconciler/run.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { ensureTools } from '../testenv/build.js';
import { useCluster } from '../support/kube.js';
import { ROOT } from '../support/paths.js';
import { echoserver, ReleaseHarness } from '../support/release.js';

let cue: string;
const work = mkdtempSync(join(tmpdir(), 'stepwise-kubevela-'));
before(async () => {
  cue = (await ensureTools()).cue;
});
after(() => rmSync(work, { recursive: true, force: true }));

/** `cue` on one file: the template (or a policy) with KubeVela's values appended, as KubeVela evaluates it. */
function runCue(args: readonly string[], cueText: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(work, 'trait.cue');
  writeFileSync(file, cueText);
  const r = spawnSync(cue, [...args, file], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const withValues = (template: string, values: Record<string, unknown>) =>
  `${template}\n${Object.entries(values)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n')}\n`;

/** What KubeVela gives the trait for an app: the rendered workload as `context.output`, the blocks as parameter. */
function kubevelaInput({ app, spec }: LoadedApp) {
  const { rollout, service, route } = spec.spec;
  return {
    context: { output: renderWorkload(app), name: app.name, namespace: app.namespace, appName: 'shop' },
    parameter: { ...rollout, ...(service ? { service } : {}), ...(route ? { route } : {}) },
  };
}

/** `stepwise synth`'s objects as the trait names them, and its workload as the trait's patch must leave it. */
function expected(loaded: LoadedApp): { outputs: Record<string, KubeObject>; workload: KubeObject } {
  const [workload, service, ...rest] = renderApp(loaded.app);
  const outputs: Record<string, KubeObject> = { service: service as KubeObject };
  for (const o of rest) {
    const name = o.kind === 'Rollout' ? 'rollout' : o.kind === 'Service' ? 'canary-service' : 'route';
    outputs[name] = o;
  }
  return { outputs, workload };
}

/** KubeVela's patch (a labels merge here) applied to the component's workload. */
function patched(workload: KubeObject, patch: { metadata?: { labels?: Record<string, string> } } | undefined) {
  const labels = { ...workload.metadata.labels, ...patch?.metadata?.labels };
  return { ...workload, metadata: { ...workload.metadata, labels } };
}

function assertParity(loaded: LoadedApp, what: string): void {
  const input = kubevelaInput(loaded);
  const text = withValues(traitTemplate(), input);
  const exported = runCue(['export', '--out', 'json'], text);
  assert.equal(exported.status, 0, `${what}: cue export failed:\n${exported.stderr}`);
  const { outputs, patch } = JSON.parse(exported.stdout) as { outputs: Record<string, KubeObject>; patch?: object };
  const want = expected(loaded);
  for (const name of new Set([...Object.keys(want.outputs), ...Object.keys(outputs)]))
    assert.deepEqual(jsonRead(outputs[name]), jsonRead(want.outputs[name]), `${what}: outputs.${name}`);
  assert.deepEqual(patched(input.context.output, patch), want.workload, `${what}: the patched workload`);
  const vet = runCue(['vet', '-c'], text);
  assert.equal(vet.status, 0, `${what}: cue vet failed:\n${vet.stderr}`);
}

/** An object with the JSON its annotation carries read, since key order in JSON text means nothing. */
function jsonRead(o: KubeObject | undefined) {
  const carried = o?.metadata.annotations?.[KRUISE_ANALYSIS_ANNOTATION];
  if (!o || carried === undefined) return o;
  const annotations = { ...o.metadata.annotations, [KRUISE_ANALYSIS_ANNOTATION]: JSON.parse(carried) };
  return { ...o, metadata: { ...o.metadata, annotations } };
}

function load(text: string, file: string): LoadedApp {
  const { apps, issues } = loadApps([{ file, text }]);
  assert.deepEqual(
    issues.filter((i) => i.severity === 'error'),
    [],
    `${file} must be a valid spec`,
  );
  return apps[0] as LoadedApp;
}

test('every example renders through the trait as stepwise synth renders it', () => {
  const files = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3);
  for (const f of [...files.map((f) => `examples/${f}`), 'examples/layers/base.yaml']) {
    assertParity(load(readFileSync(`${ROOT}${f}`, 'utf8'), f), f);
  }
});

const INGRESS = { ingress: { host: 'shop.example.com' } };
const GATEWAY = { gateway: { parentRefs: [{ name: 'public' }], hostnames: ['shop.example.com'] } };
const CANARY_STEPS = [
  { replicas: 1, traffic: '5%', pause: {} },
  { replicas: '50%', traffic: '50%', pause: { duration: 60 } },
  { replicas: '100%', traffic: '100%' },
];
/** In place (a StatefulSet's partition), a step that routes traffic leaves the stable Service half the pods. */
const IN_PLACE_STEPS = [{ replicas: 1, traffic: '5%' }, { replicas: '50%', traffic: '50%' }, { replicas: '100%' }];
const BLUE_GREEN_STEPS = [
  { replicas: '100%', traffic: '0%' },
  { replicas: '100%', traffic: '10%', pause: { duration: 30 } },
  { replicas: '100%', traffic: '100%' },
];
/** A/B steps: every step routes by matches; nginx can match one header per step, Gateway API ANDs several. */
const abSteps = (provider: string) => [
  {
    replicas: 1,
    matches: [
      {
        headers: [
          { name: 'x-region', value: 'eu-.*', type: 'RegularExpression' },
          ...(provider === 'gateway' ? [{ name: 'x-beta', value: 'yes' }] : []),
        ],
      },
      { cookie: 'beta.user$' },
    ],
  },
  { replicas: '100%', matches: [{ headers: [{ name: 'x-beta', value: 'yes' }] }] },
];

/** Parameter sets beyond the examples: each strategy, provider, engine and workload kind, shorthand and options. */
const CASES: Record<string, { spec: Record<string, unknown>; metadata?: Record<string, unknown> }> = {};
for (const engine of ['builtin', 'kruise'])
  for (const [provider, route] of [
    ['nginx', INGRESS],
    ['gateway', GATEWAY],
    ['no route', undefined],
  ] as const) {
    const traffic = route ? {} : { steps: [{ replicas: 1 }, { replicas: '100%' }] };
    CASES[`canary, ${provider}, ${engine}`] = {
      spec: { route, rollout: { strategy: 'canary', engine, steps: CANARY_STEPS, ...traffic } },
    };
    if (route) {
      CASES[`blue-green, ${provider}, ${engine}`] = {
        spec: { route, rollout: { strategy: 'blueGreen', engine, steps: BLUE_GREEN_STEPS } },
      };
      CASES[`A/B by header and cookie, ${provider}, ${engine}`] = {
        spec: { route, rollout: { strategy: 'abTest', engine, steps: abSteps(provider) } },
      };
    }
  }
Object.assign(CASES, {
  'A/B by query and path, gateway': {
    spec: {
      route: GATEWAY,
      rollout: {
        strategy: 'abTest',
        steps: [
          {
            replicas: 2,
            matches: [{ queryParams: [{ name: 'canary', value: 'true' }] }, { path: { value: '/beta' } }],
          },
          { replicas: '100%', matches: [{ path: { value: '/beta' } }] },
        ],
      },
    },
  },
  'stepWeight overshooting maxWeight, nginx': {
    spec: { route: INGRESS, rollout: { strategy: 'canary', stepWeight: 20, maxWeight: 50, pause: { duration: 10 } } },
  },
  'stepWeight to 100, gateway, kruise': {
    spec: { route: GATEWAY, rollout: { strategy: 'canary', engine: 'kruise', stepWeight: 30 } },
  },
  'stepWeights, nginx': {
    spec: { route: INGRESS, rollout: { strategy: 'canary', stepWeights: [1, 5, 20, 50] } },
  },
  'StatefulSet in place, nginx': {
    spec: {
      workload: { kind: 'StatefulSet' },
      route: INGRESS,
      rollout: { strategy: 'canary', steps: IN_PLACE_STEPS },
    },
  },
  'StatefulSet, gateway, kruise': {
    spec: {
      workload: { kind: 'StatefulSet' },
      route: GATEWAY,
      rollout: { strategy: 'canary', engine: 'kruise', steps: IN_PLACE_STEPS },
    },
  },
  'every rollout option': {
    spec: {
      route: INGRESS,
      rollout: {
        strategy: 'canary',
        steps: CANARY_STEPS,
        failureThreshold: '20%',
        gracePeriodSeconds: 0,
        progressDeadlineSeconds: 120,
      },
    },
  },
  'a named Service and an Ingress with every option': {
    spec: {
      service: { name: 'shop-svc', port: 8080, targetPort: 9090 },
      route: {
        ingress: {
          name: 'shop-public',
          className: 'internal',
          host: 'shop.example.com',
          path: '/shop',
          pathType: 'Exact',
          tls: { secretName: 'shop-tls' },
          annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m', team: 'payments' },
        },
      },
      rollout: { strategy: 'canary', steps: CANARY_STEPS },
    },
  },
  'an HTTPRoute with every option, kruise': {
    spec: {
      route: {
        gateway: {
          name: 'shop-route',
          parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'https' }],
          hostnames: ['shop.example.com', '*.shop.example.com'],
          path: '/api',
          pathType: 'Exact',
        },
      },
      rollout: { strategy: 'canary', engine: 'kruise', steps: CANARY_STEPS },
    },
  },
  'metric analysis, gateway': {
    spec: {
      route: GATEWAY,
      rollout: {
        strategy: 'canary',
        steps: [{ replicas: 1, traffic: '5%', analyze: false }, ...CANARY_STEPS.slice(1)],
        analysis: {
          metrics: [
            { name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 } },
            {
              name: 'errors',
              query: 'sum(rate(errors{ns="{{ namespace }}"}[{{ interval }}]))',
              thresholdRange: { max: 1 },
              interval: '30s',
            },
          ],
          webhooks: [
            { name: 'load', url: 'http://loadtester.test/', metadata: { cmd: 'hey -z 1m http://shop-canary/' } },
            { name: 'approve', type: 'confirm-promotion', url: 'http://loadtester.test/gate/check', retries: 0 },
          ],
          failureLimit: 1,
          noData: 'fail',
          prometheus: { address: 'http://prometheus.monitoring:9090' },
        },
      },
    },
  },
  'metric analysis carried for Kruise, canary on nginx': {
    metadata: { annotations: { team: 'payments' } },
    spec: {
      route: INGRESS,
      rollout: {
        strategy: 'canary',
        engine: 'kruise',
        steps: [{ replicas: 1, traffic: '5%', pause: { duration: 0 } }, ...CANARY_STEPS.slice(1)],
        analysis: {
          intervalSeconds: 30,
          metrics: [{ name: 'success', template: 'request-success-rate', thresholdRange: { min: 99 } }],
          webhooks: [{ name: 'load', url: 'http://loadtester.test/', metadata: { cmd: 'hey -z 1m' } }],
        },
      },
    },
  },
  'metric analysis carried for Kruise, blue-green on a gateway, some steps': {
    spec: {
      route: GATEWAY,
      rollout: {
        strategy: 'blueGreen',
        engine: 'kruise',
        steps: BLUE_GREEN_STEPS.map((s, i) => ({ ...s, analyze: i > 0 })),
        analysis: {
          everyStep: false,
          metrics: [{ name: 'latency', template: 'request-duration', thresholdRange: { max: 500 } }],
        },
      },
    },
  },
  'labels and annotations on the app': {
    metadata: { labels: { team: 'payments' }, annotations: { 'example.com/owner': 'payments', team: 'app' } },
    spec: {
      route: { ingress: { host: 'shop.example.com', annotations: { team: 'ingress' } } },
      rollout: { strategy: 'blueGreen', steps: BLUE_GREEN_STEPS },
    },
  },
});

function caseSpec({ spec, metadata }: (typeof CASES)[string]): string {
  const { workload, ...rest } = spec as { workload?: object };
  return yamlDocument({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'shop', namespace: 'store', ...metadata },
    spec: { workload: { image: 'shop:1', replicas: 4, ...workload }, ...rest },
  });
}

test('at least 20 further parameter sets render through the trait as stepwise synth renders them', () => {
  assert.ok(Object.keys(CASES).length >= 20, `${Object.keys(CASES).length} cases`);
  for (const [what, c] of Object.entries(CASES)) assertParity(load(caseSpec(c), `${what}.yaml`), what);
});

test('bad parameters fail in cue, naming the field', () => {
  const { context, parameter } = kubevelaInput(load(caseSpec(CASES['canary, nginx, builtin']!), 'ok.yaml'));
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown strategy', { ...parameter, strategy: 'rolling' }, /parameter\.strategy/],
    ['an unknown field', { ...parameter, stepz: [] }, /parameter\.stepz/],
    ['traffic without %', { ...parameter, steps: [{ replicas: 1, traffic: '10' }] }, /parameter\.steps\.0\.traffic/],
    ['an unknown engine', { ...parameter, engine: 'argo' }, /parameter\.engine/],
    [
      'a header match type',
      { ...parameter, steps: [{ replicas: 1, matches: [{ headers: [{ name: 'a', value: 'b', type: 'Prefix' }] }] }] },
      /type/,
    ],
  ];
  for (const [what, p, names] of bad) {
    const r = runCue(['vet', '-c'], withValues(traitTemplate(), { context, parameter: p }));
    assert.notEqual(r.status, 0, `${what} must fail`);
    assert.match(r.stderr, names, `${what}: ${r.stderr}`);
  }
});

test('the definition in traits/ reads, with a Go YAML reader, as the one stepwise trait prints', () => {
  const file = `${ROOT}traits/stepwise-rollout.yaml`;
  const r = spawnSync(cue, ['export', '--out', 'json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), traitDefinition());
});

describeHealth();

/** The health policy and custom status, evaluated by cue on objects captured from a real release. */
function describeHealth(): void {
  const env = useCluster();
  const { healthPolicy, customStatus } = (traitDefinition().spec as { status: Record<string, string> }).status as {
    healthPolicy: string;
    customStatus: string;
  };

  function evaluate(rollout: RolloutObject, workload: Workload): { isHealth: boolean; message: string } {
    const context = { output: workload, outputs: { rollout } };
    const read = (policy: string, field: string) => {
      const r = runCue(['export', '--out', 'json', '-e', field], withValues(policy, { context }));
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as unknown;
    };
    return { isHealth: read(healthPolicy, 'isHealth') as boolean, message: read(customStatus, 'message') as string };
  }

  test('health: a Healthy Rollout that has seen the workload as it is; the status names the step', async () => {
    const h = await ReleaseHarness.deployed(env.client, 'health', echoserver('example/app:1'));
    const capture = async () =>
      evaluate(await h.rollout(), (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver')) as Workload);

    const deployed = await capture();
    assert.equal(deployed.isHealth, true);
    assert.match(deployed.message, /^Healthy: \w/);

    await h.apply(echoserver('example/app:2'));
    const unseen = await capture();
    assert.equal(unseen.isHealth, false, 'a new template the controller has not seen is not healthy');
    assert.equal(unseen.message, deployed.message, 'the status itself is the stale one');

    await reconcileOnce(env.client, 'health', 'echoserver');
    const progressing = await capture();
    assert.equal(progressing.isHealth, false);
    assert.match(progressing.message, /^Progressing, step 1 of 3 \(\w+\): \w/);

    await h.run();
    const paused = await capture();
    assert.equal(paused.isHealth, false);
    assert.match(paused.message, /^Progressing, step 1 of 3 \(StepPaused\): /);

    for (const step of [2, 3]) {
      await h.promote();
      await h.run();
      assert.match((await capture()).message, new RegExp(`^Progressing, step ${step} of 3 \\(StepPaused\\)`));
    }
    await h.promote();
    await h.run('done');
    assert.deepEqual((await capture()).isHealth, true, 'released: healthy');

    await h.apply(echoserver('example/app:3'));
    await h.run();
    assert.equal((await capture()).isHealth, false);
    await h.apply(echoserver('example/app:2'));
    await h.run('done');
    const rolledBack = await capture();
    assert.equal(rolledBack.isHealth, true, `rolled back to the stable version: healthy (${rolledBack.message})`);
  });
}
