import type { ObjectRef } from '../k8s/client.js';
import type { KubeObject } from '../k8s/objects.js';
import { canaryIngressName } from '../traffic/nginx.js';
import { canaryServiceName } from '../traffic/service.js';
import { isOwnedBy } from './actions.js';
import type { Observed, Pod, Workload } from './observed.js';
import { type RolloutObject, strategyOf } from './types.js';
import { canaryWorkloadName } from './workload.js';

export const ROLLOUT_REF = { apiVersion: 'stepwise.dev/v1alpha1', kind: 'Rollout' } as const;

const selectorString = (w: Workload | undefined) =>
  Object.entries(w?.spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/**
 * A Deployment's own ReplicaSets: those its selector matches that it owns (a canary Deployment shares the selector).
 */
export async function ownedReplicaSets(reader: Reader, workload: Workload): Promise<Workload[]> {
  const sets = await reader.list<Workload>(
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: workload.metadata.namespace },
    selectorString(workload),
  );
  return sets.filter((rs) => isOwnedBy(rs, workload));
}

/** Where observe reads from: the API server (a `KubeClient`) or the controller's informer cache. */
export interface Reader {
  get<T extends KubeObject>(ref: ObjectRef & { name: string }): Promise<T | undefined>;
  list<T extends KubeObject>(ref: ObjectRef, labelSelector?: string): Promise<T[]>;
}

/** Reads a Rollout and everything it governs, in parallel; undefined when the Rollout is gone. */
export async function observe(
  client: Reader,
  namespace: string,
  name: string,
  now = new Date(),
): Promise<Observed | undefined> {
  const rollout = await client.get<RolloutObject>({ ...ROLLOUT_REF, name, namespace });
  if (!rollout) return undefined;
  const ref = rollout.spec.workloadRef;
  const { routing } = strategyOf(rollout);
  const get = <T extends KubeObject>(apiVersion: string, kind: string, objectName: string | undefined) =>
    objectName ? client.get<T>({ apiVersion, kind, name: objectName, namespace }) : Promise.resolve(undefined);
  const [workload, canaryWorkload, stableService, canaryService, ingress, canaryIngress, httpRoute] = await Promise.all(
    [
      get<Workload>(ref.apiVersion, ref.kind, ref.name),
      ref.kind === 'Deployment'
        ? get<Workload>('apps/v1', 'Deployment', canaryWorkloadName(ref.name))
        : Promise.resolve(undefined),
      get('v1', 'Service', routing?.service),
      get('v1', 'Service', routing?.service && canaryServiceName(routing.service)),
      get('networking.k8s.io/v1', 'Ingress', routing?.ingress?.name),
      get('networking.k8s.io/v1', 'Ingress', routing?.ingress?.name && canaryIngressName(routing.ingress.name)),
      get('gateway.networking.k8s.io/v1', 'HTTPRoute', routing?.gateway?.httpRouteName),
    ],
  );
  const selector = selectorString(workload);
  const [replicaSets, pods] = await Promise.all([
    workload && ref.kind === 'Deployment'
      ? client.list<Workload>({ apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace }, selector)
      : Promise.resolve([]),
    workload && selector
      ? client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace }, selector)
      : Promise.resolve([]),
  ]);
  return {
    now,
    rollout,
    ...(workload ? { workload } : {}),
    replicaSets: workload ? replicaSets.filter((rs) => isOwnedBy(rs, workload)) : [],
    ...(canaryWorkload ? { canaryWorkload } : {}),
    canaryReplicaSets: canaryWorkload ? replicaSets.filter((rs) => isOwnedBy(rs, canaryWorkload)) : [],
    pods,
    ...(stableService ? { stableService } : {}),
    ...(canaryService ? { canaryService } : {}),
    ...(ingress ? { ingress } : {}),
    ...(canaryIngress ? { canaryIngress } : {}),
    ...(httpRoute ? { httpRoute } : {}),
  };
}
