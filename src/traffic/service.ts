import type { WorkloadKind } from '../appspec/types.js';
import { derivedMeta, type KubeObject } from '../k8s/objects.js';

/** The label that tells one version's pods from another's, per workload kind (as OpenKruise uses). */
export const REVISION_LABEL: Record<WorkloadKind, string> = {
  Deployment: 'pod-template-hash',
  StatefulSet: 'controller-revision-hash',
};

export function canaryServiceName(stableService: string): string {
  return `${stableService}-canary`;
}

/** Fields the API server allocates per Service, which a copy must not carry over. */
const ALLOCATED_FIELDS = [
  'clusterIP',
  'clusterIPs',
  'externalIPs',
  'ipFamilies',
  'ipFamilyPolicy',
  'loadBalancerIP',
  'healthCheckNodePort',
];

/**
 * The canary Service `<svc>-canary`: a copy of the stable Service (labels, annotations, ports, type) without
 * its allocated addresses and node ports, selecting only the new version's pods once `revision` is known.
 */
export function canaryService(stable: KubeObject, revisionLabel: string, revision?: string): KubeObject {
  const spec = { ...(stable.spec as Record<string, unknown>) };
  for (const f of ALLOCATED_FIELDS) delete spec[f];
  spec.ports = ((spec.ports as Record<string, unknown>[] | undefined) ?? []).map(
    ({ nodePort: _nodePort, ...port }) => port,
  );
  spec.selector = withRevision(spec.selector as Record<string, string> | undefined, revisionLabel, revision);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: derivedMeta(stable.metadata, canaryServiceName(stable.metadata.name)),
    spec,
  };
}

/** A selector pinned to one revision (stable Service during a release), or unpinned when `revision` is absent. */
export function withRevision(
  selector: Record<string, string> | undefined,
  revisionLabel: string,
  revision?: string,
): Record<string, string> {
  const { [revisionLabel]: _previous, ...rest } = selector ?? {};
  return revision === undefined ? rest : { ...rest, [revisionLabel]: revision };
}
