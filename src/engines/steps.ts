import type { NormalizedAnalysis, NormalizedStep } from '../appspec/normalize.js';
import type { MatchSpec } from '../appspec/types.js';
import { cookieHeaderMatch } from '../traffic/gateway.js';
import { COOKIE_HEADER_CONVENTION } from '../traffic/nginx.js';
import type { RolloutModel } from './model.js';

/** `trafficRoutings` as OpenKruise spells it: one entry naming the stable Service and the route. */
export function trafficRoutings(m: RolloutModel): Record<string, unknown>[] | undefined {
  if (!m.route || !m.service) return undefined;
  return [
    {
      service: m.service,
      gracePeriodSeconds: m.rollout.gracePeriodSeconds,
      ...(m.route.kind === 'ingress'
        ? { ingress: { classType: 'nginx', name: m.route.name } }
        : { gateway: { httpRouteName: m.route.name } }),
    },
  ];
}

/** The strategy block shared by both engines; `expressCookie` writes a cookie match for the target engine. */
export function strategyBody(m: RolloutModel, expressCookie: (match: MatchSpec) => MatchSpec = (match) => match) {
  const r = m.rollout;
  const routings = trafficRoutings(m);
  const body = {
    steps: r.steps.map((s: NormalizedStep) => ({
      replicas: s.replicas,
      ...(s.traffic !== undefined ? { traffic: s.traffic } : {}),
      ...(s.matches ? { matches: s.matches.map(expressCookie) } : {}),
      pause: s.pause,
      ...(s.analyze !== undefined ? { analyze: s.analyze } : {}),
    })),
    ...(routings ? { trafficRoutings: routings } : {}),
    ...(r.failureThreshold !== undefined ? { failureThreshold: r.failureThreshold } : {}),
    ...(r.style === 'canary' ? { enableExtraWorkloadForCanary: true } : {}),
  };
  return r.strategy === 'blueGreen' ? { blueGreen: body } : { canary: body };
}

export function workloadRef(m: RolloutModel) {
  return { apiVersion: 'apps/v1', kind: m.workload.kind, name: m.workload.name };
}

/**
 * OpenKruise has no cookie field: nginx reads a header named canary-by-cookie; Gateway API matches the Cookie header.
 */
export function kruiseCookie(routeKind: 'ingress' | 'gateway' | undefined) {
  return ({ cookie, ...rest }: MatchSpec): MatchSpec => {
    if (!cookie) return rest;
    const header =
      routeKind === 'gateway'
        ? cookieHeaderMatch(cookie)
        : { name: COOKIE_HEADER_CONVENTION, value: cookie, type: 'Exact' as const };
    return { ...rest, headers: [...(rest.headers ?? []), header] };
  };
}

/** An analysis as written, with its defaults: lists left out are left out (the reconciler reads them as empty). */
export function writtenAnalysis({ metrics, webhooks, ...rest }: NormalizedAnalysis) {
  return { ...(metrics.length ? { metrics } : {}), ...(webhooks.length ? { webhooks } : {}), ...rest };
}
