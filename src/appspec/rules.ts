import {
  ANNOTATIONS_MAX_BYTES,
  KRUISE_ANALYSIS_ANNOTATION,
  KRUISE_WEBHOOK_TYPES,
  parsePercent,
  parseQuantity,
} from './values.js';
import type { NormalizedStep, RollingStyle } from './normalize.js';
import { completesAtOnce, resolveSteps, rollingStyle } from './normalize.js';
import type { AppSpec, MatchSpec, RolloutSpec, Strategy, WorkloadKind, WorkloadSpec } from './types.js';

/** A rule violation, located by JSON pointer into the app document. */
export interface RuleViolation {
  pointer: string;
  message: string;
  severity?: 'error' | 'warning';
  /** Point at the field's key rather than its value (unknown fields, whole-field problems). */
  atKey?: boolean;
}

/** OpenKruise's webhook caps steps at 50; so do we. */
export const MAX_STEPS = 50;
/** OpenKruise's `--partition-percent-limit` default. */
export const PARTITION_PERCENT_LIMIT = 50;

export interface StepRuleContext {
  strategy: Strategy;
  style: RollingStyle;
  /** @default PARTITION_PERCENT_LIMIT */
  partitionPercentLimit?: number;
}

/**
 * The step rules of the OpenKruise Rollout webhook (`validateRolloutSpecCanarySteps`), reported for every
 * step at once. `stepPointer(i)` says where step i lives in the source document.
 */
const ZERO_TRAFFIC_HINT =
  '; 0% is only meaningful for blueGreen (omit traffic to keep all of it on the stable version)';

export function validateSteps(
  steps: readonly NormalizedStep[],
  ctx: StepRuleContext,
  stepPointer: (i: number) => string,
): RuleViolation[] {
  const out: RuleViolation[] = [];
  const limit = ctx.partitionPercentLimit ?? PARTITION_PERCENT_LIMIT;
  if (steps.length === 0) out.push({ pointer: stepPointer(-1), message: 'at least one step is required' });
  if (steps.length > MAX_STEPS)
    out.push({
      pointer: stepPointer(MAX_STEPS),
      message: `at most ${MAX_STEPS} steps are allowed, got ${steps.length}`,
    });
  steps.forEach((step, i) => {
    const at = (field: string) => `${stepPointer(i)}/${field}`;
    const replicas = step.replicas as unknown;
    const percent = parsePercent(replicas);
    if (replicas === undefined || replicas === null)
      out.push({ pointer: stepPointer(i), message: 'replicas is required' });
    else if (typeof replicas === 'number') {
      if (!Number.isInteger(replicas) || replicas <= 0)
        out.push({
          pointer: at('replicas'),
          message: `replicas must be a positive integer or a percentage, got ${replicas}`,
        });
    } else if (percent === undefined) {
      out.push({
        pointer: at('replicas'),
        message: `replicas must be a count or a percentage like "20%", got ${JSON.stringify(replicas)}`,
      });
    } else if (percent <= 0 || percent > 100) {
      out.push({ pointer: at('replicas'), message: `replicas percentage must be in (0%, 100%], got ${replicas}` });
    }
    if (step.traffic !== undefined) {
      const t = parsePercent(step.traffic);
      if (t === undefined)
        out.push({
          pointer: at('traffic'),
          message: `traffic must be a percentage like "10%", got ${JSON.stringify(step.traffic)}`,
        });
      else if (ctx.strategy === 'blueGreen' ? t < 0 || t > 100 : t <= 0 || t > 100) {
        out.push({
          pointer: at('traffic'),
          message:
            ctx.strategy === 'blueGreen'
              ? `traffic must be in [0%, 100%], got ${step.traffic}`
              : `traffic must be in (0%, 100%], got ${step.traffic}${t === 0 ? ZERO_TRAFFIC_HINT : ''}`,
        });
      }
    }
    if (
      ctx.style === 'partition' &&
      (step.traffic !== undefined || step.matches?.length) &&
      percent !== undefined &&
      percent > limit
    ) {
      out.push({
        pointer: at('replicas'),
        message:
          `a step that routes traffic while updating in place may update at most ${limit}% of pods, got ` +
          `${replicas} (the stable Service needs pods left to select)`,
      });
    }
    if (i > 0) {
      const prev = steps[i - 1].replicas as unknown;
      const prevPercent = parsePercent(prev);
      if (typeof prev === 'number' && typeof replicas === 'number' && replicas < prev) {
        out.push({
          pointer: at('replicas'),
          message: `replicas must not decrease: ${replicas} after ${prev} in the step before`,
        });
      } else if (prevPercent !== undefined && percent !== undefined && percent < prevPercent) {
        out.push({
          pointer: at('replicas'),
          message: `replicas must not decrease: ${replicas} after ${String(prev)} in the step before`,
        });
      }
    }
  });
  return out;
}

/** Where a rollout block sits and what it governs, for rules that depend on the workload and the route. */
export interface RolloutContext {
  workloadKind: WorkloadKind;
  routeKind?: 'ingress' | 'gateway';
  /** JSON pointer of the rollout block. @default "/spec/rollout" */
  base?: string;
  /** JSON pointer blamed when the workload kind does not fit. @default base + "/strategy" */
  workloadKindPointer?: string;
}

/** The rules of a rollout block: strategy against workload, shorthand, steps, and what the route can express. */
export function validateRollout(rollout: RolloutSpec, ctx: RolloutContext): RuleViolation[] {
  const out: RuleViolation[] = [];
  const base = ctx.base ?? '/spec/rollout';
  const style = rollingStyle(rollout.strategy, ctx.workloadKind);
  if (rollout.strategy === 'blueGreen' && ctx.workloadKind !== 'Deployment') {
    out.push({
      pointer: ctx.workloadKindPointer ?? `${base}/strategy`,
      message: 'blueGreen needs a Deployment; a StatefulSet can only be released with the canary strategy',
    });
  }

  const shorthand = (['stepWeight', 'stepWeights', 'maxWeight'] as const).filter((k) => rollout[k] !== undefined);
  if (rollout.steps && shorthand.length > 0) {
    out.push({
      pointer: `${base}/${shorthand[0]}`,
      message: `use either explicit steps or the ${shorthand.join('/')} shorthand, not both`,
    });
  } else if (shorthand.length > 0) {
    if (rollout.strategy !== undefined && rollout.strategy !== 'canary')
      out.push({
        pointer: `${base}/${shorthand[0]}`,
        message: `the weight shorthand expands to canary steps; strategy ${rollout.strategy} needs explicit steps`,
      });
    if (rollout.stepWeight !== undefined && rollout.stepWeights !== undefined)
      out.push({ pointer: `${base}/stepWeights`, message: 'use stepWeight (with maxWeight) or stepWeights, not both' });
    if (rollout.maxWeight !== undefined && rollout.stepWeight === undefined)
      out.push({ pointer: `${base}/maxWeight`, message: 'maxWeight goes with stepWeight' });
    if (rollout.stepWeights?.some((w, i, a) => i > 0 && w <= a[i - 1])) {
      out.push({ pointer: `${base}/stepWeights`, message: 'stepWeights must increase' });
    }
  } else if (!rollout.steps) {
    out.push({ pointer: base, message: 'steps are required (or the stepWeight/stepWeights shorthand)' });
    return out;
  }
  if (out.length > 0) return out;

  const { steps, sources } = resolveSteps(rollout, base);
  out.push(
    ...validateSteps(steps, { strategy: rollout.strategy, style }, (i) =>
      i < 0 ? `${base}/steps` : (sources[Math.min(i, sources.length - 1)] ?? base),
    ),
  );

  steps.forEach((step, i) => {
    // Steps the shorthand expanded have no fields of their own: their problems belong to the shorthand.
    const at = (field: string) => (sources[i]?.includes('/steps/') ? `${sources[i]}/${field}` : `${sources[i]}`);
    const routes = step.traffic !== undefined || (step.matches?.length ?? 0) > 0;
    if (routes && !ctx.routeKind)
      out.push({
        pointer: step.traffic !== undefined ? at('traffic') : at('matches'),
        message: 'shifting traffic needs a route (an ingress or a gateway)',
      });
    if (rollout.strategy === 'abTest' && !step.matches?.length)
      out.push({
        pointer: sources[i],
        message: 'abTest steps route by matches: add headers, a cookie, query parameters or a path',
      });
    if (ctx.routeKind === 'ingress' && step.matches) out.push(...nginxMatchRules(step.matches, at('matches')));
  });

  out.push(...analysisRules(rollout, ctx.routeKind, base, steps, sources));
  if (rollout.engine === 'kruise') out.push(...kruiseAnalysisRules(rollout, ctx.workloadKind, base, steps, sources));
  const threshold = parsePercent(rollout.failureThreshold);
  // One report per place and problem, however many expanded steps share it.
  const unique = new Map(out.map((v) => [`${v.pointer}\0${v.message}`, v]));
  out.splice(0, out.length, ...unique.values());
  if (threshold !== undefined && threshold > 100)
    out.push({
      pointer: `${base}/failureThreshold`,
      message: `failureThreshold percentage must be at most 100%, got ${rollout.failureThreshold}`,
    });
  return out;
}

/** The variables a metric query may use (Flagger's names). */
export const QUERY_VARIABLES = ['name', 'namespace', 'target', 'service', 'ingress', 'route', 'interval'] as const;

/** Metric analysis: what each metric needs, and the steps that ask for it. */
export function analysisRules(
  rollout: Pick<RolloutSpec, 'analysis'>,
  routeKind: 'ingress' | 'gateway' | undefined,
  base: string,
  steps: readonly Pick<NormalizedStep, 'analyze'>[],
  sources: readonly string[],
): RuleViolation[] {
  const out: RuleViolation[] = [];
  const { analysis } = rollout;
  steps.forEach((step, i) => {
    if (step.analyze !== undefined && !analysis)
      out.push({ pointer: `${sources[i]}/analyze`, message: 'analyze needs an analysis block in the rollout' });
  });
  if (!analysis) return out;
  const at = `${base}/analysis`;
  if (analysis.everyStep === false && !steps.some((s) => s.analyze))
    out.push({ pointer: at, message: 'no step is analyzed: mark steps with analyze: true', severity: 'warning' });
  const metrics = analysis.metrics ?? [];
  const webhooks = analysis.webhooks ?? [];
  if (metrics.length + webhooks.length === 0)
    out.push({ pointer: at, message: 'analysis needs a metric or a webhook to check' });
  const hookNames = new Set<string>();
  webhooks.forEach((hook, i) => {
    if (hookNames.has(hook.name))
      out.push({ pointer: `${at}/webhooks/${i}/name`, message: `a second webhook ${hook.name}` });
    hookNames.add(hook.name);
  });
  const names = new Set<string>();
  metrics.forEach((metric, i) => {
    const pointer = `${at}/metrics/${i}`;
    if (names.has(metric.name)) out.push({ pointer: `${pointer}/name`, message: `a second metric ${metric.name}` });
    names.add(metric.name);
    if ((metric.template === undefined) === (metric.query === undefined))
      out.push({ pointer, message: 'give a metric either a template or a query' });
    if (metric.template && !routeKind)
      out.push({
        pointer: `${pointer}/template`,
        message: `the ${metric.template} template reads the route's metrics: it needs an ingress or a gateway route`,
      });
    const { min, max } = metric.thresholdRange;
    if (min !== undefined && max !== undefined && min > max)
      out.push({ pointer: `${pointer}/thresholdRange`, message: `min ${min} is above max ${max}: nothing can pass` });
    for (const [, name] of (metric.query ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
      const known = (QUERY_VARIABLES as readonly string[]).includes(name as string);
      const routeless = (name === 'ingress' && routeKind !== 'ingress') || (name === 'route' && !routeKind);
      if (!known || routeless)
        out.push({
          pointer: `${pointer}/query`,
          message: known
            ? `{{ ${name} }} needs ${name === 'ingress' ? 'an ingress' : 'a'} route`
            : `unknown variable {{ ${name} }}; a query may use ${QUERY_VARIABLES.map((v) => `{{ ${v} }}`).join(', ')}`,
        });
    }
  });
  return out;
}

/**
 * What analysis can do on a release OpenKruise's controller drives: `stepwise controller` checks the analyzed steps,
 * at which Kruise's Rollout waits for approval, approves them or rolls the Deployment back to its stable ReplicaSet.
 */
function kruiseAnalysisRules(
  rollout: Pick<RolloutSpec, 'analysis' | 'strategy'>,
  workloadKind: WorkloadKind,
  base: string,
  steps: readonly Pick<NormalizedStep, 'analyze' | 'replicas'>[],
  sources: readonly string[],
): RuleViolation[] {
  const { analysis } = rollout;
  if (!analysis) return [];
  const at = `${base}/analysis`;
  const out: RuleViolation[] = [
    {
      pointer: at,
      severity: 'warning',
      message:
        "OpenKruise's Rollout has no field for analysis: it is carried in the annotation " +
        `${KRUISE_ANALYSIS_ANNOTATION} and run by \`stepwise controller\`, which approves each analyzed step ` +
        '(Kruise waits for approval there)',
    },
  ];
  if (workloadKind !== 'Deployment')
    out.push({
      pointer: at,
      message:
        'analysis on a release Kruise runs rolls a failing Deployment back to its stable ReplicaSet: a ' +
        `${workloadKind} needs engine: builtin`,
    });
  (analysis.webhooks ?? []).forEach(({ type = 'rollout' }, i) => {
    if (!(KRUISE_WEBHOOK_TYPES as readonly string[]).includes(type))
      out.push({
        pointer: `${at}/webhooks/${i}/type`,
        message:
          `a ${type} webhook needs engine: builtin; beside a release Kruise runs, Stepwise calls ` +
          `${KRUISE_WEBHOOK_TYPES.join(' and ')} webhooks only`,
      });
  });
  const last = steps.length - 1;
  if (steps[last]?.analyze === true && completesAtOnce(rollout.strategy, steps[last].replicas, true))
    out.push({
      pointer: `${sources[last]}/analyze`,
      severity: 'warning',
      message: "Kruise completes a canary's last step at 100% at once: it cannot be analyzed (analyze the step before)",
    });
  return out;
}

/** Every semantic rule of an app spec that passed the JSON Schema (defaults applied). */
export function validateApp(spec: AppSpec): RuleViolation[] {
  const out: RuleViolation[] = [];
  const { workload, route, rollout, service } = spec.spec;
  if (route?.ingress && route.gateway)
    out.push({ pointer: '/spec/route/gateway', message: 'choose one traffic route: ingress or gateway, not both' });
  const routeKind = route?.ingress ? 'ingress' : route?.gateway ? 'gateway' : undefined;
  out.push(
    ...validateRollout(rollout, {
      workloadKind: workload.kind ?? 'Deployment',
      ...(routeKind ? { routeKind } : {}),
      workloadKindPointer: '/spec/workload/kind',
    }),
  );
  const serviceName = service?.name ?? spec.metadata.name;
  if (route && serviceName.length + '-canary'.length > 63) {
    out.push({
      pointer: service?.name ? '/spec/service/name' : '/metadata/name',
      message:
        `service name "${serviceName}" is too long for its canary Service "${serviceName}-canary" (63 ` +
        `characters at most)`,
    });
  }
  out.push(...resourceRules(workload.resources), ...annotationRules(spec), ...probeRules(workload));
  if (!workload.readinessProbe) {
    out.push({
      pointer: '/spec/workload',
      severity: 'warning',
      message:
        'no readinessProbe: pods count as Ready as soon as they start, so a step may send traffic to a version that ' +
        'is not serving yet',
    });
  }
  return out;
}

/** Kubernetes refuses a request above its limit. */
function resourceRules(resources: WorkloadSpec['resources']): RuleViolation[] {
  const { requests = {}, limits = {} } = resources ?? {};
  return (['cpu', 'memory'] as const).flatMap((name) => {
    const [request, limit] = [requests[name], limits[name]];
    if (request === undefined || limit === undefined || parseQuantity(request) <= parseQuantity(limit)) return [];
    return [
      {
        pointer: `/spec/workload/resources/requests/${name}`,
        message: `the ${name} request ${request} is above its limit ${limit}; Kubernetes requires request <= limit`,
      },
    ];
  });
}

const PROBE_HANDLERS = ['httpGet', 'tcpSocket', 'exec', 'grpc'] as const;

/** Kubernetes requires exactly one handler per probe. */
function probeRules(workload: WorkloadSpec): RuleViolation[] {
  return (['readinessProbe', 'livenessProbe'] as const).flatMap((name) => {
    const probe = workload[name];
    if (!probe) return [];
    const handlers = PROBE_HANDLERS.filter((h) => probe[h] !== undefined);
    if (handlers.length === 1) return [];
    const message =
      handlers.length === 0
        ? `a probe needs one handler: ${PROBE_HANDLERS.join(', ')}`
        : `a probe has one handler, got ${handlers.join(' and ')}`;
    return [{ pointer: `/spec/workload/${name}`, atKey: true, message }];
  });
}

/** Kubernetes caps the annotations of one object at 256 KiB in all (keys and values). */
function annotationRules(spec: AppSpec): RuleViolation[] {
  const sets: [string, Record<string, string> | undefined][] = [
    ['/metadata/annotations', spec.metadata.annotations],
    ['/spec/workload/podAnnotations', spec.spec.workload.podAnnotations],
    ['/spec/route/ingress/annotations', spec.spec.route?.ingress?.annotations],
  ];
  return sets.flatMap(([pointer, annotations]) => {
    const bytes = Object.entries(annotations ?? {}).reduce(
      (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );
    if (bytes <= ANNOTATIONS_MAX_BYTES) return [];
    const message = `annotations of ${bytes} bytes in all; Kubernetes allows ${ANNOTATIONS_MAX_BYTES} per object`;
    return [{ pointer, atKey: true, message }];
  });
}

/**
 * ingress-nginx has one canary-by-header and one canary-by-cookie annotation per canary Ingress, ORed with
 * each other, and nothing for query parameters or paths. Reject what it cannot express instead of dropping it.
 */
function nginxMatchRules(matches: readonly MatchSpec[], pointer: string): RuleViolation[] {
  const out: RuleViolation[] = [];
  let headers = 0;
  let cookies = 0;
  matches.forEach((m, j) => {
    const at = `${pointer}/${j}`;
    if (m.queryParams)
      out.push({
        pointer: `${at}/queryParams`,
        message: 'ingress-nginx cannot route by query parameter; use a gateway route',
      });
    if (m.path)
      out.push({
        pointer: `${at}/path`,
        message: 'ingress-nginx canary annotations cannot route by path; use a gateway route',
      });
    if ((m.headers?.length ?? 0) > 1)
      out.push({
        pointer: `${at}/headers`,
        message:
          'ingress-nginx can match only one header per step (canary-by-header); use a gateway route to AND several',
      });
    if (m.headers && m.cookie)
      out.push({
        pointer: `${at}/cookie`,
        message: 'ingress-nginx ORs header and cookie matches; put them in separate match entries',
      });
    headers += m.headers ? 1 : 0;
    cookies += m.cookie ? 1 : 0;
  });
  if (headers > 1)
    out.push({
      pointer,
      message: `ingress-nginx can match only one header per step, got ${headers} header matches; use a gateway route`,
    });
  if (cookies > 1) out.push({ pointer, message: `ingress-nginx can match only one cookie per step, got ${cookies}` });
  return out;
}
