import { applyPlanned, planApply } from '../../src/apply/plan.js';
import type { KubeClient } from '../../src/k8s/client.js';
import type { Pod, Workload } from '../../src/reconciler/observed.js';
import { observe, ROLLOUT_REF } from '../../src/reconciler/observe.js';
import { runRelease } from '../../src/reconciler/run.js';
import { summarize, type RolloutSummary } from '../../src/reconciler/summary.js';
import { type RolloutObject, type SubStatus, strategyOf, subStatusOf } from '../../src/reconciler/types.js';
import { loadApps } from '../../src/appspec/load.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { yamlDocument } from '../../src/render/yaml.js';
import { createNamespace, eventually } from './kube.js';

/** A release under test: an app spec applied as `stepwise apply` does, in its own namespace. */
export class ReleaseHarness {
  constructor(
    readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
  ) {}

  static async create(client: KubeClient, namespace: string, spec: string): Promise<ReleaseHarness> {
    await createNamespace(client, namespace);
    const h = new ReleaseHarness(client, namespace, loadApps([{ file: 'spec.yaml', text: spec }]).apps[0]!.app.name);
    await h.apply(spec);
    return h;
  }

  /** Created, every replica Ready, and the Rollout Healthy: the starting point of a release test. */
  static async deployed(client: KubeClient, namespace: string, spec: string): Promise<ReleaseHarness> {
    const h = await ReleaseHarness.create(client, namespace, spec);
    const { workload } = loadApps([{ file: 'spec.yaml', text: spec }]).apps[0]!.app;
    await eventually(
      `${h.name} Ready`,
      async () =>
        (await h.get<Workload>('apps/v1', workload.kind, h.name))?.status?.readyReplicas === workload.replicas,
    );
    await h.run('done');
    return h;
  }

  /** `stepwise apply` of a spec (a new image starts a release). */
  async apply(spec: string): Promise<{ release: boolean; rollback: boolean }> {
    const { apps, issues } = loadApps([{ file: 'spec.yaml', text: spec }]);
    if (issues.some((i) => i.severity === 'error')) throw new Error(JSON.stringify(issues));
    const { objects, release, rollback } = await planApply(this.client, apps[0]!.app, this.namespace);
    await applyPlanned(this.client, objects);
    return { release, rollback };
  }

  async run(until: 'pause' | 'done' = 'pause'): Promise<RolloutObject> {
    return runRelease(this.client, this.namespace, this.name, { until, pollMs: 250 });
  }

  async rollout(): Promise<RolloutObject> {
    return (await this.client.get<RolloutObject>({ ...ROLLOUT_REF, name: this.name, namespace: this.namespace }))!;
  }

  async sub(): Promise<SubStatus> {
    return subStatusOf(await this.rollout())!;
  }

  async summary(): Promise<RolloutSummary> {
    return summarize((await observe(this.client, this.namespace, this.name))!);
  }

  async pods(labelSelector = `app.kubernetes.io/name=${this.name}`): Promise<Pod[]> {
    return (
      await this.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: this.namespace }, labelSelector)
    ).filter((p) => !p.metadata.deletionTimestamp);
  }

  /** Pods per revision label value. */
  async podsByRevision(label = 'pod-template-hash'): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of await this.pods())
      out[p.metadata.labels?.[label] ?? '?'] = (out[p.metadata.labels?.[label] ?? '?'] ?? 0) + 1;
    return out;
  }

  async get<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string): Promise<T | undefined> {
    return this.client.get<T>({ apiVersion, kind, name, namespace: this.namespace });
  }

  async selector(service: string): Promise<Record<string, string> | undefined> {
    return ((await this.get('v1', 'Service', service))?.spec as { selector?: Record<string, string> } | undefined)
      ?.selector;
  }

  async annotations(ingress: string): Promise<Record<string, string> | undefined> {
    return (await this.get('networking.k8s.io/v1', 'Ingress', ingress))?.metadata.annotations;
  }

  /** Approves the paused step the way `stepwise promote` does (OpenKruise's status patch). */
  async promote(): Promise<void> {
    const r = await this.rollout();
    const key = strategyOf(r).statusKey;
    await this.client.mergePatch(
      { ...ROLLOUT_REF, name: this.name, namespace: this.namespace },
      { status: { [key]: { currentStepState: 'StepReady' } } },
      'status',
      'test',
    );
  }

  async events(): Promise<{ reason: string; message: string }[]> {
    const events = await this.client.list<
      KubeObject & {
        reason: string;
        message: string;
        involvedObject: { name: string; kind: string };
        firstTimestamp: string;
      }
    >({ apiVersion: 'v1', kind: 'Event', namespace: this.namespace });
    return events
      .filter((e) => e.involvedObject.kind === 'Rollout' && e.involvedObject.name === this.name)
      .sort((a, b) => a.firstTimestamp.localeCompare(b.firstTimestamp));
  }
}

/** The seed scenario's spec, with a chosen image (and optional extras under spec.workload). */
export function echoserver(
  image: string,
  options: { rollout?: string; workloadExtra?: string; route?: string } = {},
): string {
  return `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: echoserver}
spec:
  workload:
    image: ${image}
    replicas: 5
    readinessProbe: {httpGet: {path: /, port: http}}${options.workloadExtra ?? ''}
  service: {name: echoserver-service}
  route:
${options.route ?? '    ingress: {name: echoserver-ingress, host: echoserver.example.com}'}
  rollout:
${
  options.rollout ??
  `    strategy: blueGreen
    gracePeriodSeconds: 0
    steps:
      - {replicas: 100%, traffic: 0%}
      - {replicas: 100%, traffic: 10%}
      - {replicas: 100%, traffic: 100%}`
}
`;
}

/**
 * The seed blue-green release (0%, 10%, then 100% of the traffic) without a grace period, each step continuing on
 * its own after `pauses[i]` seconds: a release that runs to the end with no one approving it.
 */
export function timedBlueGreen(image: string, pauses: readonly [number, number, number]): string {
  const steps = ['0%', '10%', '100%'].map(
    (traffic, i) => `      - {replicas: 100%, traffic: ${traffic}, pause: {duration: ${pauses[i]}}}`,
  );
  return echoserver(image, {
    rollout: ['    strategy: blueGreen', '    gracePeriodSeconds: 0', '    steps:', ...steps].join('\n'),
  });
}

/**
 * A canary behind an nginx Ingress (`web`, 4 replicas) whose steps are checked by `analysis`: 1 pod with 20% of the
 * traffic, then all, with no approval between them; `rollout` adds to or replaces the rollout block's fields.
 */
export function analyzedCanary(
  image: string,
  analysis: Record<string, unknown>,
  rollout: Record<string, unknown> = {},
): string {
  return yamlDocument({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'web' },
    spec: {
      workload: { image, replicas: 4, readinessProbe: { httpGet: { path: '/', port: 'http' } } },
      route: { ingress: { host: 'web.example.com' } },
      rollout: {
        strategy: 'canary',
        gracePeriodSeconds: 0,
        steps: [
          { replicas: 1, traffic: '20%', pause: { duration: 0 } },
          { replicas: '100%', traffic: '100%' },
        ],
        ...rollout,
        analysis,
      },
    },
  });
}
