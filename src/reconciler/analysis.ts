import {
  checkVerdict,
  judge,
  type Measured,
  type MetricResult,
  renderQuery,
  stepOutcome,
  type StepOutcome,
} from '../analysis/metrics.js';
import { type PrometheusEndpoint, queryValue } from '../analysis/prometheus.js';
import { callWebhook } from '../analysis/webhooks.js';
import type { WebhookType } from '../appspec/types.js';
import { type NormalizedAnalysis, normalizeAnalysis, rollingStyle } from '../appspec/normalize.js';
import type { Observed } from './observed.js';
import { secondsSince } from './status.js';
import {
  type AnalysisCheck,
  type AnalysisStatus,
  strategyOf,
  subStatusOf,
  type StepState,
  type SubStatus,
  type WebhookCall,
} from './types.js';
import type { RolloutEvent } from './decide.js';
import { canaryWorkloadName } from './workload.js';

/** Checks a Rollout's status keeps: enough to see a step's story, bounded whatever the release's length. */
export const ANALYSIS_HISTORY = 20;

/** What analysis reads of a pass's observations: the Rollout (its spec, status and record) and the time. */
export type Analyzed = Pick<Observed, 'rollout' | 'now'>;

/** Calls of the Rollout's webhooks of `types`, with Flagger's payload for the release in `sub`. */
export function webhookCalls(
  o: Analyzed,
  sub: Pick<SubStatus, 'canaryRevision'>,
  types: readonly WebhookType[],
  phase: string,
): WebhookCall[] {
  const spec = o.rollout.spec.analysis;
  if (!spec) return [];
  const payload = {
    name: o.rollout.metadata.name,
    namespace: o.rollout.metadata.namespace ?? 'default',
    phase,
    checksum: sub.canaryRevision,
  };
  return normalizeAnalysis(spec)
    .webhooks.filter((hook) => types.includes(hook.type))
    .map((hook) => ({ hook, payload }));
}

/** What a gate decides: open, or what the step does while it waits (a call to make, or a wait). */
export type GateOutcome =
  | { open: true; analysis?: AnalysisStatus }
  | { open: false; analysis?: AnalysisStatus; calls?: WebhookCall[]; message?: string; requeueAfterMs?: number };

/**
 * The webhooks of `types` that must answer yes, at this step, before it goes on (Flagger's confirm-* gates, and
 * pre-rollout, whose no is also a failed check): each is called, and called again an interval after a no,
 * until all have said yes; their answers are recorded in the step's analysis.
 */
export function gate(o: Observed, sub: SubStatus, types: readonly WebhookType[], phase: string): GateOutcome {
  const calls = webhookCalls(o, sub, types, phase);
  if (calls.length === 0) return { open: true };
  const settings = normalizeAnalysis(o.rollout.spec.analysis ?? {});
  let record = stepRecord(o, sub);
  const answered = (name: string) => record.gates?.find((g) => g.name === name);
  const pending = calls.filter((c) => !answered(c.hook.name)?.ok);
  if (pending.length === 0) return { open: true };
  const results = (o.webhookResults ?? []).filter((r) => pending.some((c) => c.hook.name === r.name));
  if (results.length === pending.length) {
    const gates = [...(record.gates ?? []).filter((g) => !results.some((r) => r.name === g.name)), ...results];
    record = { ...record, gates };
    const refused = results.filter((r) => !r.ok);
    if (refused.length === 0) return { open: true, analysis: record };
    const failing = refused.filter((r) => calls.find((c) => c.hook.name === r.name)?.hook.type === 'pre-rollout');
    if (failing.length) {
      const failed = record.failed + 1;
      record = { ...record, failed };
      if (stepOutcome(settings, record) === 'rollback') {
        const why = failing.map((r) => r.message).join('; ');
        const checks = `${failed} failed check${failed === 1 ? '' : 's'}`;
        record.failure = `${why} (pre-rollout, ${checks}, failureLimit ${settings.failureLimit})`;
      }
    }
    const said = refused.map((r) => r.message).join('; ');
    return {
      open: false,
      analysis: record,
      message: `waiting for webhooks: ${said}`,
      requeueAfterMs: settings.intervalSeconds * 1000,
    };
  }
  const lastTry = Math.max(0, ...pending.map((c) => Date.parse(answered(c.hook.name)?.time ?? '') || 0));
  const wait = lastTry ? settings.intervalSeconds * 1000 - (o.now.getTime() - lastTry) : 0;
  if (wait > 0) return { open: false, requeueAfterMs: wait };
  return { open: false, calls: pending };
}

/** The Rollout's analysis with its defaults, when it has one and the step at `index` is analyzed. */
export function stepSettings(o: Analyzed, index: number): NormalizedAnalysis | undefined {
  const spec = o.rollout.spec.analysis;
  if (!spec) return undefined;
  const settings = normalizeAnalysis(spec);
  const step = strategyOf(o.rollout).body.steps[index - 1];
  return (step?.analyze ?? settings.everyStep) ? settings : undefined;
}

/** The analysis record of the step in progress: the stored one, or a fresh tally for a new release or step. */
export function stepRecord(o: Analyzed, sub: Pick<SubStatus, 'canaryRevision' | 'currentStepIndex'>): AnalysisStatus {
  const stored = o.rollout.status?.analysis;
  const fresh = { revision: sub.canaryRevision, step: sub.currentStepIndex, passed: 0, failed: 0, inconclusive: 0 };
  if (stored?.revision === sub.canaryRevision && stored.step === sub.currentStepIndex) return stored;
  return { ...fresh, checks: stored?.checks ?? [] };
}

/**
 * Milliseconds until the step's next check, when it is being analyzed and nothing is decided yet: the first one
 * interval after its traffic is in place (entering `state`: StepMetricsAnalysis, or StepPaused where OpenKruise
 * drives the release), then one per interval.
 */
export function nextCheckInMs(
  o: Analyzed,
  sub: SubStatus,
  state: StepState = 'StepMetricsAnalysis',
): number | undefined {
  if (sub.currentStepState !== state) return undefined;
  const settings = stepSettings(o, sub.currentStepIndex);
  if (!settings) return undefined;
  const record = stepRecord(o, sub);
  if (record.halted || record.failure) return undefined;
  const last = record.passed + record.failed + record.inconclusive > 0 ? record.checks.at(-1)?.time : undefined;
  const since = secondsSince(last ?? sub.lastUpdateTime, o.now);
  return Math.max(0, settings.intervalSeconds - since) * 1000;
}

/** Whether a pass must take a check before it decides: a release is at a step whose next check is due. */
export function checkDue(o: Observed): boolean {
  const sub = subStatusOf(o.rollout);
  return o.rollout.status?.phase === 'Progressing' && sub !== undefined && nextCheckInMs(o, sub) === 0;
}

/** The check of the current step, taken now: every metric queried and judged. */
export async function measure(o: Analyzed, fallback: PrometheusEndpoint | undefined): Promise<AnalysisCheck> {
  const sub = subStatusOf(o.rollout);
  const step = sub?.currentStepIndex ?? 0;
  const settings = stepSettings(o, step) as NormalizedAnalysis;
  const endpoint = settings.prometheus ?? fallback;
  const routing = strategyOf(o.rollout).routing;
  const { workloadRef } = o.rollout.spec;
  const style = rollingStyle(strategyOf(o.rollout).kind, workloadRef.kind);
  const provider = routing?.ingress ? 'ingress' : routing?.gateway ? 'gateway' : undefined;
  const results = await Promise.all(
    settings.metrics.map(async (metric): Promise<MetricResult> => {
      const { query, scale } = renderQuery(metric, provider, {
        name: o.rollout.metadata.name,
        namespace: o.rollout.metadata.namespace ?? 'default',
        target: style === 'canary' ? canaryWorkloadName(workloadRef.name) : workloadRef.name,
        service: routing?.service ?? workloadRef.name,
        ...(routing?.ingress ? { ingress: routing.ingress.name } : {}),
        route: routing?.ingress?.name ?? routing?.gateway?.httpRouteName ?? '',
        interval: metric.interval,
      });
      const measured: Measured = endpoint
        ? await queryValue(endpoint, query, scale)
        : { error: "no Prometheus to ask: set analysis.prometheus.address or the controller's --prometheus-address" };
      return judge(metric, measured, settings.noData);
    }),
  );
  const calls = webhookCalls(o, sub ?? { canaryRevision: '' }, ['rollout', 'rollback'], 'Progressing');
  const answers = await Promise.all(
    calls.map(async (c) => ({ type: c.hook.type, result: await callWebhook(c.hook, c.payload, o.now) })),
  );
  const loads = answers
    .filter((a) => a.type === 'rollout')
    .map(
      ({ result: r }): MetricResult => ({
        metric: r.name,
        verdict: r.ok ? 'Passed' : 'Failed',
        message: r.message,
      }),
    );
  const rollback = answers.find((a) => a.type === 'rollback' && a.result.ok)?.result;
  const all = [...results, ...loads];
  return {
    time: o.now.toISOString(),
    step,
    verdict: rollback ? 'Failed' : checkVerdict(all),
    metrics: all,
    ...(rollback ? { rollbackRequested: `the rollback webhook ${rollback.message} asked for a rollback` } : {}),
  };
}

/** A check added to the step's record (the history bounded), and what the step's tally now means. */
export function tally(
  record: AnalysisStatus,
  check: AnalysisCheck,
  settings: NormalizedAnalysis,
): { record: AnalysisStatus; outcome: StepOutcome } {
  const next: AnalysisStatus = {
    ...record,
    passed: record.passed + (check.verdict === 'Passed' ? 1 : 0),
    failed: record.failed + (check.verdict === 'Failed' ? 1 : 0),
    inconclusive: record.inconclusive + (check.verdict === 'Inconclusive' ? 1 : 0),
    checks: [...record.checks, check].slice(-ANALYSIS_HISTORY),
  };
  const outcome = check.rollbackRequested ? 'rollback' : stepOutcome(settings, next);
  const why = check.metrics
    .filter((m) => m.verdict === check.verdict)
    .map((m) => m.message)
    .join('; ');
  const counted = (n: number, kind: string, limit: string) =>
    `${why} (${n} ${kind} check${n === 1 ? '' : 's'} at step ${record.step}, ${limit})`;
  if (outcome === 'rollback')
    next.failure = check.rollbackRequested ?? counted(next.failed, 'failed', `failureLimit ${settings.failureLimit}`);
  if (outcome === 'halt')
    next.halted = counted(next.inconclusive, 'inconclusive', `inconclusiveLimit ${settings.inconclusiveLimit}`);
  return { record: next, outcome };
}

/** The Event that tells a check: its verdict, and each metric's value against its range. */
export function checkEvent(check: AnalysisCheck): RolloutEvent {
  return {
    type: check.verdict === 'Passed' ? 'Normal' : 'Warning',
    reason: `Analysis${check.verdict}`,
    message: `step ${check.step}: ${check.metrics.map((m) => m.message).join('; ')}`,
  };
}
