import { admit, AdmissionError, governanceOf, governingRolloutName, type StableVersion } from '../apply/admit.js';
import { describeObject, RECONCILER_MANAGER } from '../k8s/client.js';
import type { Workload } from '../reconciler/observed.js';
import type { RolloutObject } from '../reconciler/types.js';
import type { KubeObject } from '../k8s/objects.js';
import { jsonPatch } from './json-patch.js';

/** The parts of an `admission.k8s.io/v1` AdmissionRequest the webhook reads. */
export interface AdmissionRequestBody {
  uid: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  /** CreateOptions, UpdateOptions or PatchOptions: who writes (`fieldManager`). */
  options?: { fieldManager?: string };
}

export interface AdmissionResponseBody {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** Base64 of the JSON patch. */
  patch?: string;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
}

/** Where the webhook reads the Rollout and the workload's stable version (the controller's cache). */
export interface AdmissionLookup {
  rollout(namespace: string, name: string): Promise<RolloutObject | undefined>;
  stableVersion(workload: Workload): Promise<StableVersion>;
}

/**
 * The admission webhook's answer to one write of a governed object: exactly the decision `stepwise apply`
 * makes before it writes (`admit`), returned as a JSON patch; a refusal with the commands that end the
 * release. The reconciler's own writes pass untouched: it is the Rollout acting.
 */
export async function review(request: AdmissionRequestBody, lookup: AdmissionLookup): Promise<AdmissionResponseBody> {
  const allowed: AdmissionResponseBody = { uid: request.uid, allowed: true };
  const { object, oldObject } = request;
  if (request.operation !== 'UPDATE' || !object || !oldObject || request.options?.fieldManager === RECONCILER_MANAGER)
    return allowed;
  const rolloutName = governingRolloutName(oldObject) ?? governingRolloutName(object);
  const namespace = object.metadata.namespace ?? request.namespace ?? 'default';
  const rollout = rolloutName ? await lookup.rollout(namespace, rolloutName) : undefined;
  if (!rollout) return allowed;
  const governance = governanceOf(rollout);
  const isWorkload =
    oldObject.kind === governance.workload.kind && oldObject.metadata.name === governance.workload.name;
  const stable = isWorkload ? await lookup.stableVersion(oldObject as Workload) : {};
  try {
    const admission = admit({ desired: object, defaulted: object, live: oldObject }, governance, stable);
    const ops = jsonPatch(object, admission.object);
    const warnings = [
      ...(admission.release
        ? [
            `stepwise: ${describeObject(object)} is a new version: Rollout ${rollout.metadata.name} releases it ` +
              `step by step`,
          ]
        : []),
      ...(admission.rollback
        ? [
            `stepwise: ${describeObject(object)} is back at its stable version: Rollout ${rollout.metadata.name} ` +
              `rolls the release back`,
          ]
        : []),
    ];
    return {
      ...allowed,
      ...(ops.length
        ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(ops)).toString('base64') }
        : {}),
      ...(warnings.length ? { warnings } : {}),
    };
  } catch (e) {
    if (!(e instanceof AdmissionError)) throw e;
    return { uid: request.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: e.message } };
  }
}
