/**
 * The Stepwise app spec (`apiVersion: stepwise.dev/v1alpha1`, `kind: App`): one document describes a
 * workload, how it is reached, and how a new version of it is released. Every optional field has a
 * documented default; `normalize()` turns an `AppSpec` into a `NormalizedApp` where all are applied.
 */
export const API_VERSION = 'stepwise.dev/v1alpha1';

/** A pod count (`3`) or a percentage of the workload's replicas (`"20%"`). */
export type ReplicasValue = number | `${number}%`;
/** A percentage of traffic, e.g. `"10%"`. */
export type TrafficValue = `${number}%`;

export interface AppSpec {
  apiVersion: typeof API_VERSION;
  kind: 'App';
  metadata: AppMetadata;
  spec: AppBody;
}

export interface AppMetadata {
  /** App name; names the workload and, by default, the Service, Ingress/HTTPRoute and Rollout. */
  name: string;
  /** @default "default" */
  namespace?: string;
  /** Labels added to every object Stepwise emits. */
  labels?: Record<string, string>;
  /** Annotations added to every object Stepwise emits. */
  annotations?: Record<string, string>;
}

export interface AppBody {
  workload: WorkloadSpec;
  /** @default { port: 80 } */
  service?: ServiceSpec;
  /** How clients reach the app; required for any step with `traffic` or `matches`. */
  route?: RouteSpec;
  rollout: RolloutSpec;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';

export interface WorkloadSpec {
  /** @default "Deployment". StatefulSet supports the canary strategy only (released through its partition). */
  kind?: WorkloadKind;
  image: string;
  /** @default 1 */
  replicas?: number;
  /** Container port. @default 8080 */
  port?: number;
  /** Container port name, also the Service's targetPort. @default "http" */
  portName?: string;
  /** Environment: a map of names to values, or a list of Kubernetes EnvVar objects. */
  env?: Record<string, string> | EnvVar[];
  command?: string[];
  args?: string[];
  /** Requests and limits. No defaults: Stepwise never invents resource numbers. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** A Kubernetes Probe. No default; `validate` warns when it is missing. */
  readinessProbe?: Record<string, unknown>;
  /** A Kubernetes Probe. No default. */
  livenessProbe?: Record<string, unknown>;
  /** Labels and annotations for the pod template only. */
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface ResourceList {
  cpu?: string | number;
  memory?: string;
}

export interface ServiceSpec {
  /** @default metadata.name */
  name?: string;
  /** @default 80 */
  port?: number;
  /** @default the workload's port name */
  targetPort?: number | string;
}

/** Exactly one of `ingress` or `gateway` (one traffic route per app, as OpenKruise allows). */
export interface RouteSpec {
  ingress?: IngressRouteSpec;
  gateway?: GatewayRouteSpec;
}

export interface IngressRouteSpec {
  /** @default metadata.name */
  name?: string;
  /** @default "nginx" (the canary annotations are ingress-nginx's) */
  className?: string;
  host?: string;
  /** @default "/" */
  path?: string;
  /** @default "Prefix" */
  pathType?: 'Prefix' | 'Exact' | 'ImplementationSpecific';
  tls?: { secretName: string };
  annotations?: Record<string, string>;
}

export interface GatewayRouteSpec {
  /** @default metadata.name */
  name?: string;
  parentRefs: ParentRef[];
  hostnames?: string[];
  /** @default "/" */
  path?: string;
  /** @default "PathPrefix" */
  pathType?: 'PathPrefix' | 'Exact';
}

export interface ParentRef {
  name: string;
  namespace?: string;
  sectionName?: string;
}

export type Strategy = 'canary' | 'blueGreen' | 'abTest';
export type Engine = 'builtin' | 'kruise';

export interface RolloutSpec {
  /**
   * - `canary`: new pods in a separate canary workload, traffic shifted by weight;
   * - `blueGreen`: a full new set beside the old one, traffic switched (`traffic: 0%` allowed);
   * - `abTest`: canary whose every step routes by `matches` (headers, cookies, query, path).
   */
  strategy: Strategy;
  /** @default "builtin" (Stepwise's reconciler); `kruise` emits rollouts.kruise.io/v1beta1. */
  engine?: Engine;
  /** Explicit steps. Mutually exclusive with the shorthand below. */
  steps?: StepSpec[];
  /** Flagger shorthand: traffic grows by this much per step up to `maxWeight`. */
  stepWeight?: number;
  /** Flagger shorthand. @default 100 */
  maxWeight?: number;
  /** Flagger shorthand: explicit traffic weights, e.g. [1, 5, 20, 50]. */
  stepWeights?: number[];
  /** Pause after each shorthand-generated step. @default {} (manual approval) */
  pause?: PauseSpec;
  /** Seconds to wait after each traffic change before the next. @default 3 */
  gracePeriodSeconds?: number;
  /** Updated pods allowed to be not Ready when a step is judged ready. @default 0 */
  failureThreshold?: ReplicasValue;
  /** A release whose new pods are not Ready within this many seconds is rolled back. @default 600 */
  progressDeadlineSeconds?: number;
}

export interface StepSpec {
  /** New-version pods at this step: a count or a percentage of `workload.replicas`. */
  replicas: ReplicasValue;
  /** Share of traffic sent to the new version. Absent: no weight change at this step. */
  traffic?: TrafficValue;
  /** Requests matching any entry go to the new version (OR between entries, AND within one). */
  matches?: MatchSpec[];
  /** `{}` (or absent): wait for approval. `{duration: N}`: continue after N seconds. */
  pause?: PauseSpec;
}

export interface PauseSpec {
  duration?: number;
}

export type MatchType = 'Exact' | 'RegularExpression';

export interface MatchSpec {
  headers?: HeaderMatch[];
  /** Cookie name; a request with this cookie set to `always` goes to the new version (ingress-nginx semantics). */
  cookie?: string;
  queryParams?: HeaderMatch[];
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
}

export interface HeaderMatch {
  name: string;
  value: string;
  /** @default "Exact" */
  type?: MatchType;
}
