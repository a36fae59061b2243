import { CANARY_BY_COOKIE, CANARY_BY_HEADER, CANARY_WEIGHT } from '../traffic/nginx.js';
import { routeRules } from '../traffic/gateway.js';
import { canaryServiceName } from '../traffic/service.js';
import { isReady, view, type Observed } from './observed.js';
import { type AnalysisStatus, strategyOf, subStatusOf } from './types.js';

/** What `stepwise status` shows: where the release is, the pods of each version, and where traffic goes. */
export interface RolloutSummary {
  namespace: string;
  name: string;
  phase: string;
  strategy: 'canary' | 'blueGreen';
  step: number;
  steps: number;
  state: string;
  finalising?: string;
  message: string;
  stable: { revision?: string; pods: number; ready: number };
  canary: { revision?: string; pods: number; ready: number };
  /** Percent of unmatched traffic to the new version, and the matches that send requests to it. */
  traffic: { weight: number; matches: string[] };
  /** The current release's metric analysis: the step's tally and the latest checks, newest last. */
  analysis?: Omit<AnalysisStatus, 'revision'>;
}

export function summarize(o: Observed): RolloutSummary {
  const { rollout } = o;
  const sub = subStatusOf(rollout);
  const { body } = strategyOf(rollout);
  const v = o.workload ? view({ ...o, workload: o.workload }, sub?.canaryRevision ?? '') : undefined;
  const releasing = rollout.status?.phase === 'Progressing';
  return {
    namespace: rollout.metadata.namespace ?? 'default',
    name: rollout.metadata.name,
    phase: rollout.status?.phase ?? 'Initial',
    strategy: strategyOf(rollout).kind,
    step: sub?.currentStepIndex ?? 0,
    steps: body.steps.length,
    state: sub?.currentStepState ?? '',
    ...(sub?.finalisingStep ? { finalising: sub.finalisingStep } : {}),
    message: rollout.status?.message ?? '',
    stable: {
      ...(v?.stableRevision ? { revision: v.stableRevision } : {}),
      pods: releasing ? (v?.stablePods.length ?? 0) : o.pods.length,
      ready: releasing ? (v?.stableReadyPods ?? 0) : o.pods.filter(isReady).length,
    },
    canary: {
      ...(releasing && v?.newRevision ? { revision: v.newRevision } : {}),
      pods: releasing ? (v?.newPods.length ?? 0) : 0,
      ready: releasing ? (v?.newReadyPods ?? 0) : 0,
    },
    traffic: trafficOf(o),
    ...analysisOf(rollout, sub?.canaryRevision),
  };
}

/** The analysis of the release in the sub-status (an earlier release's is history, not shown). */
function analysisOf(rollout: Observed['rollout'], revision: string | undefined) {
  const a = rollout.status?.analysis;
  if (!a || a.revision !== revision) return {};
  const { revision: _revision, ...shown } = a;
  return { analysis: { ...shown, checks: a.checks.slice(-5) } };
}

function trafficOf(o: Observed): RolloutSummary['traffic'] {
  const { routing } = strategyOf(o.rollout);
  if (routing?.ingress) {
    const a = o.canaryIngress?.metadata.annotations ?? {};
    const matches = [
      ...(a[CANARY_BY_HEADER] ? [`header ${a[CANARY_BY_HEADER]}`] : []),
      ...(a[CANARY_BY_COOKIE] ? [`cookie ${a[CANARY_BY_COOKIE]}`] : []),
    ];
    return { weight: Number(a[CANARY_WEIGHT] ?? 0), matches };
  }
  if (routing?.gateway) {
    const canary = canaryServiceName(routing.service);
    const rules = routeRules(o.httpRoute);
    const weighted = rules.find((r) => r.backendRefs?.some((b) => b.name === canary) && r.backendRefs.length > 1);
    const refs = weighted?.backendRefs ?? [];
    const total = refs.reduce((n, b) => n + (b.weight ?? 1), 0);
    const weight = total ? Math.round((100 * (refs.find((b) => b.name === canary)?.weight ?? 0)) / total) : 0;
    const matchRules = rules.filter((r) => r.backendRefs?.length === 1 && r.backendRefs[0].name === canary);
    return { weight, matches: matchRules.flatMap((r) => (r.matches ?? []).map((m) => JSON.stringify(m))) };
  }
  return { weight: 0, matches: [] };
}
