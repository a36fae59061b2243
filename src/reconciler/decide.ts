import { rollingStyle } from '../appspec/normalize.js';
import { ROLLOUT_DEFAULTS } from '../appspec/values.js';
import type { RuleViolation } from '../appspec/rules.js';
import { validateRolloutSpec } from '../engines/validate-rollout.js';
import { stepPods } from '../plan/replicas.js';
import { type Action, refOf } from './actions.js';
import { FINALISING, finalisingMessage, STAGE_HANDLERS } from './finalise.js';
import { nextStepIndex, recalculateStep, stepJump } from './jump.js';
import {
  ANNOTATIONS,
  type Observed,
  revisionOf,
  stableReplicaSet,
  templateHash,
  type View,
  view,
  type WithWorkload,
} from './observed.js';
import { webhookCalls } from './analysis.js';
import { atStep, planHash, secondsSince, withCondition } from './status.js';
import { graceLeftMs, type PassContext, routesStep, STEP_HANDLERS, stepRouting } from './steps.js';
import { ensureCanaryService, pinStableService, routesToCanary, routeToStable, routeTraffic } from './traffic.js';
import {
  type Condition,
  type Phase,
  type RolloutStatus,
  type SubStatus,
  storedSubStatus,
  type WebhookCall,
  strategyOf,
  subStatusOf,
} from './types.js';
import { holdWorkload, labelGoverned } from './workload.js';

export { FINALISING } from './finalise.js';
export { planHash } from './status.js';

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
  /** Webhooks whose answers the decision needs: the pass calls them and decides again with the answers. */
  calls?: WebhookCall[];
  /** Webhooks to tell, once the status is written (post-rollout); their answers change nothing. */
  notify?: WebhookCall[];
}

/** Stages of one pass chained at most: a safety net, far above the longest honest chain. */
const MAX_STAGES = 16;

/**
 * One reconcile pass, as a pure function of what was observed: the state machine of OpenKruise Rollouts
 * (BeforeStepUpgrade → StepUpgrade → StepTrafficRouting → StepMetricsAnalysis → StepPaused → StepReady, then
 * Completed and the finalising order), with rollback on undo, abort or a missed progress deadline. The rule of
 * each step state is in `steps.ts`, of each finalising stage in `finalise.ts`; this file decides which applies.
 */
export function decide(o: Observed): Decision {
  const draft = new Draft(o);
  const problems = validateRolloutSpec(o.rollout.spec, { engine: 'builtin' }).filter((p) => p.severity !== 'warning');
  if (problems.length) return draft.invalid(problems);
  if (!o.workload) return draft.phase('Initial', 'Workload Not Found').done();
  const observed: WithWorkload = { ...o, workload: o.workload };
  const strategy = strategyOf(o.rollout);
  const context = (canaryRevision: string): PassContext => ({
    o: observed,
    strategy,
    style: rollingStyle(strategy.kind, o.rollout.spec.workloadRef.kind),
    steps: strategy.body.steps,
    graceMs: (strategy.routing?.gracePeriodSeconds ?? ROLLOUT_DEFAULTS.gracePeriodSeconds) * 1000,
    release: view(observed, canaryRevision),
  });
  let sub = draft.sub;
  if (draft.status.phase !== 'Progressing' || !sub) {
    const idle = context(sub?.canaryRevision ?? '');
    if (!idle.release.inProgress) return outsideRelease(idle, draft);
    sub = draft.begin(idle, 1, view(observed, idle.release.templateHash).stableRevision);
    draft.status.conditions = draft.status.conditions?.filter((c) => c.type !== 'Admitted');
  }
  const ctx = context(sub.canaryRevision);
  const reason = draft.status.conditions?.find((c) => c.type === 'Progressing')?.reason;
  if (reason === 'Finalising' || reason === 'Cancelling') return finalise(ctx, draft, sub, reason === 'Cancelling');
  return beforeSteps(ctx, draft, sub) ?? runSteps(ctx, draft, sub);
}

/**
 * Everything a pass changes: the status (a copy), its writes and Events. The only mutable state of `decide`;
 * handlers read the world and return what to change.
 */
class Draft {
  readonly status: RolloutStatus;
  readonly actions: Action[] = [];
  readonly events: RolloutEvent[] = [];
  readonly calls: WebhookCall[] = [];
  readonly notify: WebhookCall[] = [];
  readonly now: string;
  /** The release's progress under one set of names; stored under its strategy's key and names by `done`. */
  sub: SubStatus | undefined;
  private readonly before: { phase?: Phase; index?: number; state?: string };

  constructor(private readonly o: Observed) {
    this.status = structuredClone(o.rollout.status ?? {});
    this.status.observedGeneration = o.rollout.metadata.generation as number | undefined;
    this.now = o.now.toISOString();
    this.sub = structuredClone(subStatusOf(o.rollout));
    this.before = { phase: this.status.phase, index: this.sub?.currentStepIndex, state: this.sub?.currentStepState };
  }

  phase(phase: Phase, message: string): this {
    this.status.phase = phase;
    this.status.message = message;
    return this;
  }

  condition(change: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>): void {
    this.status.conditions = withCondition(this.status.conditions ?? [], change, this.now);
  }

  warn(reason: string, message: string): void {
    this.events.push({ type: 'Warning', reason, message });
  }

  /** The sub-status of a release of the workload's template that starts at step `index`. */
  begin(ctx: PassContext, index: number, stableRevision: string | undefined): SubStatus {
    const count = ctx.steps.length;
    const message = atStep(index, count, 'upgrade workload to new version');
    const sub: SubStatus = {
      observedWorkloadGeneration: ctx.o.workload.metadata.generation as number | undefined,
      observedRolloutID: view(ctx.o, ctx.release.templateHash).rolloutId,
      rolloutHash: planHash(ctx.strategy.body),
      ...(stableRevision ? { stableRevision } : {}),
      podTemplateHash: '',
      canaryRevision: ctx.release.templateHash,
      canaryReplicas: 0,
      canaryReadyReplicas: 0,
      currentStepIndex: index,
      nextStepIndex: nextStepIndex(index, count),
      currentStepState: 'BeforeStepUpgrade',
      finalisingStep: '',
      lastUpdateTime: this.now,
      message,
    };
    this.sub = sub;
    this.status.conditions = this.status.conditions?.filter((c) => c.type !== 'Succeeded');
    this.condition({ type: 'Progressing', status: 'True', reason: 'InRolling', message: 'Rollout is in Progressing' });
    this.phase('Progressing', message);
    return sub;
  }

  invalid(problems: RuleViolation[]): Decision {
    const described = problems.map((p) => `${p.pointer.replace('/spec/', '').replaceAll('/', '.')}: ${p.message}`);
    this.status.message = `invalid spec: ${described.join('; ')}`;
    this.status.phase ??= 'Initial';
    if (this.o.rollout.status?.message !== this.status.message) this.warn('InvalidSpec', this.status.message);
    return { status: this.status, actions: this.actions, events: this.events };
  }

  /** The decision: top-level fields mirrored from the sub-status, and an Event per phase, step reached and pause. */
  done(requeueAfterMs?: number): Decision {
    const sub = this.sub;
    const workload = this.o.workload;
    // As OpenKruise records it: the workload generation this status speaks for, once the workload's template is
    // the one being released, or the stable one when healthy (after a rollback too). Health checks (KubeVela's
    // trait) compare it with the workload's own, so a status never vouches for a template it has not judged.
    const current = workload && templateHash(workload.spec.template);
    const judged =
      sub?.canaryRevision === current ||
      (this.status.phase === 'Healthy' && this.status.stableTemplateHash === current);
    if (sub && workload && judged) sub.observedWorkloadGeneration = workload.metadata.generation as number | undefined;
    if (sub) {
      Object.assign(this.status, storedSubStatus(strategyOf(this.o.rollout).kind, sub));
      this.status.currentStepIndex = sub.currentStepIndex;
      this.status.currentStepState = sub.currentStepState;
      this.status.message = sub.message ?? this.status.message;
    }
    if (this.status.phase !== this.before.phase) {
      this.events.push({ type: 'Normal', reason: `Rollout${this.status.phase}`, message: this.status.message ?? '' });
    } else if (
      sub &&
      (sub.currentStepIndex !== this.before.index ||
        (sub.currentStepState === 'StepPaused' && this.before.state !== 'StepPaused'))
    ) {
      this.events.push({ type: 'Normal', reason: sub.currentStepState, message: sub.message ?? '' });
    }
    return {
      status: this.status,
      actions: this.actions,
      events: this.events,
      ...(requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(0, Math.ceil(requeueAfterMs)) } : {}),
      ...(this.calls.length ? { calls: this.calls } : {}),
      ...(this.notify.length ? { notify: this.notify } : {}),
    };
  }
}

/**
 * No release runs: healthy (with the sub-status OpenKruise synthesizes so clients can poll uniformly), unless the
 * workload's template changed without admission, which starts a release here.
 */
function outsideRelease(ctx: PassContext, draft: Draft): Decision {
  const { release } = ctx;
  draft.status.stableTemplateHash ??= release.templateHash;
  if (release.templateHash !== draft.status.stableTemplateHash) return takeControl(ctx, draft);
  draft.status.conditions = (draft.status.conditions ?? []).filter(
    (c) => c.type !== 'Progressing' || c.status === 'False',
  );
  if (!draft.sub) {
    draft.sub = {
      podTemplateHash: '',
      canaryRevision: release.templateHash,
      canaryReplicas: 0,
      canaryReadyReplicas: 0,
      currentStepIndex: ctx.steps.length,
      nextStepIndex: -1,
      currentStepState: 'Completed',
      finalisingStep: '',
      observedRolloutID: release.rolloutId,
      message: 'workload is healthy',
      lastUpdateTime: draft.now,
    };
  }
  draft.actions.push(...labelGoverned(ctx.o));
  return draft.phase('Healthy', 'Rollout is healthy').done();
}

/**
 * The template changed without admission (no webhook, or one that failed open): take the workload under control
 * as admission would have, and release from the step that covers the pods already updated.
 */
function takeControl(ctx: PassContext, draft: Draft): Decision {
  const { o, release, steps } = ctx;
  const w = o.workload;
  // Until its controller has seen the new template, the workload's status still counts the old one.
  const seen = (w.status?.observedGeneration ?? 0) >= ((w.metadata.generation as number | undefined) ?? 0);
  const updated = seen ? (w.status?.updatedReplicas ?? 0) : 0;
  const stableRevision =
    w.kind === 'StatefulSet'
      ? w.status?.currentRevision !== w.status?.updateRevision
        ? w.status?.currentRevision
        : undefined
      : revisionOf(stableReplicaSet(o.replicaSets, { template: draft.status.stableTemplateHash }));
  draft.actions.push(holdWorkload(o, stableRevision, updated));
  const index = recalculateStep(steps, release.replicas, updated);
  draft.begin(ctx, index, stableRevision);
  const why =
    `${w.kind}/${w.metadata.name}'s pod template changed without passing Stepwise's admission ` +
    `(${updated} of ${release.replicas} pods already updated): the release took control at step ` +
    `${index}/${steps.length}`;
  draft.condition({ type: 'Admitted', status: 'False', reason: 'AdmissionBypassed', message: why });
  draft.warn('AdmissionBypassed', why);
  return draft.done(0);
}

/**
 * What can stop or redirect a release before its steps run, in OpenKruise's order: a rollback (abort, the stable
 * template back, a missed deadline), a newer version, a paused spec; then a jump or an edited plan moves the step,
 * and traffic that should not be where it is is put right. Undefined: go on with the steps.
 */
function beforeSteps(ctx: PassContext, draft: Draft, sub: SubStatus): Decision | undefined {
  const { o, release, steps, style } = ctx;
  const { rollout } = o;
  const routing = ctx.strategy.routing;
  const currentPods = stepPods(
    steps[sub.currentStepIndex - 1]?.replicas ?? '100%',
    release.replicas,
    style !== 'canary',
  );
  const deadline = rollout.spec.progressDeadlineSeconds ?? ROLLOUT_DEFAULTS.progressDeadlineSeconds;
  const rollbackWhy = rollbackReason(o, release, sub, deadline, currentPods);
  if (rollbackWhy) {
    draft.condition({ type: 'Progressing', status: 'True', reason: 'Cancelling', message: rollbackWhy });
    sub.finalisingStep = FINALISING[ctx.strategy.kind].rollback[0] ?? 'END';
    sub.message = `Rollout is rolling back: ${rollbackWhy}`;
    sub.lastUpdateTime = draft.now;
    draft.warn('RollingBack', rollbackWhy);
    return finalise(ctx, draft, sub, true);
  }
  if (release.templateHash !== sub.canaryRevision) return newerVersion(ctx, draft, sub);
  if (rollout.spec.strategy.paused) {
    const message = 'Rollout has been paused, you can resume it by kube-cli';
    draft.condition({ type: 'Progressing', status: 'True', reason: 'Paused', message });
    sub.message = `Rollout is paused at step(${sub.currentStepIndex}/${steps.length})`;
    return draft.done();
  }
  if (draft.status.conditions?.find((c) => c.type === 'Progressing')?.reason === 'Paused') {
    draft.condition({ type: 'Progressing', status: 'True', reason: 'InRolling', message: 'Rollout is in Progressing' });
  }
  Object.assign(sub, stepJump(sub, steps, release.replicas, draft.now) ?? {});
  const hash = planHash(ctx.strategy.body);
  if (sub.rolloutHash !== hash) {
    const index = recalculateStep(steps, release.replicas, sub.currentBatchReplicas, sub.currentStepIndex);
    sub.rolloutHash = hash;
    if (index === sub.nextStepIndex) sub.currentStepState = 'StepReady';
    else {
      sub.nextStepIndex = index;
      Object.assign(sub, stepJump(sub, steps, release.replicas, draft.now) ?? {});
    }
  }
  // Safety: traffic never stays on a version that has no Ready pod.
  if (routing && release.newReadyPods === 0 && routesToCanary(o, routing)) {
    draft.actions.push(...routeToStable(o, routing));
    draft.warn('NoReadyPods', 'the new version has no Ready pod: all traffic back to the stable version');
  }
  const restored = restoreRouting(ctx, sub);
  if (restored.length) {
    draft.actions.push(...restored);
    draft.warn(
      'TrafficRestored',
      `the step's routing was changed from outside: ${restored.map((a) => a.why).join('; ')}`,
    );
  }
  return undefined;
}

/**
 * A newer template mid-release. Blue-green refuses it (as OpenKruise does) and holds a workload that would
 * surge it; a canary takes traffic back to stable and starts over from step 1 with it.
 */
function newerVersion(ctx: PassContext, draft: Draft, sub: SubStatus): Decision {
  const { o, release } = ctx;
  const w = o.workload;
  if (ctx.style === 'blueGreen') {
    sub.message =
      'a new template arrived during a blue-green release: finish it (stepwise promote) or roll it back (stepwise ' +
      'undo) first';
    // Admission refuses a third version; one that bypassed it must not surge while the release waits.
    if (!w.spec.paused) {
      const why = `pause ${w.metadata.name}: a third version arrived without admission`;
      draft.actions.push({ kind: 'merge', ref: refOf(w), patch: { spec: { paused: true } }, why });
      draft.warn('AdmissionBypassed', sub.message);
    }
    return draft.done();
  }
  if (ctx.strategy.routing) draft.actions.push(...routeToStable(o, ctx.strategy.routing));
  Object.assign(sub, {
    canaryRevision: release.templateHash,
    podTemplateHash: '',
    currentStepIndex: 1,
    nextStepIndex: nextStepIndex(1, ctx.steps.length),
    currentStepState: 'BeforeStepUpgrade',
    lastUpdateTime: draft.now,
    canaryReplicas: 0,
    canaryReadyReplicas: 0,
    message: 'a new version arrived mid-release: starting over from step 1',
  });
  return draft.done(ctx.graceMs);
}

/**
 * Where the current step's routing is in effect, a write from outside (a re-applied Service or route) may have
 * undone it: put it back. A route to new pods only while some are Ready (the safety check before this).
 */
function restoreRouting(ctx: PassContext, sub: SubStatus): Action[] {
  const { o, release } = ctx;
  const routing = ctx.strategy.routing;
  const step = ctx.steps[sub.currentStepIndex - 1];
  if (!routing || !step || !['StepMetricsAnalysis', 'StepPaused', 'StepReady'].includes(sub.currentStepState))
    return [];
  if (!routesStep(step)) return routeToStable(o, routing);
  return [
    ...pinStableService(o, release),
    ...ensureCanaryService(o, release, sub.podTemplateHash),
    ...(release.newReadyPods > 0 ? routeTraffic(o, routing, stepRouting(step)) : []),
  ];
}

/** Runs the step states' rules (`STEP_HANDLERS`) one after another until one stops the pass. */
function runSteps(ctx: PassContext, draft: Draft, sub: SubStatus): Decision {
  for (let stage = 0; stage < MAX_STAGES; stage++) {
    if (sub.currentStepState === 'Completed') {
      const message = 'Rollout has been completed and some closing work is being done';
      draft.condition({ type: 'Progressing', status: 'True', reason: 'Finalising', message });
      sub.finalisingStep = FINALISING[ctx.strategy.kind].success[0] ?? 'END';
      sub.lastUpdateTime = draft.now;
      return finalise(ctx, draft, sub, false);
    }
    const t = STEP_HANDLERS[sub.currentStepState](ctx, sub);
    draft.actions.push(...(t.actions ?? []));
    draft.events.push(...(t.events ?? []));
    draft.calls.push(...(t.calls ?? []));
    if (t.analysis) draft.status.analysis = t.analysis;
    Object.assign(sub, t.set);
    if (t.warning && t.message !== undefined && t.message !== sub.message) draft.warn(t.warning, t.message);
    if (t.message !== undefined) sub.message = t.message;
    if (t.to) {
      sub.currentStepState = t.to;
      sub.lastUpdateTime = draft.now;
      continue;
    }
    if (t.actions?.length && t.restartsClock !== false) sub.lastUpdateTime = draft.now;
    return draft.done(t.requeueAfterMs);
  }
  return draft.done(0);
}

/** Runs the finalising stages' rules (`STAGE_HANDLERS`) in the strategy's order, through to the end. */
function finalise(ctx: PassContext, draft: Draft, sub: SubStatus, rollback: boolean): Decision {
  const order = FINALISING[ctx.strategy.kind][rollback ? 'rollback' : 'success'];
  for (let guard = 0; guard <= order.length; guard++) {
    const stage = sub.finalisingStep || order[0] || 'END';
    sub.finalisingStep = stage;
    if (stage === 'END') return complete(ctx, draft, sub, rollback);
    const outcome = STAGE_HANDLERS[stage](ctx, rollback);
    const message = finalisingMessage(stage, rollback);
    if (outcome.actions.length) {
      draft.actions.push(...outcome.actions);
      sub.message = message;
      sub.lastUpdateTime = draft.now;
      return draft.done(outcome.requeueAfterMs ?? ctx.graceMs);
    }
    if (outcome.waiting) {
      sub.message = `${message}: ${outcome.waiting}`;
      return draft.done(outcome.requeueAfterMs ?? ctx.graceMs);
    }
    const graceLeft = graceLeftMs(ctx, sub);
    if (graceLeft > 0) return draft.done(graceLeft);
    sub.finalisingStep = order[order.indexOf(stage) + 1] ?? 'END';
  }
  return draft.done(0);
}

/** The release is over: conditions and status say how, the workload's released template is recorded. */
function complete(ctx: PassContext, draft: Draft, sub: SubStatus, rollback: boolean): Decision {
  const message = `Rollout progressing has been ${rollback ? 'cancelled' : 'completed'}`;
  draft.condition({ type: 'Progressing', status: 'False', reason: 'Completed', message });
  // OpenKruise's Succeeded condition says only whether: no reason, no message.
  draft.condition({ type: 'Succeeded', status: rollback ? 'False' : 'True', reason: '', message: '' });
  sub.message = message;
  // A cancelled release keeps the step it was cancelled at, as OpenKruise's status does.
  if (!rollback) {
    Object.assign(sub, { currentStepIndex: ctx.steps.length, currentStepState: 'Completed', nextStepIndex: -1 });
    draft.status.stableTemplateHash = sub.canaryRevision;
  }
  const { rollout } = ctx.o;
  if (rollout.metadata.annotations?.[ANNOTATIONS.abort] !== undefined) {
    const patch = { metadata: { annotations: { [ANNOTATIONS.abort]: null } } };
    draft.actions.push({ kind: 'merge', ref: refOf(rollout), patch, why: 'clear the abort request' });
  }
  draft.notify.push(...webhookCalls(ctx.o, sub, ['post-rollout'], rollback ? 'Failed' : 'Succeeded'));
  return draft.phase('Healthy', message).done();
}

/**
 * Why a release must be rolled back now, if it must: abort asked, template back at the stable revision, or new pods not
 * Ready in time.
 */
function rollbackReason(
  o: Observed,
  v: View,
  sub: SubStatus,
  deadlineSeconds: number,
  desiredPods: number,
): string | undefined {
  if (o.rollout.metadata.annotations?.[ANNOTATIONS.abort] !== undefined) return 'aborted by request';
  const analysis = o.rollout.status?.analysis;
  if (analysis?.failure && analysis.revision === sub.canaryRevision) return `analysis failed: ${analysis.failure}`;
  if (v.stableTemplate && v.templateHash !== sub.canaryRevision && v.templateHash === templateHash(v.stableTemplate)) {
    return 'the workload is back at its stable revision';
  }
  const late = secondsSince(sub.lastUpdateTime, o.now) > deadlineSeconds;
  if (sub.currentStepState === 'StepUpgrade' && late && v.newReadyPods < desiredPods) {
    return (
      `new pods were not Ready within progressDeadlineSeconds (${deadlineSeconds} s): ` +
      `${v.newReadyPods}/${desiredPods} Ready`
    );
  }
  return undefined;
}
