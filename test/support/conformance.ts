/**
 * Releases as a deployer and an operator run them, for either engine: an example synthesized, applied with kubectl,
 * given a new image, and driven to the end with OpenKruise's approval patch. Shared by the tests that run the
 * kruise engine under the real Kruise controller and the one that compares both engines.
 */
import { readFileSync } from 'node:fs';
import { loadApps } from '../../src/appspec/load.js';
import type { Engine } from '../../src/appspec/types.js';
import { KubeApiError, type KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { refOf } from '../../src/reconciler/actions.js';
import type { Pod, Workload } from '../../src/reconciler/observed.js';
import { stepPause } from '../../src/plan/plan.js';
import { type RolloutObject, type RolloutStep, strategyOf, subStatusOf } from '../../src/reconciler/types.js';
import { renderApp } from '../../src/render/app.js';
import { toYaml } from '../../src/render/synth.js';
import { eventually, inNamespace } from './kube.js';
import { ROOT } from './paths.js';
import { kubectl } from './processes.js';

/**
 * One app of the examples (its layers, in order), optionally edited: as text, so it goes through loading like a
 * user's file.
 */
export interface Scenario {
  readonly name: string;
  readonly files: readonly string[];
  readonly edit?: (text: string) => string;
}

/** The app of a scenario, synthesized for `engine` into `namespace`. */
export function synthesize(scenario: Scenario, engine: Engine, namespace: string): KubeObject[] {
  const sources = scenario.files.map((file) => {
    const text = readFileSync(`${ROOT}${file}`, 'utf8');
    return { file, text: scenario.edit?.(text) ?? text };
  });
  return synthesizeSources(sources, engine, namespace);
}

/** The app in `sources` (its layers, in order), synthesized for `engine` into `namespace`. */
export function synthesizeSources(
  sources: readonly { file: string; text: string }[],
  engine: Engine,
  namespace: string,
): KubeObject[] {
  const { apps, issues } = loadApps(sources);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new Error(`${sources.map((s) => s.file)}: ${JSON.stringify(errors)}`);
  return inNamespace(renderApp(apps[0]!.app, engine), namespace);
}

/** The same objects with the workload's first container on `image`: the next version. */
export function withImage(objects: readonly KubeObject[], image: string): KubeObject[] {
  return objects.map((o) => {
    if (!isWorkload(o)) return o;
    const next = structuredClone(o) as Workload;
    (next.spec.template.spec as unknown as PodSpec).containers[0]!.image = image;
    return next;
  });
}

interface PodSpec {
  containers: { image: string }[];
}
/** The image of a pod's first container. */
export const imageOf = (pod: Pod) => (pod.spec as PodSpec | undefined)?.containers[0]?.image;
/** The image of the first container of a workload's or ReplicaSet's pod template. */
export const templateImageOf = (w: Workload) => (w.spec.template.spec as unknown as PodSpec).containers[0]?.image;

export const isWorkload = (o: KubeObject) => o.kind === 'Deployment' || o.kind === 'StatefulSet';
export const workloadOf = (objects: readonly KubeObject[]) => objects.find(isWorkload) as Workload;
export const rolloutOf = (objects: readonly KubeObject[]) => objects.find((o) => o.kind === 'Rollout') as RolloutObject;

/** `kubectl apply --server-side --force-conflicts` of the objects, as a GitOps tool applies them. */
export async function kubectlApply(kubeconfig: string, objects: readonly KubeObject[]): Promise<void> {
  const r = await kubectl(kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', '-'], toYaml(objects));
  if (r.status !== 0) throw new Error(`kubectl apply failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

const KRUISE_WORKLOAD_TYPE_LABEL = 'rollouts.kruise.io/workload-type';

/**
 * The app's workload has every replica Ready and its Rollout is Healthy. Under Kruise, also labelled by Kruise's
 * controller: its webhook sees only workloads it has labelled, so a change made before would roll unprotected.
 */
export async function deployed(client: KubeClient, objects: readonly KubeObject[], timeoutMs = 60_000) {
  const workload = workloadOf(objects);
  const rollout = rolloutOf(objects);
  const kruise = rollout.apiVersion.startsWith('rollouts.kruise.io/');
  await eventually(
    `${workload.kind} ${workload.metadata.name}: ${workload.spec.replicas} Ready, its Rollout Healthy`,
    async () => {
      const [w, r] = await Promise.all([
        client.get<Workload>(refOf(workload)),
        client.get<RolloutObject>(refOf(rollout)),
      ]);
      return (
        w?.status?.readyReplicas === workload.spec.replicas &&
        r?.status?.phase === 'Healthy' &&
        (!kruise || w?.metadata.labels?.[KRUISE_WORKLOAD_TYPE_LABEL] !== undefined)
      );
    },
    timeoutMs,
  );
}

/** Where a release stands: its phase, step and step state (`done` once it has succeeded). */
export interface Position {
  readonly done: boolean;
  readonly step: number;
  readonly state: string;
  readonly rollout: RolloutObject;
}

export async function positionOf(client: KubeClient, rollout: RolloutObject): Promise<Position> {
  return positionIn((await client.get<RolloutObject>(refOf(rollout)))!);
}

/** Where the release of a Rollout, as read, stands. */
export function positionIn(r: RolloutObject): Position {
  const sub = subStatusOf(r);
  const succeeded = r.status?.conditions?.some((c) => c.type === 'Succeeded' && c.status === 'True') ?? false;
  return {
    done: r.status?.phase === 'Healthy' && succeeded,
    step: sub?.currentStepIndex ?? 0,
    state: sub?.currentStepState ?? '',
    rollout: r,
  };
}

/** The steps that wait for a person, by OpenKruise's rules (a canary's last step at 100% does not). */
export function manualSteps(rollout: RolloutObject): number[] {
  const { kind, body } = strategyOf(rollout);
  const last = body.steps.length;
  const manual = (s: RolloutStep, index: number) =>
    stepPause(kind, s.pause?.duration, s.replicas, index === last).kind === 'manual';
  return body.steps.flatMap((s, i) => (manual(s, i + 1) ? [i + 1] : []));
}

/**
 * The release's progress has stopped, completed or cancelled: phase Healthy, Progressing False. A cancelled
 * release still shows the step it was cancelled at, as OpenKruise's status does.
 */
export const releaseEnded = (p: Position) =>
  p.rollout.status?.phase === 'Healthy' &&
  (p.rollout.status.conditions?.some((c) => c.type === 'Progressing' && c.status === 'False') ?? false);

/** The release waits for a person where it stands. */
export function awaitsApproval(p: Position): boolean {
  return !p.done && p.state === 'StepPaused' && manualSteps(p.rollout).includes(p.step);
}

/**
 * Approves the paused step with kubectl-kruise's patch. Kruise writes its status by overwriting the whole status
 * with what it decided from an earlier read, so an approval landing just after a pause began can be lost: callers
 * approve again while the step is still seen paused. The patch is conditional on the version read, so it never
 * lands on a later step.
 */
export async function approve(client: KubeClient, p: Position): Promise<void> {
  const patch = {
    metadata: { resourceVersion: p.rollout.metadata.resourceVersion },
    status: { [strategyOf(p.rollout).statusKey]: { currentStepState: 'StepReady' } },
  };
  await client.mergePatch(refOf(p.rollout), patch, 'status', 'test').catch((e: unknown) => {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  });
}

/** Approves the pause `p` until the release has moved past it (Kruise may overwrite an early approval). */
export async function approveUntilMoved(client: KubeClient, p: Position): Promise<void> {
  await eventually(`step ${p.step} approved`, async () => {
    const now = await positionOf(client, p.rollout);
    if (now.step !== p.step || !awaitsApproval(now)) return true;
    await approve(client, now);
    return undefined;
  });
}

/**
 * Drives a started release to its end: approves each pause that waits for a person, lets timed pauses run out.
 * Returns the steps approved, in order (each once, however often a lost approval was sent again).
 */
export async function releaseToEnd(client: KubeClient, rollout: RolloutObject, timeoutMs: number): Promise<number[]> {
  const approved: number[] = [];
  await eventually(
    `${rollout.kind} ${rollout.metadata.namespace}/${rollout.metadata.name} to succeed`,
    async () => {
      const p = await positionOf(client, rollout);
      if (awaitsApproval(p)) {
        await approve(client, p);
        if (approved.at(-1) !== p.step) approved.push(p.step);
      }
      return p.done;
    },
    timeoutMs,
  );
  return approved;
}
