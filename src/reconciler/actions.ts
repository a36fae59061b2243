import type { KubeObject } from '../k8s/objects.js';

export interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** One idempotent write. Doing it twice leaves the cluster as doing it once, so a crash between writes is harmless. */
export type Action = (
  | { kind: 'apply'; object: KubeObject }
  | { kind: 'merge'; ref: Ref; patch: Record<string, unknown> }
  | { kind: 'replace-template'; ref: Ref; template: unknown }
  | { kind: 'delete'; ref: Ref }
) & {
  why: string;
  /**
   * Independent of every other write (a pod's batch label): sent at once, without holding up the writes after
   * it. The pass still waits for it before it records the status.
   */
  background?: boolean;
};

export const refOf = (o: KubeObject): Ref => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
});

/** The ownerReference that makes a Stepwise-created object (canary Service, Ingress, Deployment) the Rollout's. */
export function ownedBy(rollout: KubeObject): Record<string, unknown>[] {
  return [
    {
      apiVersion: rollout.apiVersion,
      kind: rollout.kind,
      name: rollout.metadata.name,
      uid: rollout.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

/** `object` has `owner` among its ownerReferences (by uid; by kind and name when the owner has none yet). */
export function isOwnedBy(object: KubeObject | undefined, owner: KubeObject): boolean {
  const owners = (object?.metadata.ownerReferences ?? []) as { uid?: string; kind?: string; name?: string }[];
  return owners.some((o) =>
    owner.metadata.uid ? o.uid === owner.metadata.uid : o.kind === owner.kind && o.name === owner.metadata.name,
  );
}
