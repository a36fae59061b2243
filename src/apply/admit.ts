import { isDeepStrictEqual } from 'node:util';
import { describeObject } from '../k8s/client.js';
import { ROLLOUT_NAME_LABEL } from '../render/labels.js';
import {
  ANNOTATIONS,
  LABELS,
  revisionOf,
  stableReplicaSet,
  templateHash,
  type Workload,
} from '../reconciler/observed.js';
import { ownedReplicaSets, type Reader } from '../reconciler/observe.js';
import { heldSpec } from '../reconciler/workload.js';
import { type RolloutObject, strategyOf } from '../reconciler/types.js';
import { desiredRouteRules, type RouteRule, routeRules } from '../traffic/gateway.js';
import type { KubeObject } from '../k8s/objects.js';
import { canaryServiceName, REVISION_LABEL } from '../traffic/service.js';

/** One write of an object, as admission sees it. */
export interface AdmissionRequest {
  /** The object as its writer sent it. */
  desired: KubeObject;
  /** `desired` as the API server stores it (defaults applied): templates and rules are compared on it. */
  defaulted: KubeObject;
  /** What the cluster holds; absent when the object is created. */
  live?: KubeObject;
}

export interface Admission {
  /** What to write: `desired`, or a copy with the release's control fields. */
  object: KubeObject;
  /** This write starts a release. */
  release: boolean;
  /** This write rolls a running release back to its stable version. */
  rollback: boolean;
}

/** A write admission refuses; the message says how to proceed. */
export class AdmissionError extends Error {}

/** The names of what a builtin Rollout governs: its workload, the Services it pins and the route it shifts. */
export interface Governance {
  rollout: { name: string; namespace: string };
  workload: { kind: string; name: string };
  stableService?: string;
  httpRoute?: string;
}

export function governanceOf(rollout: RolloutObject): Governance {
  const { routing } = strategyOf(rollout);
  return {
    rollout: { name: rollout.metadata.name, namespace: rollout.metadata.namespace ?? 'default' },
    workload: { kind: rollout.spec.workloadRef.kind, name: rollout.spec.workloadRef.name },
    ...(routing ? { stableService: routing.service } : {}),
    ...(routing?.gateway ? { httpRoute: routing.gateway.httpRouteName } : {}),
  };
}

/** The Rollout named by an object's rollout-name label (the webhook's way to find its governor). */
export const governingRolloutName = (o: KubeObject | undefined) => o?.metadata.labels?.[ROLLOUT_NAME_LABEL];

/** The running version of a workload: the revision its stable pods carry and, for a Deployment, its template. */
export interface StableVersion {
  /** pod-template-hash (Deployment) or controller-revision-hash (StatefulSet). */
  revision?: string;
  /** Stepwise's hash of the stable pod template (Deployment). */
  templateHash?: string;
}

/** Finds a workload's stable version: the one labelled when its release started, else the one it runs now. */
export async function stableVersion(reader: Reader, live: Workload): Promise<StableVersion> {
  const labelled = live.metadata.labels?.[LABELS.stableRevision];
  if (live.kind === 'StatefulSet') {
    const revision = labelled ?? live.status?.currentRevision;
    return revision ? { revision } : {};
  }
  const sets = await ownedReplicaSets(reader, live);
  const stable = stableReplicaSet(sets, { revision: labelled, template: templateHash(live.spec.template) });
  const revision = revisionOf(stable);
  return stable && revision ? { revision, templateHash: templateHash(stable.spec.template) } : {};
}

/**
 * The one admission decision, made by `stepwise apply` before it writes and by the admission webhook for
 * every other deployer, so that neither the workload's own controller nor a re-applied manifest moves a
 * release behind the Rollout's back (the job OpenKruise's mutating webhook does for workloads):
 * - the workload: a new pod template (or rollout-id) starts a release in the same write; during a release
 *   the control fields the Rollout set are kept, a third version is refused and the stable one rolls back;
 * - the stable and canary Services keep the revision their selector is pinned to during a release;
 * - the HTTPRoute keeps the canary backends and rules of the step the release is at.
 * Objects the Rollout does not govern, and the first write of any object, pass unchanged.
 */
export function admit(
  request: AdmissionRequest,
  governance: Governance | undefined,
  stable: StableVersion = {},
): Admission {
  const { desired, live } = request;
  if (!governance || !live) return unchanged(desired);
  const name = desired.metadata.name;
  if (desired.kind === governance.workload.kind && name === governance.workload.name) {
    return admitWorkload(request as AdmissionRequest & { live: Workload }, governance, stable);
  }
  const stableService = governance.stableService;
  if (
    desired.kind === 'Service' &&
    stableService &&
    (name === stableService || name === canaryServiceName(stableService))
  ) {
    return admitService(request as AdmissionRequest & { live: KubeObject }, governance);
  }
  if (desired.kind === 'HTTPRoute' && stableService && name === governance.httpRoute) {
    return admitRoute(request as AdmissionRequest & { live: KubeObject }, governance, stableService);
  }
  return unchanged(desired);
}

const unchanged = (object: KubeObject): Admission => ({ object, release: false, rollback: false });

/** The workload spec fields a release takes over (pause, surge, partition, readiness gates). */
export const CONTROL_FIELDS = [
  'paused',
  'minReadySeconds',
  'progressDeadlineSeconds',
  'strategy',
  'updateStrategy',
] as const;

function admitWorkload(
  request: AdmissionRequest & { live: Workload },
  governance: Governance,
  stable: StableVersion,
): Admission {
  const { live } = request;
  const desired = request.desired as Workload;
  const defaulted = request.defaulted as Workload;
  const newHash = templateHash(defaulted.spec.template);
  const templateChanged = newHash !== templateHash(live.spec.template);
  const inProgress = live.metadata.annotations?.[ANNOTATIONS.inProgressing] !== undefined;
  const object = structuredClone(desired);
  const annotations = { ...object.metadata.annotations };
  const labels = { ...object.metadata.labels };
  const withMeta = () => ({ ...object, metadata: { ...object.metadata, annotations, labels } });

  if (inProgress) {
    const rollback = templateChanged && newHash === stable.templateHash;
    if (templateChanged && !rollback) {
      throw new AdmissionError(
        `${describeObject(live)}: a release is in progress; ${howToProceed(governance)} before applying another ` +
          `version`,
      );
    }
    for (const key of [ANNOTATIONS.inProgressing, ANNOTATIONS.originalStrategy]) {
      const value = live.metadata.annotations?.[key];
      if (value !== undefined) annotations[key] = value;
    }
    const stableLabel = live.metadata.labels?.[LABELS.stableRevision];
    if (stableLabel !== undefined) labels[LABELS.stableRevision] = stableLabel;
    // A field still at the value the write itself leads to is left alone, so the writer does not take it over.
    for (const field of CONTROL_FIELDS) {
      if (live.spec[field] !== undefined && !isDeepStrictEqual(live.spec[field], defaulted.spec[field])) {
        object.spec[field] = structuredClone(live.spec[field]) as never;
      }
    }
    // Back at the stable version, the workload is held: its own controller would otherwise remove the new pods
    // at once, before the Rollout has taken traffic off them (OpenKruise's webhook pauses it too).
    if (rollback) Object.assign(object.spec, heldSpec(object));
    return { object: withMeta(), release: false, rollback };
  }

  const rolloutIdChanged =
    (desired.metadata.labels?.[LABELS.rolloutId] ?? '') !== (live.metadata.labels?.[LABELS.rolloutId] ?? '');
  if (!templateChanged && !rolloutIdChanged) return unchanged(desired);
  annotations[ANNOTATIONS.inProgressing] = JSON.stringify({ rolloutName: governance.rollout.name });
  if (stable.revision) labels[LABELS.stableRevision] = stable.revision;
  Object.assign(object.spec, heldSpec(object));
  return { object: withMeta(), release: true, rollback: false };
}

type Selector = Record<string, string>;
const selectorOf = (o: KubeObject): Selector => (o.spec as { selector?: Selector } | undefined)?.selector ?? {};
const REVISION_KEYS = new Set(Object.values(REVISION_LABEL));
const withoutPin = (s: Selector) => Object.fromEntries(Object.entries(s).filter(([k]) => !REVISION_KEYS.has(k)));

/** A Service the release pinned to one revision keeps its pin; the rest of it is the writer's. */
function admitService(request: AdmissionRequest & { live: KubeObject }, governance: Governance): Admission {
  const pinned = selectorOf(request.live);
  if (Object.keys(pinned).every((k) => !REVISION_KEYS.has(k))) return unchanged(request.desired);
  const wanted = selectorOf(request.defaulted);
  if (isDeepStrictEqual(wanted, pinned)) return unchanged(request.desired);
  if (!isDeepStrictEqual(withoutPin(wanted), withoutPin(pinned))) {
    throw new AdmissionError(
      `${describeObject(request.live)}: its selector changed while a release pins it to one version; ` +
        `${howToProceed(governance)} first`,
    );
  }
  const object = structuredClone(request.desired);
  object.spec = { ...(object.spec as object), selector: { ...pinned } };
  return unchanged(object);
}

/** An HTTPRoute a release routes through keeps the canary part of its rules; its own rules may not change meanwhile. */
function admitRoute(
  request: AdmissionRequest & { live: KubeObject },
  governance: Governance,
  stableService: string,
): Admission {
  const routed = routeRules(request.live);
  const original = (rules: RouteRule[]) =>
    desiredRouteRules(rules, stableService, canaryServiceName(stableService), { restore: true });
  const liveOriginal = original(routed);
  if (isDeepStrictEqual(liveOriginal, routed)) return unchanged(request.desired);
  const wanted = routeRules(request.defaulted);
  if (isDeepStrictEqual(wanted, routed)) return unchanged(request.desired);
  if (!isDeepStrictEqual(original(wanted), liveOriginal)) {
    throw new AdmissionError(
      `${describeObject(request.live)}: its rules changed while a release routes traffic through them; ` +
        `${howToProceed(governance)} first`,
    );
  }
  const object = structuredClone(request.desired);
  object.spec = { ...(object.spec as object), rules: structuredClone(routed) };
  return unchanged(object);
}

/** The three ways out of a running release, as commands to copy. */
function howToProceed(g: Governance): string {
  const target = `${g.rollout.name} -n ${g.rollout.namespace}`;
  return (
    `finish it (stepwise promote ${target} --full), roll it back (stepwise abort ${target}) or put the old ` +
    `template back (stepwise undo ${target})`
  );
}
