import { createHash } from 'node:crypto';
import { ROLLOUT_ID_LABEL } from '../render/labels.js';
import type { KubeObject } from '../k8s/objects.js';
import { REVISION_LABEL } from '../traffic/service.js';
import type { WebhookResult } from '../analysis/webhooks.js';
import type { AnalysisCheck, RolloutObject } from './types.js';

/** Labels and annotations Stepwise puts on the objects of a release (OpenKruise's, in the stepwise.dev group). */
export const LABELS = {
  rolloutId: ROLLOUT_ID_LABEL,
  batchId: 'stepwise.dev/rollout-batch-id',
  stableRevision: 'stepwise.dev/stable-revision',
  canaryOf: 'stepwise.dev/canary-of',
} as const;
export const ANNOTATIONS = {
  /** On the workload during a release: `{"rolloutName": "..."}`. */
  inProgressing: 'stepwise.dev/in-progressing',
  /** On a blue-green Deployment: its own strategy settings, restored at the end. */
  originalStrategy: 'stepwise.dev/original-deployment-strategy',
  /** On the Rollout: the time `stepwise abort` was asked for. */
  abort: 'stepwise.dev/abort',
} as const;

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    paused?: boolean;
    selector?: { matchLabels?: Record<string, string> };
    template: PodTemplate;
    minReadySeconds?: number;
    progressDeadlineSeconds?: number;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
    [field: string]: unknown;
  };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

export interface Pod extends KubeObject {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/** What a reconcile pass sees: the Rollout and everything it governs, as plain objects. */
export interface Observed {
  now: Date;
  rollout: RolloutObject;
  workload?: Workload;
  /** ReplicaSets owned by the (Deployment) workload. */
  replicaSets: Workload[];
  /** The canary Deployment `<name>-canary` (canary style). */
  canaryWorkload?: Workload;
  /** ReplicaSets owned by the canary Deployment. */
  canaryReplicaSets: Workload[];
  /** Pods selected by the workload's selector (both versions). */
  pods: Pod[];
  stableService?: KubeObject;
  canaryService?: KubeObject;
  ingress?: KubeObject;
  canaryIngress?: KubeObject;
  httpRoute?: KubeObject;
  /** A metric check taken for this pass, when the step's next one was due (`reconcileOnce` measures it). */
  analysisCheck?: AnalysisCheck;
  /** The answers of the webhooks the pass's previous decision asked to call. */
  webhookResults?: WebhookResult[];
}

/**
 * Hashes already computed, per template object. Objects read from the API server or the cache are replaced,
 * never changed in place, so a template object's hash never changes; a reconcile pass hashes the same few
 * templates many times.
 */
const hashes = new WeakMap<PodTemplate, string>();

/** A stable hash of a pod template, ignoring the labels controllers and releases add to pods. */
export function templateHash(template: PodTemplate | undefined): string {
  const known = template && hashes.get(template);
  if (known) return known;
  const hash = createHash('sha256')
    .update(canonical(comparableTemplate(template)))
    .digest('hex')
    .slice(0, 10);
  if (template) hashes.set(template, hash);
  return hash;
}

/** A template without controller- and release-added labels, for comparisons across ReplicaSets. */
export function comparableTemplate(template: PodTemplate | undefined): PodTemplate {
  const t = structuredClone(template ?? {});
  for (const key of ['pod-template-hash', 'controller-revision-hash', LABELS.batchId]) delete t.metadata?.labels?.[key];
  return t;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** A ReplicaSet's pod-template-hash: the revision its pods carry. */
export const revisionOf = (rs: Workload | undefined) => rs?.metadata.labels?.['pod-template-hash'];

/**
 * The ReplicaSet of a Deployment's stable version, from the strongest evidence there is: the revision a release
 * recorded, else the stable template (the one last released, or the one the workload runs before a change), else
 * one still running pods of another template than the new version's.
 */
export function stableReplicaSet(
  sets: readonly Workload[],
  evidence: { revision?: string | undefined; template?: string | undefined; notTemplate?: string | undefined },
): Workload | undefined {
  const { revision, template, notTemplate } = evidence;
  return (
    (revision !== undefined ? sets.find((rs) => revisionOf(rs) === revision) : undefined) ??
    (template !== undefined ? sets.find((rs) => templateHash(rs.spec.template) === template) : undefined) ??
    (notTemplate !== undefined
      ? sets.find((rs) => (rs.spec.replicas ?? 0) > 0 && templateHash(rs.spec.template) !== notTemplate)
      : undefined)
  );
}

export const isReady = (pod: Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const alive = (pod: Pod) => !pod.metadata.deletionTimestamp;

/** Facts derived from the observed objects, the same way for every style. */
export interface View {
  replicas: number;
  revisionLabel: string;
  /** Stepwise's hash of the workload's current template. */
  templateHash: string;
  /** The workload is under this Rollout's control for a release. */
  inProgress: boolean;
  /** Revision (pod-template-hash / controller-revision-hash) of the stable pods. */
  stableRevision?: string;
  /** The stable pods' template, for rollback detection and restore. */
  stableTemplate?: PodTemplate;
  /** Revision of the new version's pods, once any exist. */
  newRevision?: string;
  newPods: Pod[];
  newReadyPods: number;
  /** The release's template is the stable one: only the rollout-id changed. */
  sameTemplate: boolean;
  stablePods: Pod[];
  stableReadyPods: number;
  rolloutId: string;
}

/** An observation of a Rollout whose workload exists. */
export type WithWorkload = Observed & { workload: Workload };

export function view(o: WithWorkload, canaryRevision: string): View {
  const w = o.workload;
  const kind = w.kind as 'Deployment' | 'StatefulSet';
  const revisionLabel = REVISION_LABEL[kind];
  const hash = templateHash(w.spec.template);
  const inProgress = (() => {
    try {
      return (
        JSON.parse(w.metadata.annotations?.[ANNOTATIONS.inProgressing] ?? '{}').rolloutName === o.rollout.metadata.name
      );
    } catch {
      return false;
    }
  })();
  let stableRevision: string | undefined;
  let stableTemplate: PodTemplate | undefined;
  let newRevision: string | undefined;
  if (kind === 'StatefulSet') {
    // currentRevision turns to the new revision once every pod is updated: the stable one is what the
    // release recorded when it started.
    stableRevision = w.metadata.labels?.[LABELS.stableRevision] ?? w.status?.currentRevision;
    newRevision = w.status?.updateRevision !== stableRevision ? w.status?.updateRevision : undefined;
  } else {
    const labelled = w.metadata.labels?.[LABELS.stableRevision];
    const stable = stableReplicaSet(o.replicaSets, {
      revision: labelled,
      template: o.rollout.status?.stableTemplateHash,
      notTemplate: canaryRevision,
    });
    stableRevision = labelled ?? revisionOf(stable);
    stableTemplate = stable?.spec.template;
    const newSets = o.canaryWorkload ? o.canaryReplicaSets : o.replicaSets;
    newRevision =
      stableTemplate && templateHash(stableTemplate) === canaryRevision
        ? // A release of an unchanged template (a new rollout-id): the running pods are the new version.
          stableRevision
        : newSets.find(
            (rs) =>
              templateHash(rs.spec.template) === canaryRevision &&
              rs.metadata.labels?.['pod-template-hash'] !== stableRevision,
          )?.metadata.labels?.['pod-template-hash'];
  }
  const pods = o.pods.filter(alive);
  const newPods = newRevision ? pods.filter((p) => p.metadata.labels?.[revisionLabel] === newRevision) : [];
  const stablePods = pods.filter((p) => p.metadata.labels?.[revisionLabel] === stableRevision);
  return {
    replicas: w.spec.replicas ?? 1,
    revisionLabel,
    templateHash: hash,
    inProgress,
    ...(stableRevision ? { stableRevision } : {}),
    ...(stableTemplate ? { stableTemplate } : {}),
    ...(newRevision ? { newRevision } : {}),
    newPods,
    newReadyPods: newPods.filter(isReady).length,
    sameTemplate: stableTemplate !== undefined && templateHash(stableTemplate) === canaryRevision,
    stablePods,
    stableReadyPods: stablePods.filter(isReady).length,
    rolloutId: w.metadata.labels?.[LABELS.rolloutId] ?? canaryRevision,
  };
}
