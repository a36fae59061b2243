import type { Action } from './actions.js';
import { POLL_MS, type PassContext } from './steps.js';
import {
  pinStableService,
  releaseCanaryService,
  routesToCanary,
  routeToStable,
  routeTraffic,
  unpinStableService,
} from './traffic.js';
import type { FinalisingStep, StrategyKind } from './types.js';
import { releaseWorkload, resumeWorkload, workloadSettled } from './workload.js';

export type Stage = Exclude<FinalisingStep, '' | 'END'>;

/**
 * OpenKruise's finalising orders (`nextCanaryTask` / `nextBlueGreenTask`), but a canary's success: Kruise unpins
 * the stable Service and routes traffic back to it before the workload has rolled, so requests go to the old
 * version again for seconds after the new one had them all. Here the new version takes all the traffic first,
 * the workload rolls behind a stable Service still pinned to the old version (which then has none), and only once
 * every old pod is gone is the Service unpinned and the traffic routed back to it: a version that reached 0% never
 * gets traffic again, and the new one never less than its last weight.
 */
export const FINALISING: Record<StrategyKind, Record<'success' | 'rollback', FinalisingStep[]>> = {
  canary: {
    success: [
      'FinalisingStepRouteTrafficToNew',
      'ResumeWorkload',
      'RestoreStableService',
      'FinalisingStepRouteTrafficToStable',
      'RemoveCanaryService',
      'ReleaseWorkloadControl',
      'END',
    ],
    rollback: [
      'FinalisingStepRouteTrafficToStable',
      'ResumeWorkload',
      'ReleaseWorkloadControl',
      'RestoreStableService',
      'RemoveCanaryService',
      'END',
    ],
  },
  blueGreen: {
    success: [
      'FinalisingStepRouteTrafficToNew',
      'RestoreStableService',
      'ResumeWorkload',
      'FinalisingStepRouteTrafficToStable',
      'RemoveCanaryService',
      'ReleaseWorkloadControl',
      'END',
    ],
    rollback: [
      'FinalisingStepRouteTrafficToStable',
      'ResumeWorkload',
      'RestoreStableService',
      'RemoveCanaryService',
      'ReleaseWorkloadControl',
      'END',
    ],
  },
};

/**
 * What a finalising stage does: its writes (after which the pass looks again in `requeueAfterMs`, by default
 * after the grace period), or what it still waits for; a stage with neither is done once the grace period since
 * the last change has passed.
 */
export interface StageOutcome {
  actions: Action[];
  requeueAfterMs?: number;
  /** What the stage waits for before it is done, in words. */
  waiting?: string;
}

type StageHandler = (ctx: PassContext, rollback: boolean) => StageOutcome;

export const STAGE_HANDLERS: Record<Stage, StageHandler> = {
  // Only a route that already reaches the new version takes it all; never one restored to stable since.
  FinalisingStepRouteTrafficToNew: ({ o, strategy: { routing }, release }) => ({
    actions:
      routing && release.newReadyPods > 0 && routesToCanary(o, routing)
        ? routeTraffic(o, routing, { weight: 100 })
        : [],
  }),
  // On rollback the stable Service is pinned again too, should a deployer's write have unpinned it meanwhile:
  // it must not send traffic to the new pods before they are gone.
  FinalisingStepRouteTrafficToStable: ({ o, strategy: { routing }, release }, rollback) => ({
    actions: routing
      ? [...routeToStable(o, routing), ...(rollback && release.newPods.length ? pinStableService(o, release) : [])]
      : [],
  }),
  RestoreStableService: ({ o, release }) => ({ actions: unpinStableService(o, release) }),
  RemoveCanaryService: ({ o, release }) => ({ actions: releaseCanaryService(o, release) }),
  // The workload's own controller takes over; its rolling update is waited for, checking between watch events.
  ResumeWorkload: ({ o, release, style }, rollback) => ({
    actions: resumeWorkload(o, release, style, rollback),
    requeueAfterMs: POLL_MS,
    ...(workloadSettled(o) ? {} : { waiting: `waiting for ${o.workload.metadata.name} to finish rolling` }),
  }),
  ReleaseWorkloadControl: ({ o }) => ({ actions: releaseWorkload(o) }),
};

export function finalisingMessage(stage: FinalisingStep, rollback: boolean): string {
  const doing = rollback ? 'is rolling back' : 'has been completed and some closing work is being done';
  return `Rollout ${doing} (${stage})`;
}
