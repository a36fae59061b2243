import { STEP_STATES } from '../../src/engines/crd.js';
import { isReady, type Pod } from '../../src/reconciler/observed.js';
import { strategyOf, subStatusOf } from '../../src/reconciler/types.js';
import { KubeClient } from '../../src/k8s/client.js';
import { ReleaseHarness } from './release.js';
import type { StepwiseProcess } from './processes.js';

/** When a process led, by its own log lines: from `leading as` to `stopped leading` or `gave up the Lease`, or exit. */
export interface Leadership {
  identity: string;
  from: number;
  to: number;
}

/**
 * Samples a release every 100 ms, from another connection than the controllers', while faults are injected:
 * the steps and states it passes through, and every sample where traffic went to a version with no Ready pod.
 * Samples the API server does not answer (it is down) are counted, not judged.
 */
export class ReleaseMonitor {
  readonly steps: number[] = [];
  readonly timeline: [number, string][] = [];
  readonly violations: string[] = [];
  /** Every status message seen. */
  readonly messages = new Set<string>();
  samples = 0;
  unanswered = 0;
  /** The old version has had no traffic since this sample (once it reached 0% in this release). */
  private oldWithoutTraffic = false;
  /** The largest share of the traffic the new version has had in this release. */
  private newPeak = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  private readonly h: ReleaseHarness;

  constructor(release: ReleaseHarness) {
    // A connection of its own that gives up at once: a sample must not wait out an outage, or it misses steps.
    const client = new KubeClient(release.client.kubeConfig, { timeoutMs: 1000, maxRetries: 0 });
    this.h = new ReleaseHarness(client, release.namespace, release.name);
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      // Unreferenced: a test that fails before stop() must not be kept from ending by this loop.
      const next = new Promise((r) => setTimeout(r, 100).unref());
      await this.sample().catch(() => this.unanswered++);
      await next;
    }
  }

  private async sample(): Promise<void> {
    const [summary, rollout, pods] = await Promise.all([this.h.summary(), this.h.rollout(), this.h.pods()]);
    const routing = strategyOf(rollout).routing;
    const selector = routing ? await this.h.selector(routing.service) : undefined;
    this.samples++;
    this.messages.add(summary.message);
    const at = new Date().toISOString();
    const { weight, matches } = summary.traffic;
    if ((weight > 0 || matches.length > 0) && summary.canary.ready === 0)
      this.violations.push(`${at}: ${weight}% and matches [${matches}] to the new version with no Ready pod`);
    if (summary.phase === 'Progressing' && weight < 100 && summary.stable.ready === 0 && summary.stable.pods > 0)
      this.violations.push(`${at}: ${100 - weight}% to the stable version with no Ready pod`);
    const sub = subStatusOf(rollout);
    const rollingBack = rollout.status?.conditions?.some((c) => c.reason === 'Cancelling');
    if (rollout.status?.phase === 'Progressing' && !rollingBack && selector)
      this.traffic(
        at,
        weight,
        summary.stable.revision,
        pods.filter((p) => selects(selector, p) && isReady(p)),
      );
    if (rollout.status?.phase !== 'Progressing' || !sub || sub.finalisingStep) return;
    if (this.steps.at(-1) !== sub.currentStepIndex) this.steps.push(sub.currentStepIndex);
    const last = this.timeline.at(-1);
    if (!last || last[0] !== sub.currentStepIndex || last[1] !== sub.currentStepState)
      this.timeline.push([sub.currentStepIndex, sub.currentStepState]);
  }

  /**
   * Where the unmatched traffic goes: `weight` percent to the new version's canary Service, the rest to the stable
   * Service's Ready pods, old or new (by their revision). Once the old version has had none it must never get any
   * again, and the new version's share never falls below the most it has had (until a rollback).
   */
  private traffic(at: string, weight: number, oldRevision: string | undefined, behindStable: Pod[]): void {
    const revisionOf = (p: Pod) =>
      p.metadata.labels?.['pod-template-hash'] ?? p.metadata.labels?.['controller-revision-hash'];
    const old = behindStable.filter((p) => revisionOf(p) === oldRevision).length;
    const stableShare = behindStable.length ? 100 - weight : 0;
    const oldShare = behindStable.length ? (stableShare * old) / behindStable.length : 0;
    const newShare = weight + stableShare - oldShare;
    if (oldShare === 0) this.oldWithoutTraffic = true;
    else if (this.oldWithoutTraffic)
      this.violations.push(`${at}: ${oldShare.toFixed(0)}% to the old version after it had reached 0%`);
    if (newShare < this.newPeak - 0.5)
      this.violations.push(`${at}: the new version at ${newShare.toFixed(0)}% after ${this.newPeak.toFixed(0)}%`);
    this.newPeak = Math.max(this.newPeak, newShare);
  }

  /** Stops sampling; returns what a release must satisfy, as messages (empty when all held). */
  async stop(): Promise<string[]> {
    this.stopped = true;
    await this.done;
    const problems = [...this.violations];
    const order: readonly string[] = STEP_STATES;
    for (let i = 1; i < this.timeline.length; i++) {
      const [prevStep, prevState] = this.timeline[i - 1] as [number, string];
      const [step, state] = this.timeline[i] as [number, string];
      const forward = step > prevStep || (step === prevStep && order.indexOf(state) > order.indexOf(prevState));
      if (!forward) problems.push(`went back from step ${prevStep} ${prevState} to ${step} ${state}`);
    }
    const once = this.steps.every((s, i) => s === i + 1);
    if (!once) problems.push(`steps not each once, in order: ${this.steps.join(', ')}`);
    return problems;
  }
}

/** The spans a controller process led, read from its log (timestamps are the process's own, on this machine). */
export function leadership(identity: string, p: StepwiseProcess, exitedAt?: number): Leadership[] {
  const spans: Leadership[] = [];
  for (const line of p.log.split('\n')) {
    const { ts, msg } = logEntry(line);
    const at = Date.parse(ts);
    if (/^leading as /.test(msg)) spans.push({ identity, from: at, to: Number.POSITIVE_INFINITY });
    else if (/^(stopped leading |gave up the Lease)/.test(msg) && spans.at(-1)?.to === Number.POSITIVE_INFINITY)
      (spans.at(-1) as Leadership).to = at;
  }
  const open = spans.at(-1);
  if (open?.to === Number.POSITIVE_INFINITY && exitedAt !== undefined) open.to = exitedAt;
  return spans;
}

/** A log line's time and message, from either of `stepwise controller`'s log formats (text or JSON). */
function logEntry(line: string): { ts: string; msg: string } {
  if (!line.startsWith('{')) return { ts: line.slice(0, 24), msg: line.slice(25) };
  try {
    return JSON.parse(line) as { ts: string; msg: string };
  } catch {
    return { ts: '', msg: '' };
  }
}

/** Overlaps between different processes' spans of leadership (two leaders at once); empty when none. */
export function overlaps(spans: readonly Leadership[]): string[] {
  const found: string[] = [];
  for (const a of spans)
    for (const b of spans)
      if (a.identity < b.identity && a.from < b.to && b.from < a.to)
        found.push(`${a.identity} and ${b.identity} both led from ${new Date(Math.max(a.from, b.from)).toISOString()}`);
  return found;
}

/** The longest time no process led, between the first leadership and the last (ms). */
export function longestWithoutLeader(spans: readonly Leadership[], until: number): number {
  const sorted = [...spans].sort((a, b) => a.from - b.from);
  let longest = 0;
  let covered = sorted[0]?.from ?? until;
  for (const s of sorted) {
    longest = Math.max(longest, s.from - covered);
    covered = Math.max(covered, Math.min(s.to, until));
  }
  return longest;
}

const selects = (selector: Record<string, string>, pod: Pod) =>
  Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v);
