import type { NormalizedApp } from '../appspec/normalize.js';
import type { WorkloadKind } from '../appspec/types.js';

/**
 * What an engine needs to render a Rollout: the release plan and the names of the objects it governs.
 * An app spec yields one (`rolloutModel`); so does the `Rollout` construct attached to existing objects.
 */
export interface RolloutModel {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workload: { kind: WorkloadKind; name: string };
  /** The stable Service; required with a route. */
  service?: string;
  route?: { kind: 'ingress' | 'gateway'; name: string };
  rollout: NormalizedApp['rollout'];
}

export function rolloutModel(app: NormalizedApp, labels: Record<string, string>): RolloutModel {
  return {
    name: app.name,
    namespace: app.namespace,
    labels,
    annotations: app.annotations,
    workload: { kind: app.workload.kind, name: app.name },
    service: app.service.name,
    ...(app.route ? { route: { kind: app.route.kind, name: app.route.name } } : {}),
    rollout: app.rollout,
  };
}

export function modelMeta(m: RolloutModel) {
  return {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    labels: { ...m.labels },
    ...(Object.keys(m.annotations).length ? { annotations: { ...m.annotations } } : {}),
  };
}
