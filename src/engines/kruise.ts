import { completesAtOnce, type NormalizedApp } from '../appspec/normalize.js';
import type { KruiseAnalysisSpec } from '../appspec/types.js';
import { KRUISE_ANALYSIS_ANNOTATION } from '../appspec/values.js';
import type { KubeObject } from '../k8s/objects.js';
import { modelMeta, type RolloutModel } from './model.js';
import { kruiseCookie, strategyBody, workloadRef, writtenAnalysis } from './steps.js';

export const KRUISE_API_VERSION = 'rollouts.kruise.io/v1beta1';

/**
 * An OpenKruise `rollouts.kruise.io/v1beta1` Rollout. Kruise creates and deletes the canary Service itself,
 * so this engine emits none. A Deployment canary uses an extra canary Deployment
 * (`enableExtraWorkloadForCanary`), which needs no Advanced Deployment controller.
 *
 * Kruise's Rollout has no field for metric analysis: it goes in an annotation (`KRUISE_ANALYSIS_ANNOTATION`) that
 * `stepwise controller` reads, and each analyzed step waits for approval in Kruise's Rollout, which the controller
 * gives once the step's analysis has passed (and its own pause has elapsed).
 */
export function renderKruiseRollout(m: RolloutModel): KubeObject {
  const { analysis } = m.rollout;
  const analyzed = kruiseAnalyzedSteps(m.rollout);
  const steps = m.rollout.steps.map(({ analyze: _analyze, ...step }, i) => ({
    ...step,
    pause: analyzed[i] ? {} : step.pause,
  }));
  const meta = modelMeta(m);
  if (analysis) {
    const carried: KruiseAnalysisSpec = {
      analysis: writtenAnalysis(analysis),
      steps: m.rollout.steps.map((step, i) =>
        analyzed[i] ? { analyze: true, pause: step.pause } : { analyze: false },
      ),
    };
    meta.annotations = { ...meta.annotations, [KRUISE_ANALYSIS_ANNOTATION]: JSON.stringify(carried) };
  }
  return {
    apiVersion: KRUISE_API_VERSION,
    kind: 'Rollout',
    metadata: meta,
    spec: {
      workloadRef: workloadRef(m),
      strategy: strategyBody({ ...m, rollout: { ...m.rollout, steps } }, kruiseCookie(m.route?.kind)),
    },
  };
}

/**
 * The steps analyzed under Kruise: those the analysis asks for, but a canary's last step at 100%, which Kruise
 * completes without waiting.
 */
function kruiseAnalyzedSteps({ analysis, strategy, steps }: NormalizedApp['rollout']): boolean[] {
  return steps.map(
    (step, i) =>
      analysis !== undefined &&
      (step.analyze ?? analysis.everyStep) &&
      !completesAtOnce(strategy, step.replicas, i === steps.length - 1),
  );
}
