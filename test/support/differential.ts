/**
 * What a tool or a person can observe of a release, engine-neutral: the Rollout's status, the pods per version,
 * the Services, the canary routing and the workloads. Revision hashes are replaced by the version they name and
 * label groups (stepwise.dev, rollouts.kruise.io) by `rollouts`, so two engines' releases of one app compare field
 * by field.
 */
import type { KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import type { Pod, Workload } from '../../src/reconciler/observed.js';
import { isReady } from '../../src/reconciler/observed.js';
import { type RolloutObject, strategyOf } from '../../src/reconciler/types.js';
import { refOf } from '../../src/reconciler/actions.js';
import { imageOf, templateImageOf } from './conformance.js';

/** Field name → value (JSON), for one release at one moment. */
export type Observation = Record<string, string>;

/** The app's versions by image, as the observation names them. */
export interface Versions {
  readonly [image: string]: string;
}

const REVISION_LABELS = ['pod-template-hash', 'controller-revision-hash'];
const RELEASE_LABEL = /^(stepwise\.dev|rollouts\.kruise\.io)\/(rollout-batch-id|rollout-id)$/;
/** Sub-status fields whose values are the engine's own (hashes, times, generations): only their presence compares. */
const OPAQUE = new Set([
  'stableRevision',
  'canaryRevision',
  'updatedRevision',
  'podTemplateHash',
  'rolloutHash',
  'observedRolloutID',
  'observedWorkloadGeneration',
  'lastUpdateTime',
]);

interface Listed {
  pods: Pod[];
  replicaSets: Workload[];
  workloads: Workload[];
  services: KubeObject[];
  ingresses: KubeObject[];
  routes: KubeObject[];
}

async function listAll(client: KubeClient, namespace: string, workloadKind: string): Promise<Listed> {
  const list = <T extends KubeObject>(apiVersion: string, kind: string) =>
    client.list<T>({ apiVersion, kind, namespace });
  const [pods, replicaSets, workloads, services, ingresses, routes] = await Promise.all([
    list<Pod>('v1', 'Pod'),
    list<Workload>('apps/v1', 'ReplicaSet'),
    list<Workload>('apps/v1', workloadKind),
    list('v1', 'Service'),
    list('networking.k8s.io/v1', 'Ingress'),
    list('gateway.networking.k8s.io/v1', 'HTTPRoute'),
  ]);
  return {
    pods: pods.filter((p) => !p.metadata.deletionTimestamp),
    replicaSets,
    workloads,
    services,
    ingresses,
    routes,
  };
}

/** Observes the release of `rollout` (as declared) in its namespace. */
export async function observe(client: KubeClient, declared: RolloutObject, versions: Versions): Promise<Observation> {
  const rollout = (await client.get<RolloutObject>(refOf(declared)))!;
  const { workloadRef } = rollout.spec;
  const listed = await listAll(client, declared.metadata.namespace!, workloadRef.kind);
  const versionOf = revisionNames(listed, versions);
  const named = (value: string) => versionOf.get(value) ?? value;
  const out: Observation = {};
  const put = (field: string, value: unknown) => {
    out[field] = JSON.stringify(value);
  };

  put('phase', rollout.status?.phase);
  put('message', rollout.status?.message);
  put('currentStepIndex', rollout.status?.currentStepIndex);
  put('currentStepState', rollout.status?.currentStepState);
  for (const c of rollout.status?.conditions ?? []) {
    put(`condition[${c.type}].status`, c.status);
    put(`condition[${c.type}].reason`, c.reason);
    put(`condition[${c.type}].message`, c.message);
  }
  const { statusKey } = strategyOf(rollout);
  for (const [key, value] of Object.entries(rollout.status?.[statusKey] ?? {}))
    put(`${statusKey}.${key}`, OPAQUE.has(key) ? 'set' : value);

  for (const [version, pods] of groupBy(listed.pods, (p) => versions[imageOf(p)!] ?? imageOf(p)!)) {
    put(`pods[${version}]`, `${pods.length} (${pods.filter(isReady).length} Ready)`);
    const release = pods.flatMap((p) =>
      Object.entries(p.metadata.labels ?? {}).flatMap(([k, v]) => {
        const m = RELEASE_LABEL.exec(k);
        return m ? [`rollouts/${m[2]}=${m[2] === 'rollout-id' ? 'set' : v}`] : [];
      }),
    );
    put(`pods[${version}].labels`, tally(release));
  }
  for (const rs of listed.replicaSets.filter((r) => (r.spec.replicas ?? 0) > 0)) {
    const version = named(rs.metadata.labels?.['pod-template-hash'] ?? '');
    put(`ReplicaSet[${version}].minReadySeconds`, rs.spec.minReadySeconds ?? 0);
  }
  for (const s of listed.services) {
    const selector = (s.spec as { selector?: Record<string, string> }).selector ?? {};
    put(
      `Service/${s.metadata.name}.selector`,
      mapValues(selector, (k, v) => (REVISION_LABELS.includes(k) ? named(v) : v)),
    );
  }
  for (const i of listed.ingresses) {
    const nginx = Object.entries(i.metadata.annotations ?? {}).filter(([k]) => k.startsWith('nginx.ingress'));
    put(`Ingress/${i.metadata.name}.annotations`, Object.fromEntries(nginx.sort()));
    put(`Ingress/${i.metadata.name}.backends`, backendsOf(i));
  }
  for (const r of listed.routes) put(`HTTPRoute/${r.metadata.name}.rules`, rulesOf(r));
  for (const w of listed.workloads) {
    const role = w.metadata.name === workloadRef.name ? w.metadata.name : '(canary)';
    const field = `${w.kind}/${role}`;
    put(`${field}.replicas`, w.spec.replicas);
    put(`${field}.readyReplicas`, w.status?.readyReplicas ?? 0);
    put(`${field}.paused`, w.spec.paused ?? false);
    put(`${field}.strategy`, w.spec.strategy ?? w.spec.updateStrategy);
    put(`${field}.minReadySeconds`, w.spec.minReadySeconds ?? 0);
  }
  return out;
}

/** Revision hash → version name, from the pods and ReplicaSets that carry both. */
function revisionNames(listed: Listed, versions: Versions): Map<string, string> {
  const names = new Map<string, string>();
  const learn = (labels: Record<string, string> | undefined, image: string | undefined) => {
    for (const label of REVISION_LABELS) {
      const hash = labels?.[label];
      if (hash && image) names.set(hash, versions[image] ?? image);
    }
  };
  for (const p of listed.pods) learn(p.metadata.labels, imageOf(p));
  for (const rs of listed.replicaSets) learn(rs.metadata.labels, templateImageOf(rs));
  return names;
}

function backendsOf(ingress: KubeObject): string[] {
  type Rules = { rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[] };
  const { rules = [] } = ingress.spec as Rules;
  return rules.flatMap((r) => r.http?.paths?.map((p) => p.backend?.service?.name ?? '') ?? []);
}

function rulesOf(route: KubeObject): unknown {
  type Rules = { rules?: { matches?: unknown; backendRefs?: { name: string; weight?: number }[] }[] };
  const { rules = [] } = route.spec as Rules;
  return rules.map((r) => ({
    matches: r.matches,
    backendRefs: r.backendRefs?.map(({ name, weight }) => ({ name, weight })),
  }));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** `a=1 ×5, b=set ×5`: how many of each, in a stable order. */
function tally(values: readonly string[]): string {
  const counts = groupBy(values, (v) => v);
  return [...counts.keys()]
    .sort()
    .map((v) => `${v} ×${counts.get(v)!.length}`)
    .join(', ');
}

function mapValues(record: Record<string, string>, f: (k: string, v: string) => string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record)
      .sort()
      .map(([k, v]) => [k, f(k, v)]),
  );
}

/** One field that differs between the two engines at one stage of a release. */
export interface Divergence {
  readonly stage: string;
  readonly field: string;
  readonly kruise?: string;
  readonly builtin?: string;
}

export function divergences(stage: string, kruise: Observation, builtin: Observation): Divergence[] {
  const fields = [...new Set([...Object.keys(kruise), ...Object.keys(builtin)])].sort();
  return fields
    .filter((field) => kruise[field] !== builtin[field])
    .map((field) => ({ stage, field, kruise: kruise[field], builtin: builtin[field] }));
}

export const describe = (d: Divergence) =>
  `${d.stage}: ${d.field}: kruise ${d.kruise ?? '(absent)'}, builtin ${d.builtin ?? '(absent)'}`;
