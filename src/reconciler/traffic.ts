import type { MatchSpec } from '../appspec/types.js';
import { isDeepStrictEqual } from 'node:util';
import { desiredRouteRules, type RouteIntent, routeRules } from '../traffic/gateway.js';
import { canaryIngress, CANARY_WEIGHT, nextCanaryAnnotations, STEP_ANNOTATIONS } from '../traffic/nginx.js';
import type { KubeObject } from '../k8s/objects.js';
import { canaryService, canaryServiceName } from '../traffic/service.js';
import { isOwnedBy, ownedBy, refOf, type Action } from './actions.js';
import type { Observed, View } from './observed.js';
import type { TrafficRouting } from './types.js';

const selectorOf = (svc: KubeObject | undefined) =>
  (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};

/**
 * The stable Service selects only the stable revision (during a release), unless no stable pod is Ready: a pin
 * would then leave it nothing to send traffic to (a workload that rolled before the Rollout took control).
 */
export function pinStableService(o: Observed, v: View): Action[] {
  const svc = o.stableService;
  if (!svc || !v.stableRevision || v.stableReadyPods === 0 || selectorOf(svc)[v.revisionLabel] === v.stableRevision)
    return [];
  return [
    {
      kind: 'merge',
      ref: refOf(svc),
      patch: { spec: { selector: { [v.revisionLabel]: v.stableRevision } } },
      why: `pin Service ${svc.metadata.name} to the stable revision ${v.stableRevision}`,
    },
  ];
}

/** The stable Service selects every version again (its declared selector). */
export function unpinStableService(o: Observed, v: View): Action[] {
  const svc = o.stableService;
  if (!svc || selectorOf(svc)[v.revisionLabel] === undefined) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(svc),
      patch: { spec: { selector: { [v.revisionLabel]: null } } },
      why: `unpin Service ${svc.metadata.name}`,
    },
  ];
}

/** The canary Service exists and selects exactly the new revision. */
export function ensureCanaryService(o: Observed, v: View, revision: string): Action[] {
  if (!o.stableService) return [];
  const existing = o.canaryService;
  if (!existing) {
    const desired = canaryService(o.stableService, v.revisionLabel, revision);
    desired.metadata.ownerReferences = ownedBy(o.rollout);
    return [
      {
        kind: 'apply',
        object: desired,
        why: `create Service ${desired.metadata.name} for the new revision ${revision}`,
      },
    ];
  }
  if (selectorOf(existing)[v.revisionLabel] === revision) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(existing),
      patch: { spec: { selector: { [v.revisionLabel]: revision } } },
      why: `point Service ${existing.metadata.name} at the new revision ${revision}`,
    },
  ];
}

/**
 * Done with the canary Service: one Stepwise created at run time is deleted; one that was declared with the
 * app (the builtin engine synthesizes it) is kept, back on its declared selector. User objects are never deleted.
 */
export function releaseCanaryService(o: Observed, v: View): Action[] {
  const svc = o.canaryService;
  if (!svc) return [];
  if (isOwnedBy(svc, o.rollout))
    return [{ kind: 'delete', ref: refOf(svc), why: `delete Service ${svc.metadata.name}` }];
  if (selectorOf(svc)[v.revisionLabel] === undefined) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(svc),
      patch: { spec: { selector: { [v.revisionLabel]: null } } },
      why: `release Service ${svc.metadata.name}`,
    },
  ];
}

export interface Routing {
  weight?: number;
  matches?: readonly MatchSpec[];
}

/** The route sends what `routing` says to the canary Service (nginx canary Ingress or HTTPRoute rules). */
export function routeTraffic(o: Observed, routingRef: TrafficRouting, routing: Routing): Action[] {
  const canaryName = canaryServiceName(routingRef.service);
  if (routingRef.ingress) {
    const existing = o.canaryIngress;
    if (!existing) {
      // Nothing to create for a step that sends no traffic (blue-green's 0%).
      if (!routing.weight && !routing.matches?.length) return [];
      if (!o.ingress) return [];
      const desired = canaryIngress(o.ingress, routingRef.service, canaryName, routing);
      desired.metadata.ownerReferences = ownedBy(o.rollout);
      return [
        {
          kind: 'apply',
          object: desired,
          why: `create Ingress ${desired.metadata.name} (${describeRouting(routing)})`,
        },
      ];
    }
    const { patch } = nextCanaryAnnotations(existing.metadata.annotations ?? {}, routing);
    if (Object.keys(patch).length === 0) return [];
    return [
      {
        kind: 'merge',
        ref: refOf(existing),
        patch: { metadata: { annotations: patch } },
        why: `route ${describeRouting(routing)} to ${canaryName}`,
      },
    ];
  }
  const intent: RouteIntent = routing.matches?.length ? { matches: routing.matches } : { weight: routing.weight ?? 0 };
  return updateRoute(o, routingRef, intent, `route ${describeRouting(routing)} to ${canaryName}`);
}

/** All traffic back on the stable Service: the canary Ingress deleted, or the HTTPRoute restored. */
export function routeToStable(o: Observed, routingRef: TrafficRouting): Action[] {
  if (routingRef.ingress) {
    const existing = o.canaryIngress;
    return existing
      ? [
          {
            kind: 'delete',
            ref: refOf(existing),
            why: `delete Ingress ${existing.metadata.name}: all traffic to the stable version`,
          },
        ]
      : [];
  }
  return updateRoute(o, routingRef, { restore: true }, 'restore the HTTPRoute: all traffic to the stable version');
}

function updateRoute(o: Observed, routingRef: TrafficRouting, intent: RouteIntent, why: string): Action[] {
  const route = o.httpRoute;
  if (!route) return [];
  const rules = routeRules(route);
  const desired = desiredRouteRules(rules, routingRef.service, canaryServiceName(routingRef.service), intent);
  if (isDeepStrictEqual(desired, rules)) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(route),
      patch: { metadata: { resourceVersion: route.metadata.resourceVersion }, spec: { rules: desired } },
      why,
    },
  ];
}

/** Whether any traffic can reach the new version through the route right now. */
export function routesToCanary(o: Observed, routingRef: TrafficRouting): boolean {
  if (routingRef.ingress) {
    const a = o.canaryIngress?.metadata.annotations ?? {};
    return Number(a[CANARY_WEIGHT] ?? 0) > 0 || STEP_ANNOTATIONS.some((k) => k !== CANARY_WEIGHT && a[k]);
  }
  const canaryName = canaryServiceName(routingRef.service);
  const rules = routeRules(o.httpRoute);
  return rules.some((r) =>
    (r.backendRefs ?? []).some((b) => b.name === canaryName && (b.weight === undefined || b.weight > 0)),
  );
}

function describeRouting(r: Routing): string {
  const parts = [
    ...(r.weight !== undefined ? [`${r.weight}%`] : []),
    ...(r.matches?.length ? [`${r.matches.length} match${r.matches.length === 1 ? '' : 'es'}`] : []),
  ];
  return parts.join(' + ') || 'no traffic';
}
