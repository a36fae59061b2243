export * from './appspec/types.js';
export { loadApps, validateAppSpec, type LoadedApp, type LoadResult, type SourceText } from './appspec/load.js';
export { formatIssue, SpecError, type SpecIssue, type SourceLocation } from './appspec/errors.js';
export { normalize, type NormalizedApp, type NormalizedStep, type RollingStyle } from './appspec/normalize.js';
export { appSchema } from './appspec/schema.js';
export { planApp, type Plan, type PlannedStep, type PausePlan } from './plan/plan.js';
export { stepPods, scaledValue, isAtLeast, isBatchReady } from './plan/replicas.js';
export { parsePercent } from './appspec/values.js';
export { expandWeights } from './appspec/shorthand.js';
export { renderApp } from './render/app.js';
export { synthApp, toYaml } from './render/synth.js';
export { type AttachTarget, type Attached, attachRollout } from './render/attach.js';
export { type PostRenderConfig, PostRenderError, postRender, ROLLOUT_ANNOTATION } from './helm/post-render.js';
export { TRAIT_NAME, traitDefinition, traitTemplate } from './kubevela/trait.js';
export { builtinRolloutCrd } from './engines/crd.js';
export { canaryIngress, nginxCanaryAnnotations, nextCanaryAnnotations } from './traffic/nginx.js';
export { desiredRouteRules, type RouteIntent, type RouteRule } from './traffic/gateway.js';
export { canaryService, withRevision, REVISION_LABEL } from './traffic/service.js';
export type { KubeObject } from './k8s/objects.js';
export { KubeClient, KubeApiError, FIELD_MANAGER } from './k8s/client.js';
export { decide, type Decision } from './reconciler/decide.js';
export { observe } from './reconciler/observe.js';
export { reconcileOnce, runRelease } from './reconciler/run.js';
export { Controller } from './reconciler/controller.js';
export {
  admit,
  AdmissionError,
  governanceOf,
  stableVersion,
  type Admission,
  type AdmissionRequest,
  type Governance,
} from './apply/admit.js';
export {
  planApply,
  applyPlanned,
  planObjects,
  writeChanged,
  PlanError,
  type AppPlan,
  type PlannedObject,
  type Change,
} from './apply/plan.js';
export { AdmissionWebhook, type WebhookOptions } from './webhook/webhook.js';
export { webhookConfiguration, WEBHOOK_CONFIGURATION, type WebhookEndpoint } from './webhook/configuration.js';
export { review, type AdmissionLookup } from './webhook/review.js';
