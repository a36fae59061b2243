import type { KubeClient } from '../k8s/client.js';
import { stepPause } from '../plan/plan.js';
import { EventRecorder, isConflict, perform, writeStatus, type ActOptions } from './act.js';
import type { PrometheusEndpoint } from '../analysis/prometheus.js';
import type { Action } from './actions.js';
import { callWebhook } from '../analysis/webhooks.js';
import { checkDue, measure } from './analysis.js';
import { decide, type Decision, type RolloutEvent } from './decide.js';
import type { Observed } from './observed.js';
import { observe, type Reader } from './observe.js';
import { type RolloutObject, type RolloutStatus, strategyOf, subStatusOf, type WebhookCall } from './types.js';

/** Decisions one pass chains at most: a safety net against a world that never shows the pass's own writes. */
const MAX_LINKS = 12;

export interface PassResult {
  rollout: RolloutObject;
  /** The pass's last decision: what it waits for, and when to look again. */
  decision: Decision;
  /** Everything the pass wrote, in order. */
  actions: Action[];
}

export interface PassOptions extends ActOptions {
  /** Read from here instead of the API server (the controller's cache). */
  reader?: Reader;
  /** Where Events go; without one the pass sends its Events and waits for them. */
  events?: EventRecorder;
  /** The Prometheus that Rollouts naming none are analyzed with (the controller's --prometheus-address). */
  prometheus?: PrometheusEndpoint;
}

const stepOf = (status: RolloutStatus | undefined) =>
  (status?.canaryStatus ?? status?.blueGreenStatus)?.currentStepIndex;

/**
 * One reconcile pass: observe → decide → act, chained while the decisions have writes to make, so that stages
 * with nothing to wait for (no grace period, no pods to come up) follow each other at once instead of a watch
 * round trip apart. The status is written at the end and whenever a new step is reached, so every step is
 * on record; a crash in between repeats idempotent writes only. A Rollout changed by someone else meanwhile
 * (an approval) fails the status write with a conflict, and the pass starts again from a fresh read.
 */
export async function reconcileOnce(
  client: KubeClient,
  namespace: string,
  name: string,
  options: PassOptions = {},
): Promise<PassResult | undefined> {
  const reader = options.reader ?? client;
  const recorder = options.events ?? new EventRecorder(client);
  for (let attempt = 0; ; attempt++) {
    const first = await observe(reader, namespace, name);
    if (!first) return undefined;
    let observed: Observed = first;
    let rollout = observed.rollout;
    const actions: Action[] = [];
    const events: RolloutEvent[] = [];
    const notify: WebhookCall[] = [];
    try {
      for (let link = 1; ; link++) {
        // Metric checks are observations too: taken before deciding, when the step's next one is due.
        if (checkDue(observed)) observed = { ...observed, analysisCheck: await measure(observed, options.prometheus) };
        const decision = decide(observed);
        events.push(...decision.events);
        notify.push(...(decision.notify ?? []));
        const resourceVersion = await perform(client, rollout, decision.actions, options);
        if (resourceVersion) rollout = { ...rollout, metadata: { ...rollout.metadata, resourceVersion } };
        actions.push(...decision.actions);
        const calls = link < MAX_LINKS ? (decision.calls ?? []) : [];
        const last = (decision.actions.length === 0 && calls.length === 0) || link === MAX_LINKS;
        if (last || stepOf(decision.status) !== stepOf(rollout.status))
          rollout = await writeStatus(client, rollout, decision.status, options);
        if (last) {
          for (const event of events) recorder.record(rollout, event);
          await tell(notify, rollout, recorder, options);
          if (!options.events) await recorder.flush();
          return { rollout, decision, actions };
        }
        // The webhooks the decision waits on are asked now, and the next decision reads their answers.
        const answers = await ask(calls);
        for (const a of answers) options.log?.(`webhook ${a.message}`);
        const { analysisCheck: _taken, webhookResults: _read, ...world } = observed;
        const next = decision.actions.length ? await observe(reader, namespace, name) : world;
        if (!next) return undefined;
        observed = {
          ...next,
          rollout: { ...next.rollout, status: decision.status },
          ...(answers.length ? { webhookResults: answers } : {}),
        };
      }
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e;
      // Someone else wrote the Rollout (an approval, say): read it afresh before deciding again.
      const fresh = await client.get<RolloutObject>({
        apiVersion: rollout.apiVersion,
        kind: rollout.kind,
        name,
        namespace,
      });
      if (fresh) options.onWritten?.(fresh);
    }
  }
}

/** Every webhook called at once, with its payload. */
const ask = (calls: readonly WebhookCall[]) => Promise.all(calls.map((c) => callWebhook(c.hook, c.payload)));

/** Tells the post-rollout webhooks that a release ended; each answer becomes an Event, and changes nothing else. */
async function tell(
  calls: readonly WebhookCall[],
  rollout: RolloutObject,
  recorder: EventRecorder,
  options: PassOptions,
) {
  for (const a of await ask(calls)) {
    options.log?.(`post-rollout webhook ${a.message}`);
    recorder.record(rollout, { type: a.ok ? 'Normal' : 'Warning', reason: 'PostRolloutWebhook', message: a.message });
  }
}

/** Waiting for a person: paused at a step whose pause has no duration, or halted by inconclusive analysis. */
export function awaitsApproval(rollout: RolloutObject): boolean {
  const sub = subStatusOf(rollout);
  if (rollout.status?.phase !== 'Progressing') return false;
  const analysis = rollout.status.analysis;
  const halted =
    analysis?.halted && analysis.revision === sub?.canaryRevision && analysis.step === sub?.currentStepIndex;
  if (sub?.currentStepState === 'StepMetricsAnalysis' && halted) return true;
  if (sub?.currentStepState !== 'StepPaused') return false;
  const { kind, body } = strategyOf(rollout);
  const steps = body.steps;
  const step = steps[sub.currentStepIndex - 1];
  if (!step) return false;
  return stepPause(kind, step.pause?.duration, step.replicas, sub.currentStepIndex === steps.length).kind === 'manual';
}

export function isSettled(rollout: RolloutObject): boolean {
  return rollout.status?.phase === 'Healthy';
}

/**
 * Drives a release from this process until `until` holds: the next approval pause, or the end (Healthy).
 * Sleeps as the decision asks (timed pauses, grace periods), at most `pollMs`, so outside changes are seen.
 */
export async function runRelease(
  client: KubeClient,
  namespace: string,
  name: string,
  options: {
    until: 'pause' | 'done';
    pollMs?: number;
    log?: (line: string) => void;
    onPass?: (r: PassResult) => void;
    signal?: AbortSignal;
    prometheus?: PrometheusEndpoint;
  },
): Promise<RolloutObject> {
  const pollMs = options.pollMs ?? 1000;
  const { log, prometheus } = options;
  for (;;) {
    const result = await reconcileOnce(client, namespace, name, {
      ...(log ? { log } : {}),
      ...(prometheus ? { prometheus } : {}),
    });
    if (!result) throw new Error(`Rollout ${namespace}/${name} not found`);
    options.onPass?.(result);
    const { rollout, decision } = result;
    if (isSettled(rollout) && decision.actions.length === 0) return rollout;
    if (options.until === 'pause' && awaitsApproval(rollout)) return rollout;
    if (options.signal?.aborted) return rollout;
    const wait =
      decision.actions.length && decision.requeueAfterMs === undefined
        ? 0
        : Math.min(decision.requeueAfterMs ?? pollMs, pollMs);
    await new Promise((r) => setTimeout(r, wait));
  }
}
