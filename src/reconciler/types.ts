import type { MetricResult, Verdict } from '../analysis/metrics.js';
import type { WebhookPayload, WebhookResult } from '../analysis/webhooks.js';
import type { NormalizedWebhook } from '../appspec/normalize.js';
import type { AnalysisSpec, MatchSpec, ReplicasValue, TrafficValue } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';

/** Step states, with OpenKruise's exact strings (kubectl-kruise, KubeVela and Argo CD read them). */
export type StepState =
  | 'BeforeStepUpgrade'
  | 'StepUpgrade'
  | 'StepTrafficRouting'
  | 'StepMetricsAnalysis'
  | 'StepPaused'
  | 'StepReady'
  | 'Completed';
/** Stepwise's condition types besides OpenKruise's; tools that know only Kruise's ignore them. */
export type ConditionType = 'Progressing' | 'Succeeded' | 'Terminating' | 'Admitted';
export type Phase = 'Initial' | 'Healthy' | 'Progressing' | 'Terminating' | 'Disabling' | 'Disabled';
export type FinalisingStep =
  | ''
  | 'FinalisingStepRouteTrafficToNew'
  | 'FinalisingStepRouteTrafficToStable'
  | 'RestoreStableService'
  | 'RemoveCanaryService'
  | 'ResumeWorkload'
  | 'ReleaseWorkloadControl'
  | 'END';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

/**
 * The progress of a release: `status.canaryStatus` as stored, and `status.blueGreenStatus` under the canary's
 * names (see `BlueGreenStatus`). Everything a release needs to resume after a crash.
 */
export interface SubStatus {
  observedWorkloadGeneration?: number;
  observedRolloutID?: string;
  rolloutHash?: string;
  /** pod-template-hash (or controller-revision-hash) of the stable pods. */
  stableRevision?: string;
  /** pod-template-hash of the new pods, once they exist: the canary Service selects it. */
  podTemplateHash: string;
  /** Stepwise's hash of the new pod template: tells a new release or a rollback from this one. */
  canaryRevision: string;
  /** New-version pods, and how many of them are Ready. */
  canaryReplicas: number;
  canaryReadyReplicas: number;
  /**
   * The replicas (a count or a percentage, as the step wrote them) of the step that last brought pods up: what a
   * plan edited mid-release is recalculated from (OpenKruise reads its BatchRelease's current batch).
   */
  currentBatchReplicas?: ReplicasValue;
  currentStepIndex: number;
  nextStepIndex: number;
  currentStepState: StepState;
  finalisingStep: FinalisingStep;
  lastUpdateTime?: string;
  message?: string;
}

type CanaryNames = 'canaryRevision' | 'canaryReplicas' | 'canaryReadyReplicas';

/** `status.blueGreenStatus` as stored: OpenKruise's BlueGreenStatus calls the new version "updated". */
export interface BlueGreenStatus extends Omit<SubStatus, CanaryNames> {
  updatedRevision: string;
  updatedReplicas: number;
  updatedReadyReplicas: number;
}

export interface RolloutStatus {
  observedGeneration?: number;
  phase?: Phase;
  message?: string;
  currentStepIndex?: number;
  currentStepState?: string;
  conditions?: Condition[];
  /**
   * Stepwise's hash of the pod template the workload runs outside a release (the last one released, or the one
   * a release was rolled back to): a template that differs while no release runs bypassed admission.
   */
  stableTemplateHash?: string;
  canaryStatus?: SubStatus;
  blueGreenStatus?: BlueGreenStatus;
  analysis?: AnalysisStatus;
}

/** One check of every metric of an analysis, at one time. */
export interface AnalysisCheck {
  time: string;
  step: number;
  verdict: Verdict;
  /** Each metric's result, and each rollout webhook's as one more. */
  metrics: MetricResult[];
  /** A rollback webhook answered yes: why the release must roll back. */
  rollbackRequested?: string;
}

/** A webhook to call now, with what to send it. */
export interface WebhookCall {
  hook: NormalizedWebhook;
  payload: WebhookPayload;
}

/** A release's analysis: its latest checks (at most `ANALYSIS_HISTORY`), and where the current step stands. */
export interface AnalysisStatus {
  /** The release (its `canaryRevision`) and step the tally counts. */
  revision: string;
  step: number;
  passed: number;
  failed: number;
  inconclusive: number;
  /** Inconclusive past the limit: the release waits for a person, and says why. */
  halted?: string;
  /** Failed past the limit: why the release rolls back. */
  failure?: string;
  /** The latest answer of each gating webhook (pre-rollout, confirm-*) at this step. */
  gates?: WebhookResult[];
  checks: AnalysisCheck[];
}

export interface RolloutStep {
  replicas: ReplicasValue;
  traffic?: TrafficValue;
  matches?: MatchSpec[];
  pause?: { duration?: number };
  analyze?: boolean;
}

export interface TrafficRouting {
  service: string;
  gracePeriodSeconds?: number;
  ingress?: { classType?: string; name: string };
  gateway?: { httpRouteName: string };
}

export interface StrategyBody {
  steps: RolloutStep[];
  trafficRoutings?: TrafficRouting[];
  failureThreshold?: ReplicasValue;
  enableExtraWorkloadForCanary?: boolean;
}

/** A `stepwise.dev/v1alpha1` Rollout as read from the cluster. */
export interface RolloutObject extends KubeObject {
  spec: {
    workloadRef: { apiVersion: string; kind: 'Deployment' | 'StatefulSet'; name: string };
    strategy: { canary?: StrategyBody; blueGreen?: StrategyBody; paused?: boolean };
    disabled?: boolean;
    progressDeadlineSeconds?: number;
    analysis?: AnalysisSpec;
  };
  status?: RolloutStatus;
}

export type StrategyKind = 'canary' | 'blueGreen';

/** A Rollout's one strategy: which it is, its steps and routing, and the status key its progress lives under. */
export interface RolloutStrategy {
  kind: StrategyKind;
  body: StrategyBody;
  statusKey: 'canaryStatus' | 'blueGreenStatus';
  /** The one traffic routing (OpenKruise allows one), when the Rollout routes traffic. */
  routing?: TrafficRouting;
}

/** The strategy of a Rollout (a canary when it names neither; validation reports that). */
export function strategyOf(rollout: RolloutObject): RolloutStrategy {
  const { canary, blueGreen } = rollout.spec.strategy;
  const kind: StrategyKind = !canary && blueGreen ? 'blueGreen' : 'canary';
  const body = (kind === 'canary' ? canary : blueGreen) ?? { steps: [] };
  const routing = body.trafficRoutings?.[0];
  return { kind, body, statusKey: `${kind}Status`, ...(routing ? { routing } : {}) };
}

/** The sub-status of a Rollout's strategy, once a release or the first healthy pass has written it. */
export function subStatusOf(rollout: RolloutObject): SubStatus | undefined {
  const { canaryStatus, blueGreenStatus } = rollout.status ?? {};
  if (strategyOf(rollout).kind === 'canary' || !blueGreenStatus) return canaryStatus;
  const { updatedRevision, updatedReplicas, updatedReadyReplicas, ...common } = blueGreenStatus;
  return {
    ...common,
    canaryRevision: updatedRevision,
    canaryReplicas: updatedReplicas,
    canaryReadyReplicas: updatedReadyReplicas,
  };
}

/** A sub-status as its strategy stores it: under its own key and, for blue-green, OpenKruise's names. */
export function storedSubStatus(
  kind: StrategyKind,
  sub: SubStatus,
): Pick<RolloutStatus, 'canaryStatus' | 'blueGreenStatus'> {
  if (kind === 'canary') return { canaryStatus: sub };
  const { canaryRevision, canaryReplicas, canaryReadyReplicas, ...common } = sub;
  return {
    blueGreenStatus: {
      ...common,
      updatedRevision: canaryRevision,
      updatedReplicas: canaryReplicas,
      updatedReadyReplicas: canaryReadyReplicas,
    },
  };
}
