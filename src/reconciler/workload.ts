import { ROLLOUT_NAME_LABEL } from '../render/labels.js';
import type { RollingStyle } from '../appspec/normalize.js';
import type { ReplicasValue } from '../appspec/types.js';
import { scaledValue, stepPods } from '../plan/replicas.js';
import { ownedBy, refOf, type Action } from './actions.js';
import {
  ANNOTATIONS,
  LABELS,
  comparableTemplate,
  revisionOf,
  templateHash,
  type View,
  type Workload,
  type WithWorkload,
} from './observed.js';

/** minReadySeconds that keeps new pods from ever counting as available (OpenKruise's MaxReadySeconds). */
export const MAX_READY_SECONDS = 2147483646;
export const MAX_PROGRESS_SECONDS = 2147483647;

/** What the API server fills in for a Deployment that leaves its rolling update settings out. */
const DEPLOYMENT_DEFAULTS = {
  maxSurge: '25%',
  maxUnavailable: '25%',
  minReadySeconds: 0,
  progressDeadlineSeconds: 600,
};

export function canaryWorkloadName(workload: string): string {
  return `${workload}-canary`;
}

interface OriginalStrategy {
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  minReadySeconds?: number;
  progressDeadlineSeconds?: number;
  partition?: number;
}

function originalStrategy(w: Workload): OriginalStrategy | undefined {
  const saved = w.metadata.annotations?.[ANNOTATIONS.originalStrategy];
  return saved ? (JSON.parse(saved) as OriginalStrategy) : undefined;
}

/**
 * Brings up the new-version pods a step asks for (`replicas`, a count or a percentage of the workload's). Never
 * scales new pods down (a jump back only moves traffic).
 */
export function upgradeWorkload(o: WithWorkload, v: View, style: RollingStyle, replicas: ReplicasValue): Action[] {
  const pods = stepPods(replicas, v.replicas, style !== 'canary');
  if (style === 'canary') return scaleCanaryWorkload(o, pods);
  if (style === 'blueGreen') return [...holdStableReplicaSet(o, v), ...surgeDeployment(o.workload, replicas, pods)];
  return movePartition(o.workload, pods);
}

/** The partition style: a StatefulSet's partition lowered until `pods` of its pods are updated. */
function movePartition(w: Workload, pods: number): Action[] {
  const replicas = w.spec.replicas ?? 1;
  const partition = w.spec.updateStrategy?.rollingUpdate?.partition ?? replicas;
  const desired = Math.min(partition, replicas - pods);
  if (desired === partition) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(w),
      patch: { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: desired } } } },
      why: `update ${pods} of ${replicas} pods of ${w.metadata.name} (partition ${desired})`,
    },
  ];
}

/** The canary style: a `<name>-canary` Deployment of the new template, scaled up to `pods`. */
function scaleCanaryWorkload(o: WithWorkload, pods: number): Action[] {
  const w = o.workload;
  const current = o.canaryWorkload?.spec.replicas ?? 0;
  if (o.canaryWorkload && current >= pods) return [];
  const desired = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: canaryWorkloadName(w.metadata.name),
      namespace: w.metadata.namespace,
      labels: { ...w.metadata.labels, [LABELS.canaryOf]: w.metadata.name },
      ownerReferences: ownedBy(o.rollout),
    },
    spec: {
      replicas: Math.max(current, pods),
      selector: w.spec.selector,
      template: comparableTemplate(w.spec.template),
      ...(w.spec.minReadySeconds !== undefined ? { minReadySeconds: w.spec.minReadySeconds } : {}),
    },
  };
  return [{ kind: 'apply', object: desired, why: `scale ${desired.metadata.name} to ${desired.spec.replicas} pods` }];
}

/**
 * Blue-green: the stable ReplicaSet's pods never count as available during the release (OpenKruise raises its
 * minReadySeconds as well). Should the stable template come back by any means, the Deployment's controller then
 * finds nothing it may remove, so the new pods stay until the Rollout has taken traffic off them.
 */
function holdStableReplicaSet(o: WithWorkload, v: View): Action[] {
  const stable = o.replicaSets.find((rs) => revisionOf(rs) === v.stableRevision);
  if (!stable || stable.spec.minReadySeconds === MAX_READY_SECONDS) return [];
  return [
    {
      kind: 'merge',
      ref: refOf(stable),
      patch: { spec: { minReadySeconds: MAX_READY_SECONDS } },
      why: `keep ${stable.metadata.name}'s pods from counting as available until the release is over`,
    },
  ];
}

/**
 * Blue-green: the Deployment surges the step's new pods beside the old ones, none counting as available (so no old
 * pod goes), with its own settings saved for the end. Like OpenKruise, `maxSurge` is the step's `replicas` as
 * written ("100%"), and a surge already as large stays.
 */
function surgeDeployment(w: Workload, replicas: ReplicasValue, pods: number): Action[] {
  const rollingUpdate = w.spec.strategy?.rollingUpdate;
  const controlled = w.spec.minReadySeconds === MAX_READY_SECONDS && originalStrategy(w) !== undefined;
  const current = controlled && rollingUpdate?.maxSurge !== undefined ? rollingUpdate.maxSurge : 0;
  const surged = scaledValue(current, w.spec.replicas ?? 1) >= pods;
  if (controlled && !w.spec.paused && surged && rollingUpdate?.maxUnavailable === 0) return [];
  const saved: OriginalStrategy = originalStrategy(w) ?? {
    maxSurge: rollingUpdate?.maxSurge ?? DEPLOYMENT_DEFAULTS.maxSurge,
    maxUnavailable: rollingUpdate?.maxUnavailable ?? DEPLOYMENT_DEFAULTS.maxUnavailable,
    minReadySeconds: w.spec.minReadySeconds ?? DEPLOYMENT_DEFAULTS.minReadySeconds,
    progressDeadlineSeconds: w.spec.progressDeadlineSeconds ?? DEPLOYMENT_DEFAULTS.progressDeadlineSeconds,
  };
  const maxSurge = surged ? current : replicas;
  return [
    {
      kind: 'merge',
      ref: refOf(w),
      patch: {
        metadata: { annotations: { [ANNOTATIONS.originalStrategy]: JSON.stringify(saved) } },
        spec: {
          paused: false,
          minReadySeconds: MAX_READY_SECONDS,
          progressDeadlineSeconds: MAX_PROGRESS_SECONDS,
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable: 0 } },
        },
      },
      why: `surge ${w.metadata.name} by ${maxSurge} new pods beside the old ones`,
    },
  ];
}

/**
 * New-version pods carry the release's rollout-id and the 1-based step that brought them (batch-id), as
 * OpenKruise labels its batches: a step labels as many not-yet-labelled pods as it asks for in all.
 */
export function labelBatch(v: View, step: number, desired: number): Action[] {
  const labelled = v.newPods.filter((p) => p.metadata.labels?.[LABELS.rolloutId] === v.rolloutId).length;
  return v.newPods
    .filter((p) => p.metadata.labels?.[LABELS.rolloutId] !== v.rolloutId)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .slice(0, Math.max(0, desired - labelled))
    .map((p) => ({
      kind: 'merge' as const,
      ref: refOf({ ...p, apiVersion: 'v1', kind: 'Pod' }),
      patch: { metadata: { labels: { [LABELS.rolloutId]: v.rolloutId, [LABELS.batchId]: String(step) } } },
      why: `label pod ${p.metadata.name} as batch ${step}`,
      background: true,
    }));
}

/**
 * Hands the workload back to its own controller: its strategy settings restored and control markers removed.
 * On rollback the template goes back to the stable revision first, so what the controller rolls to is the
 * stable version, and the canary workload is emptied.
 */
export function resumeWorkload(o: WithWorkload, v: View, style: RollingStyle, rollback: boolean): Action[] {
  const w = o.workload;
  const actions: Action[] = [];
  if (rollback && v.stableTemplate && templateHash(w.spec.template) !== templateHash(v.stableTemplate)) {
    actions.push({
      kind: 'replace-template',
      ref: refOf(w),
      template: comparableTemplate(v.stableTemplate),
      why: `restore ${w.metadata.name}'s template to the stable revision ${v.stableRevision}`,
    });
  }
  const spec: Record<string, unknown> = {};
  const saved = originalStrategy(w);
  if (w.kind === 'Deployment' && w.spec.paused) spec.paused = false;
  if (style === 'blueGreen' && saved) {
    const restored = { ...DEPLOYMENT_DEFAULTS, ...saved };
    spec.minReadySeconds = restored.minReadySeconds;
    spec.progressDeadlineSeconds = restored.progressDeadlineSeconds;
    spec.strategy = {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: restored.maxSurge, maxUnavailable: restored.maxUnavailable },
    };
  }
  if (style === 'partition' && (w.spec.updateStrategy?.rollingUpdate?.partition ?? 0) !== (saved?.partition ?? 0)) {
    spec.updateStrategy = { rollingUpdate: { partition: saved?.partition ?? 0 } };
  }
  const annotations: Record<string, null> = {};
  for (const key of [ANNOTATIONS.inProgressing, ANNOTATIONS.originalStrategy])
    if (w.metadata.annotations?.[key] !== undefined) annotations[key] = null;
  if (Object.keys(spec).length || Object.keys(annotations).length) {
    actions.push({
      kind: 'merge',
      ref: refOf(w),
      patch: {
        ...(Object.keys(annotations).length ? { metadata: { annotations } } : {}),
        ...(Object.keys(spec).length ? { spec } : {}),
      },
      why: `resume ${w.metadata.name} under its own controller`,
    });
  }
  if (rollback && o.canaryWorkload && (o.canaryWorkload.spec.replicas ?? 0) > 0) {
    actions.push({
      kind: 'merge',
      ref: refOf(o.canaryWorkload),
      patch: { spec: { replicas: 0 } },
      why: `scale ${o.canaryWorkload.metadata.name} to 0`,
    });
  }
  return actions;
}

/**
 * The spec fields that hold a workload where it is: a Deployment paused, a StatefulSet's partition keeping every
 * pod but the `updatedPods` already updated. Its own controller then rolls nothing until the Rollout lets it.
 */
export function heldSpec(w: Workload, updatedPods = 0): Partial<Workload['spec']> {
  if (w.kind !== 'StatefulSet') return { paused: true };
  const partition = Math.max(0, (w.spec.replicas ?? 1) - updatedPods);
  return { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } };
}

/**
 * Puts a workload whose new template bypassed admission under the Rollout's control, as admission would
 * have in the same write: marked in-progressing with its stable revision, and held where it is.
 */
export function holdWorkload(o: WithWorkload, stableRevision: string | undefined, updatedPods: number): Action {
  const w = o.workload;
  return {
    kind: 'merge',
    ref: refOf(w),
    patch: {
      metadata: {
        annotations: { [ANNOTATIONS.inProgressing]: JSON.stringify({ rolloutName: o.rollout.metadata.name }) },
        ...(stableRevision ? { labels: { [LABELS.stableRevision]: stableRevision } } : {}),
      },
      spec: heldSpec(w, updatedPods),
    },
    why: `hold ${w.metadata.name} under the Rollout's control: its template changed without admission`,
  };
}

/**
 * The workload carries its Rollout's name, so the admission webhook sees its writes (as Kruise labels its workloads).
 */
export function labelGoverned(o: WithWorkload): Action[] {
  const w = o.workload;
  if (w.metadata.labels?.[ROLLOUT_NAME_LABEL] !== undefined) return [];
  const patch = { metadata: { labels: { [ROLLOUT_NAME_LABEL]: o.rollout.metadata.name } } };
  return [
    {
      kind: 'merge',
      ref: refOf(w),
      patch,
      why: `label ${w.metadata.name} as governed by Rollout ${o.rollout.metadata.name}`,
    },
  ];
}

/** The workload's own controller has finished: every pod is of the current template and available. */
export function workloadSettled(o: WithWorkload): boolean {
  const w = o.workload;
  const s = w.status ?? {};
  const replicas = w.spec.replicas ?? 1;
  if ((s.observedGeneration ?? 0) < ((w.metadata.generation as number) ?? 0)) return false;
  if (w.kind === 'StatefulSet') return s.updateRevision === s.currentRevision && (s.readyReplicas ?? 0) >= replicas;
  return (
    (s.updatedReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && (s.availableReplicas ?? 0) >= replicas
  );
}

/** The last control markers go: the canary workload (Stepwise's own) and the stable-revision label. */
export function releaseWorkload(o: WithWorkload): Action[] {
  const actions: Action[] = [];
  if (o.canaryWorkload)
    actions.push({ kind: 'delete', ref: refOf(o.canaryWorkload), why: `delete ${o.canaryWorkload.metadata.name}` });
  const w = o.workload;
  if (w.metadata.labels?.[LABELS.stableRevision] !== undefined) {
    actions.push({
      kind: 'merge',
      ref: refOf(w),
      patch: { metadata: { labels: { [LABELS.stableRevision]: null } } },
      why: `release ${w.metadata.name} from the Rollout's control`,
    });
  }
  return actions;
}
