import { SpecError } from '../appspec/errors.js';
import { pointerToPath } from '../appspec/load.js';
import { type NormalizedApp, normalizeRollout } from '../appspec/normalize.js';
import { validateRollout } from '../appspec/rules.js';
import type { RolloutSpec, WorkloadKind } from '../appspec/types.js';
import { ENGINES } from '../engines/index.js';
import type { RolloutModel } from '../engines/model.js';
import type { KubeObject } from '../k8s/objects.js';

/** The objects a release attaches to, as they will be applied (from a cdk8s chart, a Helm chart, a cluster). */
export interface AttachTarget {
  workload: KubeObject;
  /** The stable Service; required with a route. */
  service?: KubeObject;
  /** An nginx Ingress or a Gateway API HTTPRoute routing to `service`. */
  route?: KubeObject;
}

export interface Attached {
  /** The release plan with every default applied. */
  plan: NormalizedApp['rollout'];
  model: RolloutModel;
  /** The Rollout, for the plan's engine. */
  rollout: KubeObject;
  /** The engine keeps a canary Service beside the app (builtin, with a route). */
  ownsCanaryService: boolean;
  /** The engine's admission webhook finds what the Rollout governs by the rollout-name label on it. */
  labelsGoverned: boolean;
}

const ROUTE_KINDS = { Ingress: 'ingress', HTTPRoute: 'gateway' } as const;

/**
 * A release attached to existing objects (OpenKruise's non-intrusive model): checks the objects' kinds and the
 * rollout block with the app spec's rules, and renders the Rollout through the engine. `where` names the
 * source in every error (a construct path, a chart template).
 */
export function attachRollout(
  target: AttachTarget,
  spec: RolloutSpec,
  options: { where: string; name?: string; labels?: Record<string, string> },
): Attached {
  const { workload, service, route } = target;
  const { where } = options;
  const kind = workload.kind as WorkloadKind;
  const named = (o: KubeObject) => `${o.kind} "${o.metadata.name}"`;
  if (kind !== 'Deployment' && kind !== 'StatefulSet')
    throw new Error(`${where}: workload must be a Deployment or a StatefulSet, got ${named(workload)}`);
  const routeKind = route && ROUTE_KINDS[route.kind as keyof typeof ROUTE_KINDS];
  if (route && !routeKind) throw new Error(`${where}: a route must be an Ingress or an HTTPRoute, got ${named(route)}`);
  if (route && !service) throw new Error(`${where}: a route needs the stable service it routes to`);
  if (service && service.kind !== 'Service')
    throw new Error(`${where}: service must be a Service, got ${named(service)}`);
  const violations = validateRollout(spec, {
    workloadKind: kind,
    ...(routeKind ? { routeKind } : {}),
    base: '',
  }).filter((v) => v.severity !== 'warning');
  if (violations.length) {
    throw new SpecError(
      violations.map((v) => ({
        location: { file: where },
        path: pointerToPath(v.pointer),
        message: v.message,
        severity: 'error' as const,
      })),
    );
  }
  const plan = normalizeRollout(spec, kind, '').rollout;
  const model: RolloutModel = {
    name: options.name ?? workload.metadata.name,
    ...(workload.metadata.namespace ? { namespace: workload.metadata.namespace } : {}),
    labels: options.labels ?? { ...workload.metadata.labels },
    annotations: {},
    workload: { kind, name: workload.metadata.name },
    ...(service ? { service: service.metadata.name } : {}),
    ...(route && routeKind ? { route: { kind: routeKind, name: route.metadata.name } } : {}),
    rollout: plan,
  };
  const engine = ENGINES[plan.engine];
  return {
    plan,
    model,
    rollout: engine.rollout(model),
    ownsCanaryService: Boolean(engine.ownsCanaryService && route && service),
    labelsGoverned: Boolean(engine.admission),
  };
}
