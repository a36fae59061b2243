import { completesAtOnce, type NormalizedApp, type RollingStyle } from '../appspec/normalize.js';
import type { MatchSpec, ReplicasValue, Strategy } from '../appspec/types.js';
import { parseQuantity } from '../appspec/values.js';
import { parsePercent } from '../appspec/values.js';
import { stepPods } from './replicas.js';

export type PausePlan = { kind: 'manual' } | { kind: 'timed'; seconds: number } | { kind: 'none' };

/** One step of a plan; `stepwise plan -o json` prints exactly this shape. */
export interface PlannedStep {
  /** 1-based, as in Rollout status. */
  index: number;
  /** The step's `replicas` as written: a count (`"3"`) or a percentage (`"20%"`). */
  replicas: string;
  /** New-version pods at this step. */
  canaryPods: number;
  /** Old-version pods at this step. */
  stablePods: number;
  /**
   * Percent of the requests no match selects that go to the new version: the step's `traffic`, and 0 for a step
   * that routes by matches alone or not at all.
   */
  traffic: number;
  /** Requests matching any of these go to the new version, whatever `traffic` says. */
  matches: MatchSpec[];
  pause: PausePlan;
}

export interface Plan {
  name: string;
  namespace: string;
  strategy: Strategy;
  style: RollingStyle;
  replicas: number;
  steps: PlannedStep[];
  /** What the release needs beyond the steady state, at its largest step. */
  peak: { extraPods: number; cpuCores: number; memoryBytes: number };
}

/**
 * Pod counts per step follow OpenKruise: ceil, clamped, and capped below 100% where pods are replaced in place or by
 * surge.
 */
export function planApp(app: NormalizedApp): Plan {
  const { style, strategy, steps } = app.rollout;
  const total = app.workload.replicas;
  const planned = steps.map((step, i): PlannedStep => {
    const canaryPods = stepPods(step.replicas, total, style !== 'canary');
    return {
      index: i + 1,
      replicas: String(step.replicas),
      canaryPods,
      stablePods: style === 'partition' ? total - canaryPods : total,
      traffic: parsePercent(step.traffic) ?? 0,
      matches: step.matches ?? [],
      pause: stepPause(strategy, step.pause.duration, step.replicas, i === steps.length - 1),
    };
  });
  const extraPods = style === 'partition' ? 0 : Math.max(0, ...planned.map((s) => s.canaryPods));
  const perPod = podRequests(app);
  return {
    name: app.name,
    namespace: app.namespace,
    strategy,
    style,
    replicas: total,
    steps: planned,
    peak: { extraPods, cpuCores: extraPods * perPod.cpuCores, memoryBytes: extraPods * perPod.memoryBytes },
  };
}

/**
 * OpenKruise pause semantics: no duration waits for approval; a duration continues after it. A canary's
 * last step at replicas "100%" completes at once (blue-green has no such shortcut).
 */
export function stepPause(
  strategy: Strategy,
  duration: number | undefined,
  replicas: ReplicasValue,
  isLast: boolean,
): PausePlan {
  if (completesAtOnce(strategy, replicas, isLast)) return { kind: 'none' };
  if (duration === undefined) return { kind: 'manual' };
  return duration === 0 ? { kind: 'none' } : { kind: 'timed', seconds: duration };
}

/** A pod's requests; Kubernetes takes limits as requests when only limits are given. */
function podRequests(app: NormalizedApp): { cpuCores: number; memoryBytes: number } {
  const { requests = {}, limits = {} } = app.workload.resources ?? {};
  const cpu = requests.cpu ?? limits.cpu;
  const memory = requests.memory ?? limits.memory;
  return {
    cpuCores: cpu === undefined ? 0 : parseQuantity(cpu),
    memoryBytes: memory === undefined ? 0 : parseQuantity(memory),
  };
}
