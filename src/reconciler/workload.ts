import { ROLLOUT_NAME_LABEL } from '../render/labels.js';
import type { RollingStyle } from '../appspec/normalize.js';
import { ownedBy, refOf, type Action } from './actions.js';
import {
  ANNOTATIONS,
  LABELS,
  comparableTemplate,
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

/** Brings `pods` new-version pods up for a step. Never scales new pods down (a jump back only moves traffic). */
export function upgradeWorkload(o: WithWorkload, style: RollingStyle, pods: number): Action[] {
  const w = o.workload;
  if (style === 'canary') {
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
  if (style === 'blueGreen') {
    const surge = w.spec.strategy?.rollingUpdate?.maxSurge;
    const controlled = w.spec.minReadySeconds === MAX_READY_SECONDS && originalStrategy(w) !== undefined;
    const currentSurge = controlled && typeof surge === 'number' ? surge : 0;
    if (controlled && !w.spec.paused && currentSurge >= pods && w.spec.strategy?.rollingUpdate?.maxUnavailable === 0)
      return [];
    const saved: OriginalStrategy = originalStrategy(w) ?? {
      maxSurge: w.spec.strategy?.rollingUpdate?.maxSurge ?? DEPLOYMENT_DEFAULTS.maxSurge,
      maxUnavailable: w.spec.strategy?.rollingUpdate?.maxUnavailable ?? DEPLOYMENT_DEFAULTS.maxUnavailable,
      minReadySeconds: w.spec.minReadySeconds ?? DEPLOYMENT_DEFAULTS.minReadySeconds,
      progressDeadlineSeconds: w.spec.progressDeadlineSeconds ?? DEPLOYMENT_DEFAULTS.progressDeadlineSeconds,
    };
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
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate: { maxSurge: Math.max(currentSurge, pods), maxUnavailable: 0 },
            },
          },
        },
        why: `surge ${w.metadata.name} to ${Math.max(currentSurge, pods)} new pods beside the old ones`,
      },
    ];
  }
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
 * Puts a workload whose new template bypassed admission under the Rollout's control, as admission would
 * have in the same write: marked in-progressing with its stable revision, and held where it is (a Deployment
 * paused, a StatefulSet's partition keeping the pods not yet updated).
 */
export function holdWorkload(o: WithWorkload, stableRevision: string | undefined, updatedPods: number): Action {
  const w = o.workload;
  const hold =
    w.kind === 'StatefulSet'
      ? {
          updateStrategy: {
            type: 'RollingUpdate',
            rollingUpdate: { partition: Math.max(0, (w.spec.replicas ?? 1) - updatedPods) },
          },
        }
      : { paused: true };
  return {
    kind: 'merge',
    ref: refOf(w),
    patch: {
      metadata: {
        annotations: { [ANNOTATIONS.inProgressing]: JSON.stringify({ rolloutName: o.rollout.metadata.name }) },
        ...(stableRevision ? { labels: { [LABELS.stableRevision]: stableRevision } } : {}),
      },
      spec: hold,
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
