import type { MatchSpec } from '../appspec/types.js';
import { derivedMeta, type KubeObject } from '../k8s/objects.js';

export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io';
export const CANARY = `${NGINX_PREFIX}/canary`;
export const CANARY_WEIGHT = `${NGINX_PREFIX}/canary-weight`;
export const CANARY_BY_HEADER = `${NGINX_PREFIX}/canary-by-header`;
export const CANARY_BY_HEADER_VALUE = `${NGINX_PREFIX}/canary-by-header-value`;
export const CANARY_BY_HEADER_PATTERN = `${NGINX_PREFIX}/canary-by-header-pattern`;
export const CANARY_BY_COOKIE = `${NGINX_PREFIX}/canary-by-cookie`;

/** The annotations a step owns on the canary Ingress; everything else on it is copied from the stable Ingress. */
export const STEP_ANNOTATIONS = [
  CANARY_WEIGHT,
  CANARY_BY_HEADER,
  CANARY_BY_HEADER_VALUE,
  CANARY_BY_HEADER_PATTERN,
  CANARY_BY_COOKIE,
];

/** OpenKruise's convention for a cookie match expressed as a header. */
export const COOKIE_HEADER_CONVENTION = 'canary-by-cookie';

export function canaryIngressName(stableIngress: string): string {
  return `${stableIngress}-canary`;
}

export interface NginxRouting {
  /** Weight in percent for the new version; absent: no weight annotation. */
  weight?: number;
  matches?: readonly MatchSpec[];
}

/**
 * The canary annotations for one step, with the semantics of OpenKruise's built-in nginx script: the first
 * header of each match becomes canary-by-header (value, or pattern for RegularExpression), a cookie match
 * becomes canary-by-cookie, and a later match of the same kind overwrites an earlier one.
 */
export function nginxCanaryAnnotations(routing: NginxRouting): Record<string, string> {
  const out: Record<string, string> = { [CANARY]: 'true' };
  if (routing.weight !== undefined) out[CANARY_WEIGHT] = String(Math.ceil(routing.weight));
  for (const match of routing.matches ?? []) {
    if (match.cookie) out[CANARY_BY_COOKIE] = match.cookie;
    const header = match.headers?.[0];
    if (!header) continue;
    if (header.name === COOKIE_HEADER_CONVENTION) {
      out[CANARY_BY_COOKIE] = header.value;
      continue;
    }
    out[CANARY_BY_HEADER] = header.name;
    delete out[CANARY_BY_HEADER_VALUE];
    delete out[CANARY_BY_HEADER_PATTERN];
    out[header.type === 'RegularExpression' ? CANARY_BY_HEADER_PATTERN : CANARY_BY_HEADER_VALUE] = header.value;
  }
  return out;
}

/**
 * The canary Ingress's annotations after a step: the existing ones without any step-owned key, plus the
 * step's. Also returns the JSON merge patch (`null` deletes) that turns `existing` into that.
 */
export function nextCanaryAnnotations(
  existing: Readonly<Record<string, string>>,
  routing: NginxRouting,
): { annotations: Record<string, string>; patch: Record<string, string | null> } {
  const desired = nginxCanaryAnnotations(routing);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(existing)) if (!STEP_ANNOTATIONS.includes(k)) annotations[k] = v;
  Object.assign(annotations, desired);
  const patch: Record<string, string | null> = {};
  for (const k of Object.keys(existing)) if (!(k in annotations)) patch[k] = null;
  for (const [k, v] of Object.entries(annotations)) if (existing[k] !== v) patch[k] = v;
  return { annotations, patch };
}

interface IngressPath {
  backend?: { service?: { name?: string; port?: unknown } };
  [field: string]: unknown;
}
interface IngressRule {
  http?: { paths?: IngressPath[] };
  [field: string]: unknown;
}

/**
 * The canary Ingress `<ingress>-canary` for a stable Ingress: its labels and annotations, class and TLS,
 * and only the paths served by the stable Service, re-pointed at the canary Service (same port). Rules left
 * without paths are dropped. `routing` sets the step's canary annotations (weight 0 when first created).
 */
export function canaryIngress(
  stable: KubeObject,
  stableService: string,
  canaryService: string,
  routing: NginxRouting = { weight: 0 },
): KubeObject {
  const spec = (stable.spec ?? {}) as { ingressClassName?: string; tls?: unknown[]; rules?: IngressRule[] };
  const rules = (spec.rules ?? []).flatMap((rule) => {
    const paths = (rule.http?.paths ?? [])
      .filter((p) => p.backend?.service?.name === stableService)
      .map((p) => ({ ...p, backend: { ...p.backend, service: { ...p.backend?.service, name: canaryService } } }));
    return paths.length ? [{ ...rule, http: { ...rule.http, paths } }] : [];
  });
  const { annotations } = nextCanaryAnnotations(stable.metadata.annotations ?? {}, routing);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...derivedMeta(stable.metadata, canaryIngressName(stable.metadata.name)), annotations },
    spec: {
      ...(spec.ingressClassName ? { ingressClassName: spec.ingressClassName } : {}),
      ...(spec.tls ? { tls: structuredClone(spec.tls) } : {}),
      rules,
    },
  };
}
