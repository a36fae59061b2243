import { isDeepStrictEqual } from 'node:util';
import { KubeApiError, type KubeClient } from '../k8s/client.js';
import { refOf } from '../reconciler/actions.js';
import type { Workload } from '../reconciler/observed.js';
import type { RolloutObject } from '../reconciler/types.js';
import { BUILTIN_API_VERSION } from '../engines/builtin.js';
import { renderApp } from '../render/app.js';
import type { NormalizedApp } from '../appspec/normalize.js';
import type { KubeObject } from '../k8s/objects.js';
import { admit, AdmissionError, governanceOf, stableVersion, type Governance } from './admit.js';

/** What writing an object changes, in kubectl's words. */
export type Change = 'created' | 'configured' | 'unchanged';

export interface PlannedObject {
  object: KubeObject;
  change: Change;
}

/** The objects of one app, admitted and compared with the cluster, ready to write. */
export interface AppPlan {
  /** Everything but the workload first, the workload last (so its Rollout exists when a release starts). */
  objects: PlannedObject[];
  /** Writing the workload starts a release. */
  release: boolean;
  /** Writing the workload rolls a running release back to its stable version. */
  rollback: boolean;
}

/** A planning failure: the server refused a dry run, or admission refused a write. Nothing was written. */
export class PlanError extends Error {}

/**
 * An object that is already as server-side apply would leave it is not written again. Who manages which field
 * does not count: a write that would only take fields over (the selector a release pinned) changes nothing.
 */
const changeOf = (applied: KubeObject, live: KubeObject | undefined): Change =>
  !live ? 'created' : isDeepStrictEqual(withoutManagers(applied), withoutManagers(live)) ? 'unchanged' : 'configured';

const withoutManagers = ({ metadata: { managedFields: _managers, ...metadata }, ...rest }: KubeObject): KubeObject => ({
  ...rest,
  metadata,
});

const dryRun = <T extends KubeObject>(client: KubeClient, object: KubeObject) =>
  client.apply<T>(object, { dryRun: true, force: true });
const current = <T extends KubeObject>(client: KubeClient, object: KubeObject) => client.get<T>(refOf(object));

/**
 * Server-side dry run of each object, compared with what the cluster holds; all at once, so that a rejected
 * object fails the plan before anything is written.
 */
export async function planObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<PlannedObject[]> {
  return beforeAnyWrite(() => Promise.all(objects.map((object) => planObject(client, object))));
}

/**
 * One object: dry-run, compared with the cluster, and admitted when a Rollout governs it. A release or a
 * rollback changes the workload for certain; an admitted object that differs from the one dry-run (control
 * fields kept during a release) is dry-run again to tell whether it changes anything.
 */
async function planObject(client: KubeClient, object: KubeObject, governance?: Governance) {
  const [defaulted, live] = await Promise.all([dryRun(client, object), current(client, object)]);
  const workload =
    governance && live && object.kind === governance.workload.kind && object.metadata.name === governance.workload.name;
  const stable = workload ? await stableVersion(client, live as Workload) : {};
  const admission = admit({ desired: object, defaulted, ...(live ? { live } : {}) }, governance, stable);
  const change: Change =
    admission.release || admission.rollback
      ? 'configured'
      : changeOf(admission.object === object ? defaulted : await dryRun(client, admission.object), live);
  return { object: admission.object, change, release: admission.release, rollback: admission.rollback };
}

/** Plans the objects of one app (see `AppPlan`); `namespace` overrides the app's. */
export async function planApply(client: KubeClient, app: NormalizedApp, namespace?: string): Promise<AppPlan> {
  const inNamespace = (o: KubeObject) => (namespace ? { ...o, metadata: { ...o.metadata, namespace } } : o);
  const [workload, ...rest] = renderApp(app).map(inNamespace) as [KubeObject, ...KubeObject[]];
  const rollout = rest.find((o) => o.kind === 'Rollout' && o.apiVersion === BUILTIN_API_VERSION);
  const governance = rollout ? governanceOf(rollout as RolloutObject) : undefined;
  const [planned, others] = await beforeAnyWrite(() =>
    Promise.all([
      planObject(client, workload, governance),
      Promise.all(rest.map((o) => planObject(client, o, governance))),
    ]),
  );
  return {
    objects: [...others, planned].map(({ object, change }) => ({ object, change })),
    release: planned.release,
    rollback: planned.rollback,
  };
}

/** Writes the planned objects that change, all at once. */
export async function writeChanged(client: KubeClient, planned: readonly PlannedObject[]): Promise<void> {
  const changed = planned.filter((p) => p.change !== 'unchanged');
  await Promise.all(changed.map((p) => client.apply(p.object, { force: true })));
}

/** Writes what `planApply` planned and found changed: everything but the workload at once, then the workload. */
export async function applyPlanned(client: KubeClient, planned: readonly PlannedObject[]): Promise<void> {
  await writeChanged(client, planned.slice(0, -1));
  await writeChanged(client, planned.slice(-1));
}

/** Runs the planning half of a write: a refusal from the server or from admission becomes a `PlanError`. */
async function beforeAnyWrite<T>(plan: () => Promise<T>): Promise<T> {
  try {
    return await plan();
  } catch (e) {
    if (e instanceof KubeApiError || e instanceof AdmissionError)
      throw new PlanError(`${e.message}\nnothing was applied`);
    throw e;
  }
}
