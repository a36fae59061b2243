import { expandWeights } from './shorthand.js';
import { ANALYSIS_DEFAULTS, ROLLOUT_DEFAULTS } from './values.js';
import type {
  AnalysisSpec,
  AppSpec,
  MetricSpec,
  WebhookSpec,
  EnvVar,
  Engine,
  GatewayRouteSpec,
  ResourceList,
  RolloutSpec,
  IngressRouteSpec,
  MatchSpec,
  PauseSpec,
  ReplicasValue,
  Strategy,
  TrafficValue,
  WorkloadKind,
} from './types.js';

/**
 * How new pods are brought up, derived as OpenKruise derives its rolling style:
 * - `canary`: a separate canary workload beside the untouched stable one (Deployment);
 * - `partition`: in place, through the workload's update partition (StatefulSet);
 * - `blueGreen`: a full second set by surge, old pods kept until the end (Deployment).
 */
export type RollingStyle = 'canary' | 'partition' | 'blueGreen';

export interface NormalizedStep {
  replicas: ReplicasValue;
  traffic?: TrafficValue;
  matches?: MatchSpec[];
  pause: PauseSpec;
  analyze?: boolean;
}

/** An analysis block with every default applied. */
export type NormalizedAnalysis = Required<Omit<AnalysisSpec, 'prometheus' | 'metrics' | 'webhooks'>> &
  Pick<AnalysisSpec, 'prometheus'> & {
    metrics: (MetricSpec & { interval: string })[];
    webhooks: NormalizedWebhook[];
  };
export type NormalizedWebhook = Required<Omit<WebhookSpec, 'metadata'>> & Pick<WebhookSpec, 'metadata'>;

/** The analysis defaults applied (the schema applies them to app specs; hand-written Rollouts may leave them out). */
export function normalizeAnalysis(a: AnalysisSpec): NormalizedAnalysis {
  const d = ANALYSIS_DEFAULTS;
  return {
    metrics: (a.metrics ?? []).map((m) => ({ ...m, interval: m.interval ?? d.metricInterval })),
    webhooks: (a.webhooks ?? []).map((w) => ({
      ...w,
      type: w.type ?? 'rollout',
      timeoutSeconds: w.timeoutSeconds ?? d.webhookTimeoutSeconds,
      retries: w.retries ?? d.webhookRetries,
    })),
    intervalSeconds: a.intervalSeconds ?? d.intervalSeconds,
    checks: a.checks ?? d.checks,
    failureLimit: a.failureLimit ?? d.failureLimit,
    noData: a.noData ?? d.noData,
    inconclusiveLimit: a.inconclusiveLimit ?? d.inconclusiveLimit,
    everyStep: a.everyStep ?? d.everyStep,
    ...(a.prometheus
      ? { prometheus: { ...a.prometheus, timeoutSeconds: a.prometheus.timeoutSeconds ?? d.timeoutSeconds } }
      : {}),
  };
}

export type NormalizedRoute =
  | ({ kind: 'ingress' } & Required<Pick<IngressRouteSpec, 'name' | 'className' | 'path' | 'pathType'>> &
      Pick<IngressRouteSpec, 'host' | 'tls' | 'annotations'>)
  | ({ kind: 'gateway' } & Required<Pick<GatewayRouteSpec, 'name' | 'parentRefs' | 'path' | 'pathType'>> & {
        hostnames: string[];
      });

/** An app with every default applied and every shorthand expanded: what planner, engines and constructs consume. */
export interface NormalizedApp {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workload: {
    kind: WorkloadKind;
    image: string;
    replicas: number;
    port: number;
    portName: string;
    env: EnvVar[];
    command?: string[];
    args?: string[];
    resources?: { requests?: ResourceList; limits?: ResourceList };
    readinessProbe?: Record<string, unknown>;
    livenessProbe?: Record<string, unknown>;
    podLabels: Record<string, string>;
    podAnnotations: Record<string, string>;
  };
  service: { name: string; port: number; targetPort: number | string };
  route?: NormalizedRoute;
  rollout: {
    strategy: Strategy;
    engine: Engine;
    style: RollingStyle;
    steps: NormalizedStep[];
    gracePeriodSeconds: number;
    failureThreshold?: ReplicasValue;
    progressDeadlineSeconds: number;
    analysis?: NormalizedAnalysis;
  };
  /** JSON pointer of the spec field each step came from (an explicit step, or the shorthand that generated it). */
  stepSources: string[];
}

/** OpenKruise's one shortcut: a canary's last step at replicas "100%" never pauses. */
export const completesAtOnce = (strategy: Strategy | undefined, replicas: ReplicasValue, isLast: boolean) =>
  strategy !== 'blueGreen' && isLast && replicas === '100%';

/**
 * The one derivation of the rolling style, for app specs, the builtin reconciler and Kruise Rollouts alike.
 * OpenKruise releases a Deployment canary in place (partition style, with its Advanced Deployment controller)
 * unless `enableExtraWorkloadForCanary` is set; Stepwise's engines always bring up a canary Deployment (the
 * kruise engine sets the field, the builtin reconciler has no in-place style for Deployments).
 */
export function rollingStyle(
  strategy: Strategy | 'blueGreen',
  kind: string,
  extraWorkloadForCanary = true,
): RollingStyle {
  if (strategy === 'blueGreen') return 'blueGreen';
  return kind === 'Deployment' && extraWorkloadForCanary ? 'canary' : 'partition';
}

/**
 * Applies the defaults that the JSON Schema cannot express (names derived from the app name, ports derived
 * from the workload) and expands the weight shorthand. Expects a spec that passed the schema.
 */
export function normalize(spec: AppSpec): NormalizedApp {
  const { metadata, spec: body } = spec;
  const w = body.workload;
  const kind = w.kind ?? 'Deployment';
  const port = w.port ?? 8080;
  const portName = w.portName ?? 'http';
  const { rollout, sources } = normalizeRollout(body.rollout, kind);
  const route = body.route?.ingress
    ? {
        kind: 'ingress' as const,
        name: body.route.ingress.name ?? metadata.name,
        className: body.route.ingress.className ?? 'nginx',
        path: body.route.ingress.path ?? '/',
        pathType: body.route.ingress.pathType ?? 'Prefix',
        ...pick(body.route.ingress, ['host', 'tls', 'annotations']),
      }
    : body.route?.gateway
      ? {
          kind: 'gateway' as const,
          name: body.route.gateway.name ?? metadata.name,
          parentRefs: body.route.gateway.parentRefs,
          hostnames: body.route.gateway.hostnames ?? [],
          path: body.route.gateway.path ?? '/',
          pathType: body.route.gateway.pathType ?? 'PathPrefix',
        }
      : undefined;
  return {
    name: metadata.name,
    namespace: metadata.namespace ?? 'default',
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    workload: {
      kind,
      image: w.image,
      replicas: w.replicas ?? 1,
      port,
      portName,
      env: Array.isArray(w.env) ? w.env : Object.entries(w.env ?? {}).map(([name, value]) => ({ name, value })),
      ...pick(w, ['command', 'args', 'resources', 'readinessProbe', 'livenessProbe']),
      podLabels: w.podLabels ?? {},
      podAnnotations: w.podAnnotations ?? {},
    },
    service: {
      name: body.service?.name ?? metadata.name,
      port: body.service?.port ?? 80,
      targetPort: body.service?.targetPort ?? portName,
    },
    ...(route ? { route } : {}),
    rollout,
    stepSources: sources,
  };
}

/** A rollout block with its defaults applied and its shorthand expanded. */
export function normalizeRollout(
  r: RolloutSpec,
  kind: WorkloadKind,
  base = '/spec/rollout',
): { rollout: NormalizedApp['rollout']; sources: string[] } {
  const { steps, sources } = resolveSteps(r, base);
  return {
    rollout: {
      strategy: r.strategy,
      engine: r.engine ?? 'builtin',
      style: rollingStyle(r.strategy, kind),
      steps,
      gracePeriodSeconds: r.gracePeriodSeconds ?? ROLLOUT_DEFAULTS.gracePeriodSeconds,
      ...(r.failureThreshold !== undefined ? { failureThreshold: r.failureThreshold } : {}),
      progressDeadlineSeconds: r.progressDeadlineSeconds ?? ROLLOUT_DEFAULTS.progressDeadlineSeconds,
      ...(r.analysis ? { analysis: normalizeAnalysis(r.analysis) } : {}),
    },
    sources,
  };
}

/** Explicit steps, or the steps the Flagger shorthand expands to (replicas follow the traffic weight). */
export function resolveSteps(r: RolloutSpec, base = '/spec/rollout'): { steps: NormalizedStep[]; sources: string[] } {
  if (r.steps) {
    return {
      steps: r.steps.map((s) => ({
        ...s,
        ...(s.matches ? { matches: s.matches.map(defaultMatchTypes) } : {}),
        pause: s.pause ?? {},
      })),
      sources: r.steps.map((_, i) => `${base}/steps/${i}`),
    };
  }
  if (r.stepWeight === undefined && r.stepWeights === undefined) return { steps: [], sources: [] };
  const weights = expandWeights(r);
  const source = `${base}/${r.stepWeights ? 'stepWeights' : 'stepWeight'}`;
  return {
    steps: weights.map((w) => ({ replicas: `${w}%` as const, traffic: `${w}%` as const, pause: r.pause ?? {} })),
    sources: weights.map(() => source),
  };
}

function defaultMatchTypes(m: MatchSpec): MatchSpec {
  const typed = (list: MatchSpec['headers']) => list?.map((h) => ({ ...h, type: h.type ?? 'Exact' }));
  return {
    ...m,
    ...(m.headers ? { headers: typed(m.headers) } : {}),
    ...(m.queryParams ? { queryParams: typed(m.queryParams) } : {}),
    ...(m.path ? { path: { type: m.path.type ?? 'PathPrefix', value: m.path.value } } : {}),
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
