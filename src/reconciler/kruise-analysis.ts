import type { PrometheusEndpoint } from '../analysis/prometheus.js';
import { stepOutcome } from '../analysis/metrics.js';
import { readKruiseAnalysis } from '../appspec/load.js';
import type { KruiseAnalysisSpec } from '../appspec/types.js';
import { KRUISE_ANALYSIS_ANNOTATION, KRUISE_ANALYSIS_STATUS_ANNOTATION } from '../appspec/values.js';
import { KRUISE_API_VERSION } from '../engines/kruise.js';
import { validateRolloutSpec } from '../engines/validate-rollout.js';
import { FIELD_MANAGER, type KubeClient } from '../k8s/client.js';
import { stepPause } from '../plan/plan.js';
import type { ActOptions, EventRecorder } from './act.js';
import { type Analyzed, checkEvent, measure, nextCheckInMs, stepRecord, stepSettings, tally } from './analysis.js';
import { ControlError, undo } from './control.js';
import type { RolloutEvent } from './decide.js';
import type { Reader } from './observe.js';
import { secondsSince } from './status.js';
import { type AnalysisCheck, type AnalysisStatus, type RolloutObject, strategyOf, subStatusOf } from './types.js';

/**
 * Analysis for releases that OpenKruise's own controller drives: a `rollouts.kruise.io/v1beta1` Rollout carries its
 * analysis in an annotation, and each analyzed step waits for approval in Kruise's Rollout. At such a step this
 * checks the metrics once per interval, as the builtin reconciler does, and answers with Kruise's own protocol:
 * approval (the sub-status's `currentStepState: StepReady`, as kubectl-kruise sends it), or a rollback (the
 * Deployment's template put back to its stable ReplicaSet's, which Kruise takes as a rollback and finalises).
 * The record of checks goes in a second annotation, since Kruise's status has no room for it.
 */

export const KRUISE_ROLLOUT_REF = { apiVersion: KRUISE_API_VERSION, kind: 'Rollout' } as const;

/** Where Kruise's release stands at an analyzed step, and what this pass measured. */
export interface KruiseObserved extends Analyzed {
  /** The check taken this pass, when one was due. */
  analysisCheck?: AnalysisCheck;
}

/** What a pass does about a Kruise-run release. */
export interface KruiseDecision {
  /** The step's record, when it changed: written to the status annotation. */
  record?: AnalysisStatus;
  /** Approve the paused step. */
  approve?: boolean;
  /** Roll the release back, for this reason. */
  rollback?: string;
  events: RolloutEvent[];
  requeueAfterMs?: number;
}

/** The status annotation's value: the current step's record, or the problem that keeps analysis from running. */
type StoredRecord = AnalysisStatus | { problem: string };

/**
 * The Kruise Rollout as the builtin analysis reads a Rollout: its analysis in `spec.analysis`, each step marked
 * analyzed or not with the pause it keeps once its analysis has passed, and the record in `status.analysis`.
 */
export function analyzedView(rollout: RolloutObject, carried: KruiseAnalysisSpec): RolloutObject {
  const { kind, body } = strategyOf(rollout);
  const steps = body.steps.map((step, i) => {
    const entry = carried.steps?.[i];
    // Written by hand without steps: the steps Kruise pauses for a person, approved once their analysis passes.
    const analyze = entry ? (entry.analyze ?? carried.analysis.everyStep ?? true) : step.pause?.duration === undefined;
    return { ...step, analyze, pause: entry?.pause ?? { duration: 0 } };
  });
  const stored = parseRecord(rollout.metadata.annotations?.[KRUISE_ANALYSIS_STATUS_ANNOTATION]);
  const record = stored && !('problem' in stored) ? stored : undefined;
  return {
    ...rollout,
    spec: { ...rollout.spec, strategy: { [kind]: { ...body, steps } }, analysis: carried.analysis },
    status: { ...rollout.status, ...(record ? { analysis: record } : {}) },
  };
}

function parseRecord(text: string | undefined): StoredRecord | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as StoredRecord;
  } catch {
    return undefined;
  }
}

/** Whether a pass must take a check first: Kruise waits at an analyzed step whose next check is due. */
export function kruiseCheckDue(o: Analyzed): boolean {
  const sub = subStatusOf(o.rollout);
  return o.rollout.status?.phase === 'Progressing' && sub !== undefined && nextCheckInMs(o, sub, 'StepPaused') === 0;
}

/**
 * The pure decision for a Kruise-run release (seen through `analyzedView`): nothing unless Kruise waits at an
 * analyzed step; there a due check is tallied; enough passes approve the step once its own pause has elapsed
 * (a pause for a person is left to one); failures past the limit roll back; inconclusive past its limit waits.
 */
export function decideKruiseAnalysis(o: KruiseObserved): KruiseDecision {
  const sub = subStatusOf(o.rollout);
  const none: KruiseDecision = { events: [] };
  if (o.rollout.status?.phase !== 'Progressing' || sub?.currentStepState !== 'StepPaused') return none;
  const settings = stepSettings(o, sub.currentStepIndex);
  if (!settings) return none;
  let record = stepRecord(o, sub);
  if (record.failure) return { rollback: record.failure, events: [] };
  if (record.halted) return none;
  const events: RolloutEvent[] = [];
  const check = o.analysisCheck;
  const measured = check !== undefined && check.step === sub.currentStepIndex;
  if (measured) {
    record = tally(record, check, settings).record;
    events.push(checkEvent(check));
  }
  const changed = measured ? { record } : {};
  switch (stepOutcome(settings, record)) {
    case 'rollback':
      return { ...changed, rollback: record.failure, events: [...events, rollingBack(record.failure ?? '')] };
    case 'halt': {
      const message =
        `analysis inconclusive: ${record.halted}; waiting for a person: approve the step to go on ` +
        '(kubectl-kruise rollout approve), or put the Deployment back to roll back';
      return { ...changed, events: [...events, { type: 'Warning', reason: 'AnalysisHalted', message }] };
    }
    case 'continue':
      return {
        ...changed,
        events,
        requeueAfterMs: nextCheckInMs({ ...o, rollout: withRecord(o, record) }, sub, 'StepPaused'),
      };
    case 'pass': {
      const { kind, body } = strategyOf(o.rollout);
      const step = body.steps[sub.currentStepIndex - 1];
      const last = sub.currentStepIndex === body.steps.length;
      const pause = stepPause(kind, step?.pause?.duration, step?.replicas ?? '100%', last);
      if (pause.kind === 'manual') return { ...changed, events };
      const passedAt = record.checks.at(-1)?.time;
      const left = pause.kind === 'timed' ? pause.seconds - secondsSince(passedAt, o.now) : 0;
      if (left > 0) return { ...changed, events, requeueAfterMs: left * 1000 };
      return { ...changed, events, approve: true };
    }
  }
}

const withRecord = (o: Analyzed, analysis: AnalysisStatus): RolloutObject => ({
  ...o.rollout,
  status: { ...o.rollout.status, analysis },
});

const rollingBack = (why: string): RolloutEvent => ({
  type: 'Warning',
  reason: 'RollingBack',
  message: `analysis failed: ${why}`,
});

export interface KruisePassOptions extends Pick<ActOptions, 'log' | 'onWritten'> {
  events: EventRecorder;
  prometheus?: PrometheusEndpoint;
}

/**
 * One pass over a Kruise Rollout: read, check when due, decide, act. Returns when to look again, or undefined when
 * there is nothing to wait for (Kruise's next transition wakes the controller).
 */
export async function reconcileKruiseAnalysis(
  client: KubeClient,
  reader: Reader,
  namespace: string,
  name: string,
  options: KruisePassOptions,
): Promise<number | undefined> {
  const rollout = await reader.get<RolloutObject>({ ...KRUISE_ROLLOUT_REF, namespace, name });
  const text = rollout?.metadata.annotations?.[KRUISE_ANALYSIS_ANNOTATION];
  if (!rollout || text === undefined) return undefined;
  const read = readKruiseAnalysis(text);
  if ('problems' in read) return report(client, rollout, read.problems, options);
  const view = analyzedView(rollout, read.spec);
  const problems = viewProblems(view);
  if (problems.length > 0) return report(client, rollout, problems, options);
  let o: KruiseObserved = { rollout: view, now: new Date() };
  if (kruiseCheckDue(o)) o = { ...o, analysisCheck: await measure(o, options.prometheus) };
  const decision = decideKruiseAnalysis(o);
  let written = rollout;
  if (decision.record) written = await writeRecord(client, rollout, decision.record, options);
  for (const event of decision.events) options.events.record(rollout, event);
  if (decision.rollback) await rollBack(client, written, decision.rollback, options);
  if (decision.approve) {
    const { statusKey, body } = strategyOf(rollout);
    const step = subStatusOf(rollout)?.currentStepIndex;
    // Conditional on the version just written, so the approval lands on the step that was analyzed.
    const patch = {
      metadata: { resourceVersion: written.metadata.resourceVersion },
      status: { [statusKey]: { currentStepState: 'StepReady' } },
    };
    options.onWritten?.(await client.mergePatch(refOf(rollout), patch, 'status', FIELD_MANAGER));
    options.log?.(`step ${step}/${body.steps.length} approved: its analysis passed`);
    options.events.record(rollout, {
      type: 'Normal',
      reason: 'StepApproved',
      message: `step ${step}: analysis passed`,
    });
  }
  return decision.requeueAfterMs;
}

/** The analysis rules (a template needs a route, known query variables…) and what only a Deployment allows. */
function viewProblems(view: RolloutObject): string[] {
  const problems = validateRolloutSpec(view.spec, { engine: 'kruise' })
    .filter((v) => v.severity !== 'warning' && v.pointer.startsWith('/spec/analysis'))
    .map((v) => `${v.pointer.slice('/spec/'.length).replaceAll('/', '.')}: ${v.message}`);
  if (view.spec.workloadRef.kind !== 'Deployment')
    problems.push(`a ${view.spec.workloadRef.kind} cannot be rolled back by analysis here: use the builtin engine`);
  return problems;
}

/** A problem with the annotation: told once (a Warning Event) and kept in the status annotation, and nothing done. */
async function report(
  client: KubeClient,
  rollout: RolloutObject,
  problems: readonly string[],
  options: KruisePassOptions,
): Promise<undefined> {
  const problem = `${KRUISE_ANALYSIS_ANNOTATION} is not usable, so no step is analyzed: ${problems.join('; ')}`;
  const stored = parseRecord(rollout.metadata.annotations?.[KRUISE_ANALYSIS_STATUS_ANNOTATION]);
  if (stored && 'problem' in stored && stored.problem === problem) return undefined;
  options.log?.(problem);
  options.events.record(rollout, { type: 'Warning', reason: 'AnalysisInvalid', message: problem });
  await writeRecord(client, rollout, { problem }, options);
  return undefined;
}

/** Writes the status annotation; the controller's cache sees it at once, so the next pass does not repeat it. */
async function writeRecord(
  client: KubeClient,
  rollout: RolloutObject,
  record: StoredRecord,
  options: KruisePassOptions,
): Promise<RolloutObject> {
  const patch = { metadata: { annotations: { [KRUISE_ANALYSIS_STATUS_ANNOTATION]: JSON.stringify(record) } } };
  const written = await client.mergePatch<RolloutObject>(refOf(rollout), patch, undefined, FIELD_MANAGER);
  options.onWritten?.(written);
  return written;
}

/** Puts the Deployment back to its stable template; done already (Kruise is rolling back) is done. */
async function rollBack(client: KubeClient, rollout: RolloutObject, why: string, options: KruisePassOptions) {
  try {
    options.log?.(`${await undo(client, rollout)}: ${why}`);
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
  }
}

const refOf = (r: RolloutObject) => ({ ...KRUISE_ROLLOUT_REF, namespace: r.metadata.namespace, name: r.metadata.name });
