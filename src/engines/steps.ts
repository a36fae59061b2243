import type { NormalizedApp, NormalizedStep } from '../spec/normalize.js';
import type { MatchSpec } from '../spec/types.js';
import { cookieHeaderMatch } from '../traffic/gateway.js';
import { COOKIE_HEADER_CONVENTION } from '../traffic/nginx.js';

/** `trafficRoutings` as OpenKruise spells it: one entry naming the stable Service and the route. */
export function trafficRoutings(app: NormalizedApp): Record<string, unknown>[] | undefined {
  const route = app.route;
  if (!route) return undefined;
  return [{
    service: app.service.name,
    gracePeriodSeconds: app.rollout.gracePeriodSeconds,
    ...(route.kind === 'ingress' ? { ingress: { classType: 'nginx', name: route.name } } : { gateway: { httpRouteName: route.name } }),
  }];
}

export function workloadRef(app: NormalizedApp) {
  return { apiVersion: 'apps/v1', kind: app.workload.kind, name: app.name };
}

/** Steps in OpenKruise's shape; `expressCookie` decides how a cookie match is written for the target engine. */
export function renderSteps(steps: readonly NormalizedStep[], expressCookie: (m: MatchSpec) => MatchSpec = (m) => m) {
  return steps.map((s) => ({
    replicas: s.replicas,
    ...(s.traffic !== undefined ? { traffic: s.traffic } : {}),
    ...(s.matches ? { matches: s.matches.map(expressCookie) } : {}),
    pause: s.pause,
  }));
}

/** OpenKruise has no cookie field: nginx reads a header named canary-by-cookie; Gateway API matches the Cookie header. */
export function kruiseCookie(routeKind: 'ingress' | 'gateway' | undefined) {
  return ({ cookie, ...rest }: MatchSpec): MatchSpec => {
    if (!cookie) return rest;
    const header = routeKind === 'gateway' ? cookieHeaderMatch(cookie) : { name: COOKIE_HEADER_CONVENTION, value: cookie, type: 'Exact' as const };
    return { ...rest, headers: [...(rest.headers ?? []), header] };
  };
}
