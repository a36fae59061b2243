export { StepwiseApp, type StepwiseAppProps } from './stepwise-app.js';
export { Rollout, type RolloutProps, type StrategyRolloutProps } from './rollout.js';
export { CanaryService, type CanaryServiceProps } from './canary-service.js';
/** Generated from the Gateway API standard CRDs (HTTPRoute v1 and v1beta1). */
export * as gateway from './imports/gateway-gateway.networking.k8s.io.js';
/** Generated from the OpenKruise Rollouts CRD (Rollout v1alpha1 and v1beta1). */
export * as kruise from './imports/kruise-rollouts.kruise.io.js';
export * from '../src/index.js';
