/**
 * The app spec's TypeScript types, derived from its schema (`schema.ts`), the one place they are written.
 * `normalize()` turns an `AppSpec` into a `NormalizedApp` where every default is applied.
 */
export {
  API_VERSION,
  type AnalysisSpec,
  type KruiseAnalysisSpec,
  type MetricSpec,
  type MetricTemplate,
  type NoDataPolicy,
  type PrometheusSpec,
  type WebhookSpec,
  type WebhookType,
  type AppSpec,
  type Engine,
  type EnvVar,
  type GatewayRouteSpec,
  type HeaderMatch,
  type IngressRouteSpec,
  type MatchSpec,
  type ParentRef,
  type PauseSpec,
  type ReplicasValue,
  type ResourceList,
  type RolloutSpec,
  type StepSpec,
  type Strategy,
  type TrafficValue,
  type WorkloadKind,
  type WorkloadSpec,
} from './schema.js';
