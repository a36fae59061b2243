import type { KubeObject } from '../k8s/objects.js';
import type { HeaderMatch, MatchSpec } from '../appspec/types.js';

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

export interface RouteMatch {
  path?: { type?: string; value?: string };
  headers?: HeaderMatch[];
  queryParams?: HeaderMatch[];
  method?: string;
}

export interface RouteRule {
  matches?: RouteMatch[];
  backendRefs?: BackendRef[];
  [field: string]: unknown;
}

/** An HTTPRoute's rules (none when it has no spec yet). */
export const routeRules = (route: KubeObject | undefined): RouteRule[] =>
  (route?.spec as { rules?: RouteRule[] } | undefined)?.rules ?? [];

/** What the route should do for a step: split by weight, route by matches, or go back to the original. */
export type RouteIntent = { weight: number } | { matches: readonly MatchSpec[] } | { restore: true };

/** A cookie match as a Gateway API header match: the cookie set to `always` (ingress-nginx semantics). */
export function cookieHeaderMatch(cookie: string): HeaderMatch {
  const name = cookie.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return { type: 'RegularExpression', name: 'Cookie', value: `(^|;\\s*)${name}=always(;|$)` };
}

/**
 * The HTTPRoute `spec.rules` for a step, with OpenKruise's semantics for the rules that send traffic to the
 * stable Service (a backendRef of kind Service, or no kind, named `stable`):
 * - weight: stable gets 100-w and the canary ref (a copy of the stable ref, added right after it) gets w;
 * - matches: the original rules stay as they are, and one canary-only rule per stable rule is appended,
 *   matching the original matches crossed with the step's (a step match with a path stands alone, once);
 * - restore: canary refs and canary-only rules go, and the stable ref gets weight 1.
 * Rules that do not reach the stable Service are never touched. Leftovers of another mode (canary rules in
 * weight mode, canary refs in match mode) are removed first, so each step routes exactly as it says.
 */
export function desiredRouteRules(
  rules: readonly RouteRule[],
  stable: string,
  canary: string,
  intent: RouteIntent,
): RouteRule[] {
  const isRef = (name: string) => (ref: BackendRef) => (ref.kind ?? 'Service') === 'Service' && ref.name === name;
  const isStable = isRef(stable);
  const isCanary = isRef(canary);
  // Back to the original rules: no canary-only rules, no canary refs.
  const original = rules
    .filter((rule) => !(rule.backendRefs?.length && rule.backendRefs.every(isCanary)))
    .map((rule) => {
      const refs = rule.backendRefs ?? [];
      if (!refs.some(isCanary)) return structuredClone(rule);
      return {
        ...structuredClone(rule),
        backendRefs: refs.filter((r) => !isCanary(r)).map((r) => (isStable(r) ? { ...r, weight: 1 } : { ...r })),
      };
    });

  if ('restore' in intent) {
    return original.map((rule) =>
      rule.backendRefs?.some(isStable)
        ? { ...rule, backendRefs: rule.backendRefs.map((r) => (isStable(r) ? { ...r, weight: 1 } : r)) }
        : rule,
    );
  }

  if ('weight' in intent) {
    return original.map((rule) => {
      const refs = rule.backendRefs ?? [];
      if (!refs.some(isStable)) return rule;
      const backendRefs = refs.flatMap((r) =>
        isStable(r)
          ? [
              { ...r, weight: 100 - intent.weight },
              { ...r, name: canary, weight: intent.weight },
            ]
          : [r],
      );
      return { ...rule, backendRefs };
    });
  }

  const stepMatches = intent.matches.map(toRouteMatch);
  const standalone = stepMatches.filter((m) => m.path);
  const crossed = stepMatches.filter((m) => !m.path);
  const canaryRules: RouteRule[] = [];
  let standaloneEmitted = false;
  for (const rule of original) {
    const stableRef = rule.backendRefs?.find(isStable);
    if (!stableRef) continue;
    const matches: RouteMatch[] = [];
    if (!standaloneEmitted && standalone.length) {
      matches.push(...standalone);
      standaloneEmitted = true;
    }
    for (const om of rule.matches?.length ? rule.matches : [{}]) {
      for (const sm of crossed) matches.push(combine(om, sm));
    }
    if (matches.length === 0) continue;
    const { weight: _weight, ...ref } = stableRef;
    canaryRules.push({ ...structuredClone(rule), matches, backendRefs: [{ ...ref, name: canary }] });
  }
  return [...original, ...canaryRules];
}

function toRouteMatch(m: MatchSpec): RouteMatch {
  const headers = [...(m.headers ?? []), ...(m.cookie ? [cookieHeaderMatch(m.cookie)] : [])];
  return {
    ...(m.path ? { path: { ...m.path } } : {}),
    ...(headers.length ? { headers } : {}),
    ...(m.queryParams?.length ? { queryParams: [...m.queryParams] } : {}),
  };
}

/** An original match narrowed by a step match: the step's headers and query parameters appended. */
function combine(original: RouteMatch, step: RouteMatch): RouteMatch {
  const headers = [...(original.headers ?? []), ...(step.headers ?? [])];
  const queryParams = [...(original.queryParams ?? []), ...(step.queryParams ?? [])];
  return {
    ...structuredClone(original),
    ...(headers.length ? { headers } : {}),
    ...(queryParams.length ? { queryParams } : {}),
  };
}
