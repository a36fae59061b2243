import { FIELD_MANAGER, KubeApiError, type KubeClient } from '../k8s/client.js';
import { ANNOTATIONS, comparableTemplate, stableReplicaSet, templateHash, type Workload } from './observed.js';
import { ownedReplicaSets, ROLLOUT_REF } from './observe.js';
import { awaitsApproval } from './run.js';
import { type RolloutObject, strategyOf, subStatusOf } from './types.js';

/**
 * Steering a release from outside the reconciler, as a person does: approve, abort, undo. Each checks the Rollout's
 * state first and says in words why it cannot act; each writes as OpenKruise's tools write, so `kubectl-kruise`
 * and Stepwise steer the same way.
 */

/** A request that the release's state does not allow, in words. */
export class ControlError extends Error {}

export async function getRollout(client: KubeClient, namespace: string, name: string): Promise<RolloutObject> {
  const rollout = await client.get<RolloutObject>({ ...ROLLOUT_REF, name, namespace });
  if (!rollout) throw new ControlError(`Rollout ${namespace}/${name} not found (apply it with \`stepwise apply\`)`);
  return rollout;
}

const refOfRollout = (r: RolloutObject) => ({ ...ROLLOUT_REF, name: r.metadata.name, namespace: r.metadata.namespace });
const releasing = (r: RolloutObject) => r.status?.phase === 'Progressing';

/**
 * Approves the paused step (OpenKruise's protocol: the sub-status's `currentStepState: StepReady`), or with `full`
 * jumps to the last step (`nextStepIndex`). Returns what was done, in words.
 */
export async function approve(
  client: KubeClient,
  rollout: RolloutObject,
  options: { full?: boolean } = {},
): Promise<string> {
  const { statusKey, body } = strategyOf(rollout);
  const sub = subStatusOf(rollout);
  const steps = body.steps.length;
  const name = rollout.metadata.name;
  if (options.full) {
    if (!releasing(rollout)) {
      throw new ControlError(`${name} has no release in progress (phase ${rollout.status?.phase ?? 'Initial'})`);
    }
    await client.mergePatch(
      refOfRollout(rollout),
      { status: { [statusKey]: { nextStepIndex: steps } } },
      'status',
      FIELD_MANAGER,
    );
    return `${name}: jumping to step ${steps}/${steps}`;
  }
  if (!awaitsApproval(rollout)) {
    const step = `step ${sub?.currentStepIndex ?? 0} ${sub?.currentStepState ?? ''}`;
    throw new ControlError(`${name} is not waiting for approval (${rollout.status?.phase ?? 'Initial'}, ${step})`);
  }
  // Conditional on the version read, so an approval never lands on a different step than the one shown.
  const patch = {
    metadata: { resourceVersion: rollout.metadata.resourceVersion },
    status: { [statusKey]: { currentStepState: 'StepReady' } },
  };
  await client.mergePatch(refOfRollout(rollout), patch, 'status', FIELD_MANAGER);
  return `${name}: step ${sub?.currentStepIndex}/${steps} approved`;
}

/** Asks the reconciler to roll the release back (the abort annotation). */
export async function requestAbort(client: KubeClient, rollout: RolloutObject): Promise<string> {
  if (!releasing(rollout)) throw new ControlError(`${rollout.metadata.name} has no release in progress`);
  const patch = { metadata: { annotations: { [ANNOTATIONS.abort]: new Date().toISOString() } } };
  await client.mergePatch(refOfRollout(rollout), patch, undefined, FIELD_MANAGER);
  return `${rollout.metadata.name}: abort requested; the reconciler rolls it back`;
}

/** Puts the workload's template back to the stable revision; admission and the reconciler then cancel the release. */
export async function undo(client: KubeClient, rollout: RolloutObject): Promise<string> {
  const stable = subStatusOf(rollout)?.stableRevision;
  const name = rollout.metadata.name;
  if (!releasing(rollout) || !stable) throw new ControlError(`${name} has no release in progress to undo`);
  const namespace = rollout.metadata.namespace;
  const { apiVersion, kind, name: workloadName } = rollout.spec.workloadRef;
  const ref = { apiVersion, kind, name: workloadName, namespace };
  const workload = await client.get<Workload>(ref);
  if (!workload) throw new ControlError(`${kind}/${namespace}/${workloadName} not found`);
  const stableSet = stableReplicaSet(await ownedReplicaSets(client, workload), { revision: stable });
  if (!stableSet) throw new ControlError(`the stable revision ${stable} of ${workloadName} has no ReplicaSet any more`);
  if (templateHash(stableSet.spec.template) === templateHash(workload.spec.template)) {
    throw new ControlError(`${workloadName} is already at its stable revision`);
  }
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: workload.metadata.resourceVersion },
    { op: 'replace', path: '/spec/template', value: comparableTemplate(stableSet.spec.template) },
  ];
  try {
    await client.jsonPatch(ref, ops, FIELD_MANAGER);
  } catch (e) {
    if (e instanceof KubeApiError) throw new ControlError(`cannot undo ${workloadName}: ${e.message}`);
    throw e;
  }
  return `${kind}/${workloadName}: template back at ${stable}; the release is being rolled back`;
}
