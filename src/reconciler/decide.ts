import { createHash } from 'node:crypto';
import { stepPause } from '../plan/plan.js';
import { parsePercent } from '../appspec/values.js';
import { isBatchReady, stepPods } from '../plan/replicas.js';
import type { RollingStyle } from '../appspec/normalize.js';
import { validateRolloutSpec } from '../engines/validate-rollout.js';
import { refOf, type Action } from './actions.js';
import { nextStepIndex, recalculateStep, stepJump } from './jump.js';
import { ANNOTATIONS, LABELS, templateHash, view, type Observed, type View } from './observed.js';
import {
  ensureCanaryService,
  pinStableService,
  releaseCanaryService,
  routesToCanary,
  routeToStable,
  routeTraffic,
  unpinStableService,
  type Routing,
} from './traffic.js';
import type {
  Condition,
  FinalisingStep,
  Phase,
  RolloutStatus,
  RolloutStep,
  StrategyBody,
  SubStatus,
  TrafficRouting,
} from './types.js';
import {
  holdWorkload,
  labelBatch,
  labelGoverned,
  releaseWorkload,
  resumeWorkload,
  upgradeWorkload,
  workloadSettled,
} from './workload.js';

export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What one reconcile pass decided: the status to write after `actions` succeed, and when to look again. */
export interface Decision {
  status: RolloutStatus;
  actions: Action[];
  /** Look again after this long even if nothing changes (pauses, grace periods, pods coming up). */
  requeueAfterMs?: number;
  events: RolloutEvent[];
}

/** OpenKruise's finalising orders (`nextCanaryTask` / `nextBlueGreenTask`). */
export const FINALISING: Record<'canary' | 'blueGreen', Record<'success' | 'rollback', FinalisingStep[]>> = {
  canary: {
    success: [
      'RestoreStableService',
      'FinalisingStepRouteTrafficToStable',
      'RemoveCanaryService',
      'ResumeWorkload',
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

/** Re-checks for pods coming up and workloads settling, between watch events. */
const POLL_MS = 1000;

/** Hash of what decides pod counts and routing: steps without pauses, and the failure threshold (as OpenKruise). */
export function planHash(body: StrategyBody): string {
  const steps = body.steps.map(({ pause: _pause, ...rest }) => rest);
  return createHash('sha256')
    .update(JSON.stringify({ steps, failureThreshold: body.failureThreshold ?? null }))
    .digest('hex')
    .slice(0, 16);
}

function setCondition(
  conditions: Condition[],
  type: Condition['type'],
  status: Condition['status'],
  reason: string,
  message: string,
  now: string,
): Condition[] {
  const existing = conditions.find((c) => c.type === type);
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastUpdateTime:
      existing && existing.reason === reason && existing.status === status ? existing.lastUpdateTime : now,
    lastTransitionTime: existing && existing.status === status ? existing.lastTransitionTime : now,
  };
  return [...conditions.filter((c) => c.type !== type), next];
}

const seconds = (from: string | undefined, now: Date) => (from ? (now.getTime() - Date.parse(from)) / 1000 : Infinity);

/**
 * One reconcile pass, as a pure function of what was observed: the state machine of OpenKruise Rollouts
 * (BeforeStepUpgrade → StepUpgrade → StepTrafficRouting → StepMetricsAnalysis → StepPaused → StepReady, then
 * Completed and the finalising order), with rollback on undo, abort or a missed progress deadline.
 */
export function decide(o: Observed): Decision {
  const rollout = o.rollout;
  const now = o.now.toISOString();
  const status: RolloutStatus = structuredClone(rollout.status ?? {});
  status.observedGeneration = rollout.metadata.generation as number | undefined;
  const events: RolloutEvent[] = [];
  const actions: Action[] = [];
  const body = (rollout.spec.strategy.canary ?? rollout.spec.strategy.blueGreen)!;
  const key = rollout.spec.strategy.blueGreen ? 'blueGreenStatus' : 'canaryStatus';
  const strategy = rollout.spec.strategy.blueGreen ? 'blueGreen' : 'canary';
  const style: RollingStyle =
    strategy === 'blueGreen' ? 'blueGreen' : rollout.spec.workloadRef.kind === 'StatefulSet' ? 'partition' : 'canary';
  const routing: TrafficRouting | undefined = body.trafficRoutings?.[0];
  const graceMs = (routing?.gracePeriodSeconds ?? 3) * 1000;
  const previous = { phase: status.phase, index: status[key]?.currentStepIndex, state: status[key]?.currentStepState };
  const done = (requeueAfterMs?: number): Decision => {
    const sub = status[key];
    if (sub) {
      status.currentStepIndex = sub.currentStepIndex;
      status.currentStepState = sub.currentStepState;
      status.message = sub.message ?? status.message;
    }
    // An Event per phase, per step reached and per pause; the stages in between are in the status message.
    if (status.phase !== previous.phase)
      events.push({ type: 'Normal', reason: `Rollout${status.phase}`, message: status.message ?? '' });
    else if (
      sub &&
      (sub.currentStepIndex !== previous.index ||
        (sub.currentStepState === 'StepPaused' && previous.state !== 'StepPaused'))
    ) {
      events.push({ type: 'Normal', reason: sub.currentStepState, message: sub.message ?? '' });
    }
    return {
      status,
      actions,
      events,
      ...(requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(0, Math.ceil(requeueAfterMs)) } : {}),
    };
  };
  const setPhase = (phase: Phase, message: string) => {
    status.phase = phase;
    status.message = message;
  };

  const problems = validateRolloutSpec(rollout.spec).filter((p) => p.severity !== 'warning');
  if (problems.length) {
    status.message = `invalid spec: ${problems.map((p) => `${p.pointer.replace('/spec/', '').replaceAll('/', '.')}: ${p.message}`).join('; ')}`;
    status.phase ??= 'Initial';
    if (rollout.status?.message !== status.message)
      events.push({ type: 'Warning', reason: 'InvalidSpec', message: status.message });
    return { status, actions, events };
  }
  if (!o.workload) {
    setPhase('Initial', 'Workload Not Found');
    return done();
  }

  let sub = status[key];
  const steps = body.steps;
  const v = view(o, sub?.canaryRevision ?? '')!;

  // Not releasing: healthy, with the sub-status OpenKruise synthesizes so that clients can poll uniformly.
  if (status.phase !== 'Progressing') {
    if (!v.inProgress) {
      status.stableTemplateHash ??= v.templateHash;
      if (v.templateHash !== status.stableTemplateHash) return takeControl();
      status.conditions = (status.conditions ?? []).filter((c) => c.type !== 'Progressing' || c.status === 'False');
      if (!sub) {
        sub = status[key] = {
          podTemplateHash: '',
          canaryRevision: v.templateHash,
          canaryReplicas: 0,
          canaryReadyReplicas: 0,
          currentStepIndex: steps.length,
          nextStepIndex: -1,
          currentStepState: 'Completed',
          finalisingStep: '',
          observedRolloutID: v.rolloutId,
          message: 'workload is healthy',
          lastUpdateTime: now,
        };
      }
      actions.push(...labelGoverned(o));
      setPhase('Healthy', 'Rollout is healthy');
      return done();
    }
    status.conditions = (status.conditions ?? []).filter((c) => c.type !== 'Admitted');
    begin(1, view(o, v.templateHash)!.stableRevision);
  }
  sub = sub!;
  const cur = view(o, sub.canaryRevision)!;
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  const finalisingReason =
    progressing?.reason === 'Finalising' || progressing?.reason === 'Cancelling' ? progressing.reason : undefined;

  if (!finalisingReason) {
    const currentPods = stepPods(steps[sub.currentStepIndex - 1]?.replicas ?? '100%', cur.replicas, style !== 'canary');
    const rollbackWhy = rollbackReason(o, cur, sub, rollout.spec.progressDeadlineSeconds ?? 600, currentPods);
    if (rollbackWhy) {
      status.conditions = setCondition(status.conditions ?? [], 'Progressing', 'True', 'Cancelling', rollbackWhy, now);
      sub.finalisingStep = FINALISING[strategy === 'blueGreen' ? 'blueGreen' : 'canary'].rollback[0]!;
      sub.message = `Rollout is rolling back: ${rollbackWhy}`;
      sub.lastUpdateTime = now;
      events.push({ type: 'Warning', reason: 'RollingBack', message: rollbackWhy });
      return finalise(true);
    }
    if (cur.templateHash !== sub.canaryRevision) {
      if (style === 'blueGreen') {
        sub.message =
          'a new template arrived during a blue-green release: finish it (stepwise promote) or roll it back (stepwise undo) first';
        // Admission refuses a third version; one that bypassed it must not surge while the release waits.
        if (!o.workload.spec.paused) {
          actions.push({
            kind: 'merge',
            ref: refOf(o.workload),
            patch: { spec: { paused: true } },
            why: `pause ${o.workload.metadata.name}: a third version arrived without admission`,
          });
          events.push({ type: 'Warning', reason: 'AdmissionBypassed', message: sub.message });
        }
        return done();
      }
      // A newer version during a canary: traffic back to stable, then start over from step 1 with it.
      const back = routing ? routeToStable(o, routing) : [];
      actions.push(...back);
      Object.assign(sub, {
        canaryRevision: cur.templateHash,
        podTemplateHash: '',
        currentStepIndex: 1,
        nextStepIndex: nextStepIndex(1, steps.length),
        currentStepState: 'BeforeStepUpgrade',
        lastUpdateTime: now,
        canaryReplicas: 0,
        canaryReadyReplicas: 0,
        message: 'a new version arrived mid-release: starting over from step 1',
      });
      return done(graceMs);
    }
    if (rollout.spec.strategy.paused) {
      status.conditions = setCondition(
        status.conditions ?? [],
        'Progressing',
        'True',
        'Paused',
        'Rollout has been paused, you can resume it by kube-cli',
        now,
      );
      sub.message = `Rollout is paused at step(${sub.currentStepIndex}/${steps.length})`;
      return done();
    }
    if (progressing?.reason === 'Paused')
      status.conditions = setCondition(
        status.conditions ?? [],
        'Progressing',
        'True',
        'InRolling',
        'Rollout is in Progressing',
        now,
      );
    const jumped = stepJump(sub, steps, cur.replicas, now);
    if (jumped) Object.assign(sub, jumped);
    const hash = planHash(body);
    if (sub.rolloutHash !== hash) {
      const index = recalculateStep(steps, cur.replicas, sub.canaryReplicas, sub.currentStepIndex);
      sub.rolloutHash = hash;
      if (index === sub.nextStepIndex) sub.currentStepState = 'StepReady';
      else {
        sub.nextStepIndex = index;
        Object.assign(sub, stepJump(sub, steps, cur.replicas, now) ?? {});
      }
    }
    // Safety: traffic never stays on a version that has no Ready pod.
    if (routing && cur.newReadyPods === 0 && routesToCanary(o, routing)) {
      actions.push(...routeToStable(o, routing));
      events.push({
        type: 'Warning',
        reason: 'NoReadyPods',
        message: 'the new version has no Ready pod: all traffic back to the stable version',
      });
    }
    const restored = restoreRouting();
    if (restored.length) {
      actions.push(...restored);
      events.push({
        type: 'Warning',
        reason: 'TrafficRestored',
        message: `the step's routing was changed from outside: ${restored.map((a) => a.why).join('; ')}`,
      });
    }
    return runSteps();
  }
  return finalise(finalisingReason === 'Cancelling');

  /** A release of the workload's template starts at step `index` (1 unless it began without admission). */
  function begin(index: number, stableRevision: string | undefined): void {
    const message = `Rollout is in step(${index}/${steps.length}), and upgrade workload to new version`;
    sub = status[key] = {
      observedWorkloadGeneration: o.workload!.metadata.generation as number | undefined,
      observedRolloutID: view(o, v.templateHash)!.rolloutId,
      rolloutHash: planHash(body),
      ...(stableRevision ? { stableRevision } : {}),
      podTemplateHash: '',
      canaryRevision: v.templateHash,
      canaryReplicas: 0,
      canaryReadyReplicas: 0,
      currentStepIndex: index,
      nextStepIndex: nextStepIndex(index, steps.length),
      currentStepState: 'BeforeStepUpgrade',
      finalisingStep: '',
      lastUpdateTime: now,
      message,
    };
    const conditions = (status.conditions ?? []).filter((c) => c.type !== 'Succeeded');
    status.conditions = setCondition(conditions, 'Progressing', 'True', 'InRolling', 'Rollout is in Progressing', now);
    setPhase('Progressing', message);
  }

  /**
   * The template changed without admission (no webhook, or one that failed open): take the workload under
   * control as admission would have, and release from the step that covers the pods already updated.
   */
  function takeControl(): Decision {
    const w = o.workload!;
    // Until its controller has seen the new template, the workload's status still counts the old one.
    const updated =
      (w.status?.observedGeneration ?? 0) >= ((w.metadata.generation as number) ?? 0)
        ? (w.status?.updatedReplicas ?? 0)
        : 0;
    const stableRevision =
      w.kind === 'StatefulSet'
        ? w.status?.currentRevision !== w.status?.updateRevision
          ? w.status?.currentRevision
          : undefined
        : o.replicaSets.find((rs) => templateHash(rs.spec.template) === status.stableTemplateHash)?.metadata.labels?.[
            'pod-template-hash'
          ];
    actions.push(holdWorkload(o, stableRevision, updated));
    const index = recalculateStep(steps, v.replicas, updated);
    begin(index, stableRevision);
    const why =
      `${w.kind}/${w.metadata.name}'s pod template changed without passing Stepwise's admission ` +
      `(${updated} of ${v.replicas} pods already updated): the release took control at step ${index}/${steps.length}`;
    status.conditions = setCondition(status.conditions!, 'Admitted', 'False', 'AdmissionBypassed', why, now);
    events.push({ type: 'Warning', reason: 'AdmissionBypassed', message: why });
    return done(0);
  }

  /**
   * Where the current step's routing is in effect, a write from outside (a re-applied Service or route) may
   * have undone it: put it back. A route to new pods only while some are Ready (the safety above).
   */
  function restoreRouting(): Action[] {
    if (!routing || !['StepMetricsAnalysis', 'StepPaused', 'StepReady'].includes(sub!.currentStepState)) return [];
    const step = steps[sub!.currentStepIndex - 1]!;
    if (!routesStep(step)) return routeToStable(o, routing);
    return [
      ...pinStableService(o, cur),
      ...ensureCanaryService(o, cur, sub!.podTemplateHash),
      ...(cur.newReadyPods > 0 ? routeTraffic(o, routing, stepRouting(step)) : []),
    ];
  }

  function runSteps(): Decision {
    for (let guard = 0; guard < 16; guard++) {
      const index = sub!.currentStepIndex;
      const step: RolloutStep = steps[index - 1]!;
      const at = `Rollout is in step(${index}/${steps.length})`;
      const routes = routesStep(step);
      switch (sub!.currentStepState) {
        case 'BeforeStepUpgrade': {
          if (routing && routes) {
            const pin = pinStableService(o, cur);
            if (pin.length) return act(pin, `${at}, and pin the stable Service`);
          }
          advance('StepUpgrade', `${at}, and upgrade workload to new version`);
          break;
        }
        case 'StepUpgrade': {
          const desired = stepPods(step.replicas, cur.replicas, style !== 'canary');
          // With an unchanged template (a new rollout-id only) the pods are already the release's: relabel them.
          const upgrade = cur.sameTemplate && style !== 'partition' ? [] : upgradeWorkload(o, style, desired);
          if (upgrade.length) return act(upgrade, `${at}, and upgrade workload to new version`, POLL_MS);
          const labeled = cur.newPods.filter((p) => p.metadata.labels?.[LABELS.rolloutId] === cur.rolloutId).length;
          sub!.canaryReplicas = cur.newPods.length;
          sub!.canaryReadyReplicas = cur.newReadyPods;
          if (style === 'blueGreen') {
            sub!.updatedReplicas = cur.newPods.length;
            sub!.updatedReadyReplicas = cur.newReadyPods;
            if (cur.newRevision) sub!.updatedRevision = cur.newRevision;
          }
          const labels = labelBatch(cur, index, desired);
          if (
            !isBatchReady({
              desired,
              updated: cur.newPods.length,
              updatedReady: cur.newReadyPods,
              ...(body.failureThreshold !== undefined ? { failureThreshold: body.failureThreshold } : {}),
              labeled: labeled + labels.length,
            })
          ) {
            if (labels.length) return act(labels, `${at}, and label the new pods`, POLL_MS, false);
            sub!.message = `${at}, and wait for the new pods to be Ready (${cur.newReadyPods}/${desired} Ready)`;
            return done(POLL_MS);
          }
          // The batch is ready once labelled: the labels go out beside the next stage's writes.
          actions.push(...labels);
          sub!.podTemplateHash = cur.newRevision ?? '';
          advance('StepTrafficRouting', `${at}, and doing traffic routing`);
          break;
        }
        case 'StepTrafficRouting': {
          if (routing) {
            if (routes) {
              const services = [...ensureCanaryService(o, cur, sub!.podTemplateHash), ...pinStableService(o, cur)];
              if (services.length) return act(services, `${at}, and doing traffic routing`, graceMs);
            }
            if (!graceElapsed()) return done(remainingGraceMs());
            const sendsTraffic = (parsePercent(step.traffic) ?? 0) > 0 || (step.matches?.length ?? 0) > 0;
            if (sendsTraffic && cur.newReadyPods === 0) {
              sub!.message = `${at}, and wait for a Ready pod of the new version before routing traffic to it`;
              return done(POLL_MS);
            }
            const route = routes ? routeTraffic(o, routing, stepRouting(step)) : routeToStable(o, routing);
            if (route.length) return act(route, `${at}, and doing traffic routing`, graceMs);
          }
          advance('StepMetricsAnalysis', `${at}, and doing metrics analysis`);
          break;
        }
        case 'StepMetricsAnalysis':
          // Metric analysis arrives with its own issue; like OpenKruise today, the state passes straight through.
          advance('StepPaused', `${at}, and paused`);
          break;
        case 'StepPaused': {
          const pause = stepPause(strategy, step.pause?.duration, step.replicas, index === steps.length);
          if (pause.kind === 'manual') {
            sub!.message = `${at}, and you need manually confirm to enter the next step`;
            return done();
          }
          if (pause.kind === 'timed') {
            const left = pause.seconds - seconds(sub!.lastUpdateTime, o.now);
            if (left > 0) {
              sub!.message = `${at}, and wait duration(${pause.seconds} seconds) to enter the next step`;
              return done(left * 1000);
            }
          }
          advance('StepReady', `${at}, and ready to enter the next step`);
          break;
        }
        case 'StepReady': {
          if (index < steps.length) {
            sub!.currentStepIndex = index + 1;
            sub!.nextStepIndex = nextStepIndex(index + 1, steps.length);
            advance(
              'BeforeStepUpgrade',
              `Rollout is in step(${index + 1}/${steps.length}), and upgrade workload to new version`,
            );
          } else advance('Completed', 'Rollout has been completed and some closing work is being done');
          break;
        }
        case 'Completed': {
          status.conditions = setCondition(
            status.conditions ?? [],
            'Progressing',
            'True',
            'Finalising',
            'Rollout has been completed and some closing work is being done',
            now,
          );
          sub!.finalisingStep = FINALISING[strategy === 'blueGreen' ? 'blueGreen' : 'canary'].success[0]!;
          sub!.lastUpdateTime = now;
          return finalise(false);
        }
      }
    }
    return done(0);
  }

  function finalise(rollback: boolean): Decision {
    const order = FINALISING[strategy === 'blueGreen' ? 'blueGreen' : 'canary'][rollback ? 'rollback' : 'success'];
    for (let guard = 0; guard < order.length + 1; guard++) {
      const stage = sub!.finalisingStep || order[0]!;
      sub!.finalisingStep = stage;
      if (stage === 'END') {
        const message = rollback ? 'Rollout progressing has been canceled' : 'Rollout progressing has been completed';
        status.conditions = setCondition(status.conditions ?? [], 'Progressing', 'False', 'Completed', message, now);
        status.conditions = setCondition(
          status.conditions,
          'Succeeded',
          rollback ? 'False' : 'True',
          rollback ? 'Canceled' : 'Completed',
          message,
          now,
        );
        Object.assign(sub!, {
          currentStepState: 'Completed',
          nextStepIndex: -1,
          message,
          canaryReplicas: rollback ? 0 : sub!.canaryReplicas,
        });
        if (!rollback) {
          sub!.currentStepIndex = steps.length;
          status.stableTemplateHash = sub!.canaryRevision;
        }
        if (rollout.metadata.annotations?.[ANNOTATIONS.abort] !== undefined) {
          actions.push({
            kind: 'merge',
            ref: refOf(rollout),
            patch: { metadata: { annotations: { [ANNOTATIONS.abort]: null } } },
            why: 'clear the abort request',
          });
        }
        setPhase('Healthy', message);
        return done();
      }
      const stageActions = finalisingActions(stage, rollback);
      if (stageActions.length)
        return act(stageActions, finalisingMessage(stage, rollback), stage === 'ResumeWorkload' ? POLL_MS : graceMs);
      if (stage === 'ResumeWorkload' && !workloadSettled(o)) {
        sub!.message = `${finalisingMessage(stage, rollback)}: waiting for ${o.workload!.metadata.name} to finish rolling`;
        return done(POLL_MS);
      }
      if (!graceElapsed()) return done(remainingGraceMs());
      sub!.finalisingStep = order[order.indexOf(stage) + 1]!;
    }
    return done(0);
  }

  function finalisingActions(stage: FinalisingStep, rollback: boolean): Action[] {
    switch (stage) {
      case 'FinalisingStepRouteTrafficToNew':
        // Only a route that already reaches the new version takes it all; never one restored to stable since.
        return routing && cur.newReadyPods > 0 && routesToCanary(o, routing)
          ? routeTraffic(o, routing, { weight: 100 })
          : [];
      case 'FinalisingStepRouteTrafficToStable':
        return routing ? routeToStable(o, routing) : [];
      case 'RestoreStableService':
        return unpinStableService(o, cur);
      case 'RemoveCanaryService':
        return releaseCanaryService(o, cur);
      case 'ResumeWorkload':
        return resumeWorkload(o, cur, style, rollback);
      case 'ReleaseWorkloadControl':
        return releaseWorkload(o);
      default:
        return [];
    }
  }

  function finalisingMessage(stage: FinalisingStep, rollback: boolean): string {
    return `Rollout ${rollback ? 'is rolling back' : 'has been completed and some closing work is being done'} (${stage})`;
  }

  function advance(state: SubStatus['currentStepState'], message: string) {
    sub!.currentStepState = state;
    sub!.lastUpdateTime = now;
    sub!.message = message;
  }

  function act(list: Action[], message: string, requeueAfterMs = graceMs, refresh = true): Decision {
    actions.push(...list);
    sub!.message = message;
    if (refresh) sub!.lastUpdateTime = now;
    return done(requeueAfterMs);
  }

  function graceElapsed(): boolean {
    return seconds(sub!.lastUpdateTime, o.now) * 1000 >= graceMs;
  }

  function remainingGraceMs(): number {
    return graceMs - seconds(sub!.lastUpdateTime, o.now) * 1000;
  }
}

/** A step that routes: by weight (0% included) or by matches. */
const routesStep = (step: RolloutStep) => step.traffic !== undefined || (step.matches?.length ?? 0) > 0;

/** What a step sends to the new version. */
function stepRouting(step: RolloutStep): Routing {
  return {
    ...(step.traffic !== undefined ? { weight: parsePercent(step.traffic)! } : {}),
    ...(step.matches ? { matches: step.matches } : {}),
  };
}

/** Why a release must be rolled back now, if it must: abort asked, template back at the stable revision, or new pods not Ready in time. */
function rollbackReason(
  o: Observed,
  v: View,
  sub: SubStatus,
  deadlineSeconds: number,
  desiredPods: number,
): string | undefined {
  if (o.rollout.metadata.annotations?.[ANNOTATIONS.abort] !== undefined) return 'aborted by request';
  if (v.stableTemplate && v.templateHash !== sub.canaryRevision && v.templateHash === templateHash(v.stableTemplate))
    return 'the workload is back at its stable revision';
  if (
    sub.currentStepState === 'StepUpgrade' &&
    seconds(sub.lastUpdateTime, o.now) > deadlineSeconds &&
    v.newReadyPods < desiredPods
  ) {
    return `new pods were not Ready within progressDeadlineSeconds (${deadlineSeconds} s): ${v.newReadyPods}/${desiredPods} Ready`;
  }
  return undefined;
}
