import { isDeepStrictEqual } from 'node:util';
import type { CommandModule } from 'yargs';
import { describeObject, KubeApiError, type KubeClient } from '../../k8s/client.js';
import { admitWorkload, AdmissionError } from '../../reconciler/admit.js';
import { LABELS, templateHash, type Workload } from '../../reconciler/observed.js';
import { ownedReplicaSets } from '../../reconciler/observe.js';
import { refOf } from '../../reconciler/actions.js';
import { renderApp } from '../../render/app.js';
import type { NormalizedApp } from '../../spec/normalize.js';
import type { KubeObject } from '../../traffic/objects.js';
import { CliError, fileOption, loadFromFiles } from '../io.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface ApplyArgs extends ClusterArgs {
  file: string[];
}

/** What writing an object changes, in kubectl's words. */
export type Change = 'created' | 'configured' | 'unchanged';

export interface PlannedObject {
  object: KubeObject;
  change: Change;
}

/** An object that is already as server-side apply would leave it is not written again. */
const changeOf = (applied: KubeObject, live: KubeObject | undefined): Change =>
  !live ? 'created' : isDeepStrictEqual(applied, live) ? 'unchanged' : 'configured';

/**
 * Server-side dry run of each object, compared with what the cluster holds; all at once, so that a rejected
 * object fails the plan before anything is written.
 */
export async function planObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<PlannedObject[]> {
  return Promise.all(objects.map(async (object) => {
    const [applied, live] = await Promise.all([dryRun(client, object), current(client, object)]);
    return { object, change: changeOf(applied, live) };
  }));
}

/** Runs the planning half of a command: a refusal from the server or from admission becomes the CLI's error. */
export async function beforeAnyWrite<T>(plan: () => Promise<T>): Promise<T> {
  try {
    return await plan();
  } catch (e) {
    if (e instanceof KubeApiError || e instanceof AdmissionError) throw new CliError(`${e.message}\nnothing was applied`);
    throw e;
  }
}

/** Writes the planned objects that change, all at once. */
export async function writeChanged(client: KubeClient, planned: readonly PlannedObject[]): Promise<void> {
  await Promise.all(planned.filter((p) => p.change !== 'unchanged').map((p) => client.apply(p.object, { force: true })));
}

const dryRun = <T extends KubeObject>(client: KubeClient, object: T) => client.apply<T>(object, { dryRun: true, force: true });
const current = <T extends KubeObject>(client: KubeClient, object: T) => client.get<T>(refOf(object));

/**
 * The objects of one app, ready to write: the workload last (so its Rollout already exists when a release
 * starts), and admitted so that a new template starts a release under the Rollout's control. Each is dry-run
 * first and compared with what the cluster holds.
 */
export async function planApply(client: KubeClient, app: NormalizedApp, namespace?: string): Promise<{ objects: PlannedObject[]; release: boolean; rollback: boolean }> {
  const rendered = renderApp(app).map((o) => (namespace ? { ...o, metadata: { ...o.metadata, namespace } } : o));
  const [workload, ...rest] = rendered as [Workload, ...KubeObject[]];
  // Server-side dry run of everything first, all at once: a rejected object means nothing is written.
  const [defaulted, live, others] = await Promise.all([dryRun(client, workload), current(client, workload), planObjects(client, rest)]);
  let stableRevision: string | undefined;
  let stableTemplateHash: string | undefined;
  if (live && workload.kind === 'StatefulSet') stableRevision = live.metadata.labels?.[LABELS.stableRevision] ?? live.status?.currentRevision;
  if (live && workload.kind === 'Deployment') {
    const sets = await ownedReplicaSets(client, live);
    const labelled = live.metadata.labels?.[LABELS.stableRevision];
    const stable = sets.find((rs) => rs.metadata.labels?.['pod-template-hash'] === labelled) ?? sets.find((rs) => templateHash(rs.spec.template) === templateHash(live.spec.template));
    stableRevision = stable?.metadata.labels?.['pod-template-hash'];
    stableTemplateHash = stable ? templateHash(stable.spec.template) : undefined;
  }
  const admission = admitWorkload({ desired: workload, defaulted, ...(live ? { live } : {}), rolloutName: app.name, ...(stableRevision ? { stableRevision } : {}), ...(stableTemplateHash ? { stableTemplateHash } : {}) });
  // A release or a rollback changes the workload for certain. Control fields kept during a release make the
  // object one the first dry run did not see: only then is it dry-run again (one round trip more).
  const change = admission.release || admission.rollback ? 'configured'
    : changeOf(admission.object === workload ? defaulted : await dryRun(client, admission.object), live);
  return { objects: [...others, { object: admission.object, change }], release: admission.release, rollback: admission.rollback };
}

/** Writes what `planApply` planned and found changed: everything but the workload at once, then the workload. */
export async function applyPlanned(client: KubeClient, planned: readonly PlannedObject[]): Promise<void> {
  await writeChanged(client, planned.slice(0, -1));
  await writeChanged(client, planned.slice(-1));
}

export const applyCommand: CommandModule<object, ApplyArgs> = {
  command: 'apply',
  describe: 'Apply apps to the cluster with server-side apply; a new version of a workload starts its release',
  builder: (y) => y
    .option('file', fileOption)
    .options(clusterOptions)
    .example('$0 apply -f examples/blue-green.yaml', 'Apply; if the image changed, the release waits at step 1 for `stepwise run`')
    .example('$0 apply -f base.yaml -f prod.yaml -n shop', 'Apply the unified layers into namespace shop'),
  handler: async (args) => {
    const apps = loadFromFiles(args.file);
    const { client } = connect(args);
    const planned = [];
    for (const { app } of apps) planned.push({ app, ...(await beforeAnyWrite(() => planApply(client, app, args.namespace))) });
    for (const { app, objects, release, rollback } of planned) {
      await applyPlanned(client, objects);
      for (const { object, change } of objects) process.stdout.write(`${describeObject(object)} ${change}\n`);
      if (release) process.stdout.write(`${app.name}: release started (${app.rollout.strategy}, ${app.rollout.steps.length} steps); drive it with \`stepwise run ${app.name} -n ${objects[0]!.object.metadata.namespace}\` or a running \`stepwise controller\`\n`);
      if (rollback) process.stdout.write(`${app.name}: back at the stable version; the release is being rolled back\n`);
    }
  },
};
