import { rollingStyle, type NormalizedStep } from '../appspec/normalize.js';
import { analysisRules, validateSteps, type RuleViolation } from '../appspec/rules.js';
import type { AnalysisSpec } from '../appspec/types.js';

const SUPPORTED_WORKLOADS = new Set([
  'apps/v1/Deployment',
  'apps/v1/StatefulSet',
  'apps/v1/DaemonSet',
  'apps.kruise.io/v1alpha1/CloneSet',
  'apps.kruise.io/v1alpha1/DaemonSet',
  'apps.kruise.io/v1beta1/StatefulSet',
]);

interface RolloutBody {
  steps?: (Omit<NormalizedStep, 'pause'> & { pause?: NormalizedStep['pause'] })[];
  trafficRoutings?: {
    service?: string;
    gracePeriodSeconds?: number;
    ingress?: { name?: string };
    gateway?: { httpRouteName?: string };
    customNetworkRefs?: unknown[];
  }[];
  enableExtraWorkloadForCanary?: boolean;
}

export interface RolloutSpecLike {
  workloadRef?: { apiVersion?: string; kind?: string; name?: string };
  strategy?: { canary?: RolloutBody; blueGreen?: RolloutBody };
  /** The builtin Rollout's metric analysis. */
  analysis?: AnalysisSpec;
}

export interface ValidationOptions {
  /**
   * Whose Rollout: `kruise` (its webhook's rules exactly) or `builtin`, which shares the shape but always runs a
   * Deployment canary with a canary Deployment. @default "kruise"
   */
  engine?: 'builtin' | 'kruise';
  /** Kruise's `--partition-percent-limit`. @default 50 */
  partitionPercentLimit?: number;
}

/**
 * The OpenKruise Rollout webhook's rules for a Rollout spec in its (v1beta1) shape, which the builtin
 * Rollout shares: the reconciler runs them on Rollouts written by hand, since no webhook guards them.
 */
export function validateRolloutSpec(spec: RolloutSpecLike, options: ValidationOptions = {}): RuleViolation[] {
  const out: RuleViolation[] = [];
  const { canary, blueGreen } = spec.strategy ?? {};
  if (!canary && !blueGreen)
    return [{ pointer: '/spec/strategy', message: 'canary and blueGreen cannot both be empty' }];
  if (canary && blueGreen) return [{ pointer: '/spec/strategy', message: 'canary and blueGreen cannot both be set' }];
  const ref = spec.workloadRef ?? {};
  const gvk = `${ref.apiVersion}/${ref.kind}`;
  if (!ref.name || !SUPPORTED_WORKLOADS.has(gvk))
    out.push({ pointer: '/spec/workloadRef', message: `unsupported workload ${gvk}` });
  const body = canary ?? blueGreen ?? {};
  const key = canary ? 'canary' : 'blueGreen';
  if (blueGreen && !['apps/v1/Deployment', 'apps.kruise.io/v1alpha1/CloneSet'].includes(gvk)) {
    out.push({ pointer: '/spec/workloadRef', message: 'blueGreen supports only a Deployment or a CloneSet' });
  }
  const routings = body.trafficRoutings ?? [];
  if (routings.length > 1)
    out.push({ pointer: `/spec/strategy/${key}/trafficRoutings`, message: 'at most one traffic routing is supported' });
  routings.forEach((r, i) => {
    const at = `/spec/strategy/${key}/trafficRoutings/${i}`;
    if (!r.service) out.push({ pointer: `${at}/service`, message: 'service cannot be empty' });
    if (!r.ingress && !r.gateway && !r.customNetworkRefs?.length)
      out.push({ pointer: at, message: 'one of ingress, gateway or customNetworkRefs is required' });
    if (r.ingress && !r.ingress.name)
      out.push({ pointer: `${at}/ingress/name`, message: 'ingress name cannot be empty' });
    if (r.gateway && !r.gateway.httpRouteName)
      out.push({ pointer: `${at}/gateway/httpRouteName`, message: 'httpRouteName cannot be empty' });
    if ((r.gracePeriodSeconds ?? 0) < 0)
      out.push({ pointer: `${at}/gracePeriodSeconds`, message: 'gracePeriodSeconds must not be negative' });
  });
  const extraWorkload = options.engine === 'builtin' || canary?.enableExtraWorkloadForCanary === true;
  const style = rollingStyle(
    blueGreen ? 'blueGreen' : 'canary',
    gvk === 'apps/v1/Deployment' ? 'Deployment' : gvk,
    extraWorkload,
  );
  const steps = (body.steps ?? []).map((s) => ({ ...s, pause: s.pause ?? {} }));
  out.push(
    ...validateSteps(
      steps,
      {
        strategy: blueGreen ? 'blueGreen' : 'canary',
        style,
        ...(options.partitionPercentLimit !== undefined
          ? { partitionPercentLimit: options.partitionPercentLimit }
          : {}),
      },
      (i) => `/spec/strategy/${key}/steps${i < 0 ? '' : `/${i}`}`,
    ),
  );
  const routeKind = routings[0]?.ingress ? 'ingress' : routings[0]?.gateway ? 'gateway' : undefined;
  const sources = steps.map((_, i) => `/spec/strategy/${key}/steps/${i}`);
  out.push(...analysisRules({ analysis: spec.analysis }, routeKind, '/spec', steps, sources));
  return out;
}
