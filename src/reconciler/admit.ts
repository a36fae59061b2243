import { isDeepStrictEqual } from 'node:util';
import { ANNOTATIONS, LABELS, templateHash, type Workload } from './observed.js';

export interface Admission {
  /** What to apply. */
  object: Workload;
  /** This write starts a release. */
  release: boolean;
  /** This write rolls a running release back to its stable version. */
  rollback: boolean;
}

export class AdmissionError extends Error {}

/**
 * What `stepwise apply` writes for a workload a Rollout governs, so the workload's own controller never rolls
 * ahead of the Rollout (the job OpenKruise's mutating webhook does):
 * - a new pod template (or a new rollout-id label) starts a release: in the same write a Deployment is
 *   paused, a StatefulSet's partition holds every pod, and the workload is marked in-progressing with its
 *   stable revision;
 * - during a release the control fields the Rollout set are carried over, so an apply never lets go of them
 *   by omission (one still at the value the apply itself leads to is left alone, so the apply does not take
 *   it over); a template other than the stable one is refused (finish, abort or undo the release first);
 * - the first apply of a workload just creates it: there is nothing to release from.
 * `defaulted` is `desired` as the API server would store it (a server-side dry run), so templates compare
 * like for like; `stableRevision` is the running version's pod-template-hash.
 */
export function admitWorkload(args: { desired: Workload; defaulted: Workload; live?: Workload; rolloutName: string; stableRevision?: string; stableTemplateHash?: string }): Admission {
  const { desired, defaulted, live, rolloutName } = args;
  if (!live) return { object: desired, release: false, rollback: false };
  const object = structuredClone(desired);
  const annotations = { ...object.metadata.annotations };
  const labels = { ...object.metadata.labels };
  const newHash = templateHash(defaulted.spec.template);
  const templateChanged = newHash !== templateHash(live.spec.template);
  const inProgress = live.metadata.annotations?.[ANNOTATIONS.inProgressing] !== undefined;

  if (inProgress) {
    const rollback = templateChanged && newHash === args.stableTemplateHash;
    if (templateChanged && !rollback) {
      throw new AdmissionError(`${live.kind}/${live.metadata.name}: a release is in progress; promote it, abort it or undo it before applying another version`);
    }
    for (const key of [ANNOTATIONS.inProgressing, ANNOTATIONS.originalStrategy]) {
      const value = live.metadata.annotations?.[key];
      if (value !== undefined) annotations[key] = value;
    }
    const stable = live.metadata.labels?.[LABELS.stableRevision];
    if (stable !== undefined) labels[LABELS.stableRevision] = stable;
    for (const field of ['paused', 'minReadySeconds', 'progressDeadlineSeconds', 'strategy', 'updateStrategy'] as const) {
      if (live.spec[field] !== undefined && !isDeepStrictEqual(live.spec[field], defaulted.spec[field])) object.spec[field] = structuredClone(live.spec[field]) as never;
    }
    return { object: { ...object, metadata: { ...object.metadata, annotations, labels } }, release: false, rollback };
  }

  const rolloutIdChanged = (desired.metadata.labels?.[LABELS.rolloutId] ?? '') !== (live.metadata.labels?.[LABELS.rolloutId] ?? '');
  if (!templateChanged && !rolloutIdChanged) return { object: desired, release: false, rollback: false };
  annotations[ANNOTATIONS.inProgressing] = JSON.stringify({ rolloutName });
  if (args.stableRevision) labels[LABELS.stableRevision] = args.stableRevision;
  if (object.kind === 'StatefulSet') {
    object.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: object.spec.replicas ?? 1 } };
  } else {
    object.spec.paused = true;
  }
  return { object: { ...object, metadata: { ...object.metadata, annotations, labels } }, release: true, rollback: false };
}
