import type { RollingStyle } from '../appspec/normalize.js';
import { parsePercent } from '../appspec/values.js';
import { stepPause } from '../plan/plan.js';
import { isBatchReady, stepPods } from '../plan/replicas.js';
import type { Action } from './actions.js';
import { checkEvent, gate, type GateOutcome, nextCheckInMs, stepRecord, stepSettings, tally } from './analysis.js';
import type { RolloutEvent } from './decide.js';
import { nextStepIndex } from './jump.js';
import { LABELS, type View, type WithWorkload } from './observed.js';
import { atStep, secondsSince } from './status.js';
import { ensureCanaryService, pinStableService, type Routing, routeToStable, routeTraffic } from './traffic.js';
import type { AnalysisStatus, RolloutStep, RolloutStrategy, StepState, SubStatus, WebhookCall } from './types.js';
import { labelBatch, upgradeWorkload } from './workload.js';

/** Re-checks for pods coming up and workloads settling, between watch events. */
export const POLL_MS = 1000;

/** What the handlers of one pass read, and never write: the observed world and the Rollout's plan. */
export interface PassContext {
  readonly o: WithWorkload;
  readonly strategy: RolloutStrategy;
  readonly style: RollingStyle;
  readonly steps: readonly RolloutStep[];
  readonly graceMs: number;
  /** The release as observed: the pods and revisions of each version. */
  readonly release: View;
}

/**
 * What a handler decides for the state it handles. With `to`, the pass moves on to that state at once;
 * without, it stops: after writing `actions` (the state stays, and the grace-period clock restarts unless
 * `restartsClock` is false), or to wait.
 */
export interface Transition {
  actions?: Action[];
  /** Sub-status fields this state records (pod counts, the new pods' revision, the next step). */
  set?: Partial<SubStatus>;
  to?: StepState;
  /** The status message; absent: the one already there stays. */
  message?: string;
  /** When stopping: look again after this long; absent: at the next change only. */
  requeueAfterMs?: number;
  /** @default true */
  restartsClock?: boolean;
  /** A Warning event with this reason and the message, sent when the message is new: the release is blocked. */
  warning?: string;
  /** The analysis record, with the check this pass took. */
  analysis?: AnalysisStatus;
  events?: RolloutEvent[];
  /** Webhooks whose answers the state needs (the pass calls them and decides again). */
  calls?: WebhookCall[];
}

type StepHandler = (ctx: PassContext, sub: Readonly<SubStatus>) => Transition;

/** A step that routes: by weight (0% included) or by matches. */
export const routesStep = (step: RolloutStep) => step.traffic !== undefined || (step.matches?.length ?? 0) > 0;

/** What a step sends to the new version. */
export function stepRouting(step: RolloutStep): Routing {
  const weight = parsePercent(step.traffic);
  return { ...(weight !== undefined ? { weight } : {}), ...(step.matches ? { matches: step.matches } : {}) };
}

/** Milliseconds of the grace period still to wait since the last change. */
export const graceLeftMs = (ctx: PassContext, sub: Readonly<SubStatus>) =>
  ctx.graceMs - secondsSince(sub.lastUpdateTime, ctx.o.now) * 1000;

/** The step a sub-status is at, and how to say so. */
function current(ctx: PassContext, sub: Readonly<SubStatus>) {
  const index = sub.currentStepIndex;
  const step = ctx.steps[index - 1] ?? { replicas: '100%' as const };
  return { index, step, at: (doing: string) => atStep(index, ctx.steps.length, doing) };
}

/** A step that routes traffic first pins the stable Service to the stable revision. */
const beforeStepUpgrade: StepHandler = (ctx, sub) => {
  const { step, at } = current(ctx, sub);
  const pin = ctx.strategy.routing && routesStep(step) ? pinStableService(ctx.o, ctx.release) : [];
  if (pin.length) return { actions: pin, message: at('pin the stable Service'), requeueAfterMs: ctx.graceMs };
  return { to: 'StepUpgrade', message: at('upgrade workload to new version') };
};

/**
 * The step's new pods come up (never fewer than before: a jump back moves traffic, not pods), and are labelled
 * with the release and the step that brought them; the step is ready once enough of them are.
 */
const stepUpgrade: StepHandler = (ctx, sub) => {
  const { index, step, at } = current(ctx, sub);
  const { release, style } = ctx;
  const desired = stepPods(step.replicas, release.replicas, style !== 'canary');
  // With an unchanged template (a new rollout-id only) the pods are already the release's: relabel them.
  const unchanged = release.sameTemplate && style !== 'partition';
  const upgrade = unchanged ? [] : upgradeWorkload(ctx.o, release, style, step.replicas);
  const batch = { currentBatchReplicas: step.replicas };
  if (upgrade.length)
    return { set: batch, actions: upgrade, message: at('upgrade workload to new version'), requeueAfterMs: POLL_MS };
  const counts: Partial<SubStatus> = {
    ...batch,
    canaryReplicas: release.newPods.length,
    canaryReadyReplicas: release.newReadyPods,
  };
  const labelled = release.newPods.filter((p) => p.metadata.labels?.[LABELS.rolloutId] === release.rolloutId).length;
  const labels = labelBatch(release, index, desired);
  const failureThreshold = ctx.strategy.body.failureThreshold;
  const ready = isBatchReady({
    desired,
    updated: release.newPods.length,
    updatedReady: release.newReadyPods,
    ...(failureThreshold !== undefined ? { failureThreshold } : {}),
    labeled: labelled + labels.length,
  });
  if (!ready && labels.length) {
    return {
      set: counts,
      actions: labels,
      message: at('label the new pods'),
      requeueAfterMs: POLL_MS,
      restartsClock: false,
    };
  }
  if (!ready) {
    const waiting = `wait for the new pods to be Ready (${release.newReadyPods}/${desired} Ready)`;
    return { set: counts, message: at(waiting), requeueAfterMs: POLL_MS };
  }
  // The batch is ready once labelled: the labels go out beside the next stage's writes.
  const set = { ...counts, podTemplateHash: release.newRevision ?? '' };
  return { set, actions: labels, to: 'StepTrafficRouting', message: at('doing traffic routing') };
};

/**
 * OpenKruise's order: the canary Service selects the new pods (and the stable one stays pinned), the grace period
 * passes, then the route sends the step's share; never any share to a version with no Ready pod.
 */
const stepTrafficRouting: StepHandler = (ctx, sub) => {
  const { step, at } = current(ctx, sub);
  const { o, release } = ctx;
  const routing = ctx.strategy.routing;
  if (!routing) return { to: 'StepMetricsAnalysis', message: at('doing metrics analysis') };
  const routes = routesStep(step);
  const blocked = routes && routeBlocked(ctx, sub);
  if (blocked) return blocked;
  const services = routes
    ? [...ensureCanaryService(o, release, sub.podTemplateHash), ...pinStableService(o, release)]
    : [];
  if (services.length) return { actions: services, message: at('doing traffic routing'), requeueAfterMs: ctx.graceMs };
  const graceLeft = graceLeftMs(ctx, sub);
  if (graceLeft > 0) return { requeueAfterMs: graceLeft };
  const sendsTraffic = sendsTrafficTo(step);
  if (sendsTraffic && release.newReadyPods === 0) {
    return {
      message: at('wait for a Ready pod of the new version before routing traffic to it'),
      requeueAfterMs: POLL_MS,
    };
  }
  const route = routes ? routeTraffic(o, routing, stepRouting(step)) : routeToStable(o, routing);
  const next: Transition = { actions: route, message: at('doing traffic routing'), requeueAfterMs: ctx.graceMs };
  if (route.length && sendsTraffic) {
    // Flagger's order: pre-rollout before the first traffic, confirm-traffic-increase before every change.
    const first = ctx.steps.findIndex(sendsTrafficTo) + 1 === current(ctx, sub).index;
    const types = first
      ? (['pre-rollout', 'confirm-traffic-increase'] as const)
      : (['confirm-traffic-increase'] as const);
    return throughGate(gate(o, sub, types, 'Progressing'), at, next);
  }
  if (route.length) return next;
  return { to: 'StepMetricsAnalysis', message: at('doing metrics analysis') };
};

/** A step that sends requests to the new version: a weight above 0%, or matches. */
const sendsTrafficTo = (step: RolloutStep) => (parsePercent(step.traffic) ?? 0) > 0 || (step.matches?.length ?? 0) > 0;

/**
 * `next` once the gate is open (with the answers it recorded); while it is closed, the wait: its webhooks to call,
 * or their refusal (a rollback when a refused pre-rollout failed the step).
 */
function throughGate(outcome: GateOutcome, at: (doing: string) => string, next: Transition): Transition {
  const { analysis } = outcome;
  if (outcome.open) return { ...(analysis ? { analysis } : {}), ...next };
  if (analysis?.failure) return { analysis, message: at(`analysis failed: ${analysis.failure}`), requeueAfterMs: 0 };
  const { calls, message, requeueAfterMs } = outcome;
  return {
    ...(analysis ? { analysis } : {}),
    ...(calls ? { calls } : {}),
    ...(message ? { message: at(message), warning: 'WebhookRefused' } : {}),
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/**
 * The step's metric checks, one per interval once its traffic is in place (`reconcileOnce` takes each when due):
 * enough passed checks go on to the pause; failures past the limit mark the release for rollback (the next pass
 * rolls it back); inconclusive checks past theirs wait for a person, who promotes or aborts.
 */
const stepMetricsAnalysis: StepHandler = (ctx, sub) => {
  const { index, at } = current(ctx, sub);
  const settings = stepSettings(ctx.o, index);
  if (!settings) return { to: 'StepPaused', message: at('paused') };
  const record = stepRecord(ctx.o, sub);
  const check = ctx.o.analysisCheck;
  if (record.failure) return { message: at(`analysis failed: ${record.failure}`), requeueAfterMs: 0 };
  if (record.halted) return { message: at(halted(record.halted)) };
  if (!check || check.step !== index) {
    const next = nextCheckInMs(ctx.o, sub);
    return {
      message: at('analysis: waiting for the next check'),
      ...(next !== undefined ? { requeueAfterMs: next } : {}),
    };
  }
  const { record: analysis, outcome } = tally(record, check, settings);
  const base = { analysis, events: [checkEvent(check)] };
  if (outcome === 'rollback')
    return { ...base, message: at(`analysis failed: ${analysis.failure}`), requeueAfterMs: 0 };
  if (outcome === 'halt') return { ...base, message: at(halted(analysis.halted ?? '')) };
  if (outcome === 'pass') return { ...base, to: 'StepPaused', message: at('paused') };
  const counts = `${analysis.passed}/${settings.checks} passed`;
  return {
    ...base,
    message: at(`analysis: ${counts}, next check in ${settings.intervalSeconds} s`),
    requeueAfterMs: settings.intervalSeconds * 1000,
  };
};

const halted = (why: string) =>
  `analysis inconclusive: ${why}; waiting for a person: stepwise promote goes on, stepwise abort rolls back`;

/**
 * A step that routes traffic cannot do so without the declared objects it routes through (the stable Service, the
 * Ingress or HTTPRoute): it waits, saying which is missing with a Warning, rather than going on as if it had routed.
 */
function routeBlocked(ctx: PassContext, sub: Readonly<SubStatus>): Transition | undefined {
  const { o, strategy } = ctx;
  const routing = strategy.routing;
  if (!routing) return undefined;
  const namespace = o.rollout.metadata.namespace;
  const missing = [
    !o.stableService && `Service ${namespace}/${routing.service}`,
    routing.ingress && !o.ingress && `Ingress ${namespace}/${routing.ingress.name}`,
    routing.gateway && !o.httpRoute && `HTTPRoute ${namespace}/${routing.gateway.httpRouteName}`,
  ].filter((m): m is string => typeof m === 'string');
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not found: the step cannot route traffic until it is back`;
  return { message: current(ctx, sub).at(why), warning: 'RouteObjectMissing', requeueAfterMs: ctx.graceMs };
}

/** OpenKruise's pauses: approval, a duration, or none (a canary's last step at 100%). */
const stepPaused: StepHandler = (ctx, sub) => {
  const { index, step, at } = current(ctx, sub);
  // A pause is approved for the traffic its step routes; with a route object gone, that traffic is not there.
  const blocked = ctx.strategy.routing && routesStep(step) && routeBlocked(ctx, sub);
  if (blocked) return blocked;
  const pause = stepPause(ctx.strategy.kind, step.pause?.duration, step.replicas, index === ctx.steps.length);
  if (pause.kind === 'manual') return { message: at('you need manually confirm to enter the next step') };
  const left = pause.kind === 'timed' ? pause.seconds - secondsSince(sub.lastUpdateTime, ctx.o.now) : 0;
  if (pause.kind === 'timed' && left > 0) {
    return {
      message: at(`wait duration(${pause.seconds} seconds) to enter the next step`),
      requeueAfterMs: left * 1000,
    };
  }
  return { to: 'StepReady', message: at('ready to enter the next step') };
};

/** On to the next step, or, after the last one, to the finalising stages. */
const stepReady: StepHandler = (ctx, sub) => {
  const { index, at } = current(ctx, sub);
  const count = ctx.steps.length;
  if (index >= count) {
    const next: Transition = {
      to: 'Completed',
      message: 'Rollout has been completed and some closing work is being done',
    };
    return throughGate(gate(ctx.o, sub, ['confirm-promotion'], 'WaitingPromotion'), at, next);
  }
  return {
    set: { currentStepIndex: index + 1, nextStepIndex: nextStepIndex(index + 1, count) },
    to: 'BeforeStepUpgrade',
    message: atStep(index + 1, count, 'upgrade workload to new version'),
  };
};

/** The rule for each state of a step, in OpenKruise's order. `Completed` hands over to the finalising stages. */
export const STEP_HANDLERS: Record<Exclude<StepState, 'Completed'>, StepHandler> = {
  BeforeStepUpgrade: beforeStepUpgrade,
  StepUpgrade: stepUpgrade,
  StepTrafficRouting: stepTrafficRouting,
  StepMetricsAnalysis: stepMetricsAnalysis,
  StepPaused: stepPaused,
  StepReady: stepReady,
};
