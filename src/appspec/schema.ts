import { type Static, type TSchema, Type, type TUnsafe } from '@sinclair/typebox';
import {
  DNS_1035_LABEL_PATTERN,
  DNS_LABEL_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
  ENV_NAME_PATTERN,
  HOSTNAME_PATTERN,
  HTTP_TOKEN_PATTERN,
  IMAGE_PATTERN,
  INT32_MAX,
  LABEL_VALUE_PATTERN,
  PERCENT_PATTERN,
  PORT_NAME_PATTERN,
  QUALIFIED_NAME_PATTERN,
  QUANTITY_PATTERN,
  ROLLOUT_DEFAULTS,
  TRAFFIC_PATTERN,
  ANALYSIS_DEFAULTS,
  PROMETHEUS_DURATION_PATTERN,
  HTTP_URL_PATTERN,
} from './values.js';

/**
 * The app spec (`apiVersion: stepwise.dev/v1alpha1`, `kind: App`), written once: as TypeBox schemas that are
 * plain JSON Schema (2020-12), from which the TypeScript types are derived (`types.ts`), so a field cannot exist
 * in one and not the other. The schema is the contract published to editors (`stepwise schema`,
 * `schema/app.schema.json`; descriptions show on hover) and the source of the builtin Rollout CRD's step schema
 * (`stepwise crd`), so the shapes shared with the Rollout live in `$defs`. Leaves keep JSON Schema's `enum` and
 * type unions rather than `anyOf`, so that a bad value yields one precise message rather than one per branch.
 */
export const SCHEMA_ID = 'https://stepwise.dev/schemas/v1alpha1/app.schema.json';
export const API_VERSION = 'stepwise.dev/v1alpha1';

/** A JSON Schema leaf kept exactly as written, with the TypeScript type it stands for. */
const leaf = <T>(schema: Record<string, unknown>): TUnsafe<T> => Type.Unsafe<T>(schema);
const oneOf = <const V extends readonly string[]>(
  values: V,
  options: { default?: V[number]; description?: string } = {},
) => leaf<V[number]>({ enum: [...values], ...options });
const closed = { additionalProperties: false } as const;
/** Labels: keys and values as Kubernetes takes them. */
const labelMap = (description: string) =>
  leaf<Record<string, string>>({
    type: 'object',
    propertyNames: { maxLength: 317, pattern: QUALIFIED_NAME_PATTERN },
    additionalProperties: { type: 'string', pattern: LABEL_VALUE_PATTERN },
    description,
  });
/** Annotations: keys as Kubernetes takes them, any string values (their total size is a rule). */
const annotationMap = (description: string) =>
  leaf<Record<string, string>>({
    type: 'object',
    propertyNames: { maxLength: 317, pattern: QUALIFIED_NAME_PATTERN },
    additionalProperties: { type: 'string' },
    description,
  });
type NameOptions = { default?: string; description?: string };
const dnsLabel = (options: NameOptions = {}) =>
  Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL_PATTERN, ...options });
/** A name that also names a Service, which must start with a letter. */
const serviceName = (options: NameOptions = {}) =>
  Type.String({ minLength: 1, maxLength: 63, pattern: DNS_1035_LABEL_PATTERN, ...options });
const dnsSubdomain = (options: NameOptions = {}) =>
  Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN, ...options });
const hostname = (description?: string) =>
  Type.String({ minLength: 1, maxLength: 253, pattern: HOSTNAME_PATTERN, ...(description ? { description } : {}) });
/** A count or a number of seconds in a Kubernetes int32 field. */
const int32 = (options: { minimum: number; default?: number; description?: string }) =>
  Type.Integer({ maximum: INT32_MAX, ...options });

/** A pod count (`3`) or a percentage of the workload's replicas (`"20%"`). */
export type ReplicasValue = number | `${number}%`;
/** A percentage of traffic, e.g. `"10%"`. */
export type TrafficValue = `${number}%`;

const Replicas = leaf<ReplicasValue>({
  description: 'A pod count (3) or a percentage of the workload replicas ("20%").',
  type: ['integer', 'string'],
  minimum: 1,
  maximum: INT32_MAX,
  pattern: PERCENT_PATTERN,
});
const Traffic = leaf<TrafficValue>({
  type: 'string',
  pattern: TRAFFIC_PATTERN,
  description: 'Share of traffic for the new version, e.g. "10%".',
});
const Pause = Type.Object(
  { duration: Type.Optional(int32({ minimum: 0 })) },
  { ...closed, description: '{} waits for approval; {duration: N} continues after N seconds.' },
);
const StringMatch = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, pattern: HTTP_TOKEN_PATTERN }),
    value: Type.String({ minLength: 1, maxLength: 4096 }),
    type: Type.Optional(oneOf(['Exact', 'RegularExpression'], { default: 'Exact' })),
  },
  closed,
);
const Match = Type.Object(
  {
    headers: Type.Optional(Type.Array(ref('stringMatch', StringMatch), { minItems: 1, maxItems: 16 })),
    cookie: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        pattern: HTTP_TOKEN_PATTERN,
        description: 'Cookie name; a request with this cookie set to `always` goes to the new version (ingress-nginx).',
      }),
    ),
    queryParams: Type.Optional(Type.Array(ref('stringMatch', StringMatch), { minItems: 1, maxItems: 16 })),
    path: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(oneOf(['Exact', 'PathPrefix', 'RegularExpression'], { default: 'PathPrefix' })),
          value: Type.String({ minLength: 1, maxLength: 1024, pattern: '^/' }),
        },
        closed,
      ),
    ),
  },
  { ...closed, minProperties: 1, description: 'Requests matching every field of one entry go to the new version.' },
);
const Step = Type.Object(
  {
    replicas: ref('replicas', Replicas),
    traffic: Type.Optional(ref('traffic', Traffic)),
    matches: Type.Optional(
      Type.Array(ref('match', Match), {
        minItems: 1,
        maxItems: 16,
        description: 'Requests matching any entry go to the new version (OR between entries, AND within one).',
      }),
    ),
    pause: Type.Optional(ref('pause', Pause)),
    analyze: Type.Optional(
      Type.Boolean({
        description: 'Analyze this step (with analysis.everyStep false), or not (false) when every step is.',
      }),
    ),
  },
  closed,
);

export const METRIC_TEMPLATES = ['request-success-rate', 'request-duration'] as const;
export const NO_DATA_POLICIES = ['fail', 'inconclusive', 'pass'] as const;

const Metric = Type.Object(
  {
    name: dnsLabel({ description: 'Names the metric in status, Events and messages.' }),
    template: Type.Optional(
      oneOf(METRIC_TEMPLATES, {
        description:
          "Flagger's built-in query for the route: request-success-rate (percent of non-5xx responses of the new " +
          'version) or request-duration (milliseconds). Exclusive with query.',
      }),
    ),
    query: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16384,
        description:
          'PromQL giving one number; {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, ' +
          '{{ route }} and {{ interval }} are filled in. Exclusive with template.',
      }),
    ),
    thresholdRange: Type.Object(
      { min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) },
      { ...closed, minProperties: 1, description: 'The values that pass, inclusive.' },
    ),
    interval: Type.Optional(
      Type.String({
        pattern: PROMETHEUS_DURATION_PATTERN,
        default: ANALYSIS_DEFAULTS.metricInterval,
        description: "The range of the query's rates ({{ interval }}), a Prometheus duration.",
      }),
    ),
  },
  closed,
);

const Prometheus = Type.Object(
  {
    address: Type.String({ pattern: HTTP_URL_PATTERN, description: 'e.g. http://prometheus.monitoring:9090' }),
    bearerTokenFile: Type.Optional(
      Type.String({ minLength: 1, description: 'Read at every query, in the controller.' }),
    ),
    caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle for an https address.' })),
    timeoutSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 300, default: ANALYSIS_DEFAULTS.timeoutSeconds }),
    ),
  },
  { ...closed, description: "Default: the controller's --prometheus-address." },
);

export const WEBHOOK_TYPES = [
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
] as const;

const Webhook = Type.Object(
  {
    name: dnsLabel({ description: 'Names the webhook in status, Events and messages.' }),
    type: Type.Optional(
      oneOf(WEBHOOK_TYPES, {
        default: 'rollout',
        description:
          "Flagger's: pre-rollout (before the first traffic; a failure is a failed check), rollout (with every " +
          'check, e.g. load; a failure is a failed check), confirm-traffic-increase (before each step routes ' +
          'traffic; waits until it succeeds), confirm-promotion (before the release completes; waits), post-rollout ' +
          '(once the release has ended, either way; its answer is only recorded), rollback (with every check; ' +
          'success ' +
          'rolls the release back).',
      }),
    ),
    url: Type.String({
      pattern: HTTP_URL_PATTERN,
      description: 'POSTed JSON: name, namespace, phase, checksum, metadata.',
    }),
    timeoutSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 300, default: ANALYSIS_DEFAULTS.webhookTimeoutSeconds }),
    ),
    retries: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10,
        default: ANALYSIS_DEFAULTS.webhookRetries,
        description: 'Tries again after a connection error, a timeout or a 5xx.',
      }),
    ),
    metadata: Type.Optional(
      leaf<Record<string, string>>({
        type: 'object',
        additionalProperties: { type: 'string' },
        description: "Sent as is (Flagger's load tester reads cmd and type from it).",
      }),
    ),
  },
  closed,
);

const Analysis = Type.Object(
  {
    metrics: Type.Optional(Type.Array(ref('metric', Metric), { maxItems: 16 })),
    webhooks: Type.Optional(Type.Array(ref('webhook', Webhook), { maxItems: 16 })),
    intervalSeconds: Type.Optional(
      int32({
        minimum: 1,
        default: ANALYSIS_DEFAULTS.intervalSeconds,
        description: "Seconds between checks; a step's first check comes one interval after its traffic is in place.",
      }),
    ),
    checks: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: ANALYSIS_DEFAULTS.checks,
        description: 'Passed checks an analyzed step needs before it goes on.',
      }),
    ),
    failureLimit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        default: ANALYSIS_DEFAULTS.failureLimit,
        description: 'Failed checks tolerated in a step; one more rolls the release back at once.',
      }),
    ),
    noData: Type.Optional(
      oneOf(NO_DATA_POLICIES, {
        default: ANALYSIS_DEFAULTS.noData,
        description: 'What a query without a value (no series, or NaN) counts as.',
      }),
    ),
    inconclusiveLimit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        default: ANALYSIS_DEFAULTS.inconclusiveLimit,
        description:
          'Inconclusive checks (no data, Prometheus unreachable) tolerated in a step; one more pauses the release ' +
          'for a person (stepwise promote goes on, abort rolls back).',
      }),
    ),
    everyStep: Type.Optional(
      Type.Boolean({
        default: ANALYSIS_DEFAULTS.everyStep,
        description: 'Analyze every step; false: only the steps with analyze: true.',
      }),
    ),
    prometheus: Type.Optional(ref('prometheus', Prometheus)),
  },
  { ...closed, description: 'Checks of Prometheus metrics that gate each step, and roll a failing release back.' },
);

/** The shapes shared with the builtin Rollout CRD, by name. */
type DefName =
  | 'replicas'
  | 'traffic'
  | 'pause'
  | 'stringMatch'
  | 'match'
  | 'step'
  | 'metric'
  | 'prometheus'
  | 'webhook'
  | 'analysis';

/** A reference into `$defs`, typed as the schema it names. */
function ref<T extends TSchema>(name: DefName, _schema: T): TUnsafe<Static<T>> {
  return Type.Unsafe<Static<T>>({ $ref: `#/$defs/${name}` });
}

export const defs: Readonly<Record<string, TSchema>> = {
  replicas: Replicas,
  traffic: Traffic,
  pause: Pause,
  stringMatch: StringMatch,
  match: Match,
  step: Step,
  metric: Metric,
  prometheus: Prometheus,
  webhook: Webhook,
  analysis: Analysis,
};

const EnvVarSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: ENV_NAME_PATTERN }),
    value: Type.Optional(Type.String()),
    valueFrom: Type.Optional(leaf<Record<string, unknown>>({ type: 'object' })),
  },
  closed,
);
const quantity = leaf<string | number>({ type: ['string', 'number'], minimum: 0, pattern: QUANTITY_PATTERN });
const ResourceListSchema = Type.Object({ cpu: Type.Optional(quantity), memory: Type.Optional(quantity) }, closed);
const port = leaf<number | string>({
  type: ['integer', 'string'],
  minimum: 1,
  maximum: 65535,
  pattern: PORT_NAME_PATTERN,
  description: 'A port number or the name of a container port.',
});
const seconds = (minimum: number) => Type.Optional(int32({ minimum }));
const ProbeSchema = Type.Object(
  {
    httpGet: Type.Optional(
      Type.Object(
        {
          path: Type.Optional(Type.String({ pattern: '^/' })),
          port,
          host: Type.Optional(Type.String()),
          scheme: Type.Optional(oneOf(['HTTP', 'HTTPS'])),
          httpHeaders: Type.Optional(
            Type.Array(
              Type.Object({ name: Type.String({ pattern: HTTP_TOKEN_PATTERN }), value: Type.String() }, closed),
            ),
          ),
        },
        closed,
      ),
    ),
    tcpSocket: Type.Optional(Type.Object({ port, host: Type.Optional(Type.String()) }, closed)),
    exec: Type.Optional(Type.Object({ command: Type.Array(Type.String(), { minItems: 1 }) }, closed)),
    grpc: Type.Optional(
      Type.Object(
        { port: Type.Integer({ minimum: 1, maximum: 65535 }), service: Type.Optional(Type.String()) },
        closed,
      ),
    ),
    initialDelaySeconds: seconds(0),
    timeoutSeconds: seconds(1),
    periodSeconds: seconds(1),
    successThreshold: seconds(1),
    failureThreshold: seconds(1),
    terminationGracePeriodSeconds: seconds(1),
  },
  { ...closed, description: 'A Kubernetes Probe: exactly one of httpGet, tcpSocket, exec or grpc.' },
);

const Workload = Type.Object(
  {
    kind: Type.Optional(
      oneOf(['Deployment', 'StatefulSet'], {
        default: 'Deployment',
        description: 'StatefulSet supports the canary strategy only (released through its partition).',
      }),
    ),
    image: Type.String({ minLength: 1, pattern: IMAGE_PATTERN }),
    replicas: Type.Optional(int32({ minimum: 0, default: 1 })),
    port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, default: 8080, description: 'The container port.' }),
    ),
    portName: Type.Optional(
      Type.String({
        pattern: PORT_NAME_PATTERN,
        default: 'http',
        description: "The container port's name, also the Service's targetPort.",
      }),
    ),
    env: Type.Optional(
      leaf<Record<string, string> | EnvVar[]>({
        description: 'A map of names to values, or a list of Kubernetes EnvVar objects.',
        type: ['object', 'array'],
        propertyNames: { pattern: ENV_NAME_PATTERN },
        additionalProperties: { type: 'string' },
        items: EnvVarSchema,
      }),
    ),
    command: Type.Optional(Type.Array(Type.String())),
    args: Type.Optional(Type.Array(Type.String())),
    resources: Type.Optional(
      Type.Object(
        { requests: Type.Optional(ResourceListSchema), limits: Type.Optional(ResourceListSchema) },
        { ...closed, description: 'Requests and limits. No defaults: Stepwise never invents resource numbers.' },
      ),
    ),
    readinessProbe: Type.Optional(ProbeSchema),
    livenessProbe: Type.Optional(ProbeSchema),
    podLabels: Type.Optional(labelMap('Labels for the pod template only.')),
    podAnnotations: Type.Optional(annotationMap('Annotations for the pod template only.')),
  },
  closed,
);

const IngressRoute = Type.Object(
  {
    name: Type.Optional(dnsLabel({ description: 'Default: the app name.' })),
    className: Type.Optional(
      dnsSubdomain({ default: 'nginx', description: "The canary annotations are ingress-nginx's." }),
    ),
    host: Type.Optional(hostname()),
    path: Type.Optional(Type.String({ pattern: '^/', default: '/' })),
    pathType: Type.Optional(oneOf(['Prefix', 'Exact', 'ImplementationSpecific'], { default: 'Prefix' })),
    tls: Type.Optional(Type.Object({ secretName: dnsSubdomain() }, closed)),
    annotations: Type.Optional(annotationMap('Added to the Ingress (and its canary).')),
  },
  closed,
);
const ParentRefSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253 }),
    namespace: Type.Optional(dnsLabel()),
    sectionName: Type.Optional(dnsSubdomain()),
  },
  closed,
);
const GatewayRoute = Type.Object(
  {
    name: Type.Optional(dnsLabel({ description: 'Default: the app name.' })),
    parentRefs: Type.Array(ParentRefSchema, { minItems: 1 }),
    hostnames: Type.Optional(Type.Array(hostname(), { maxItems: 16 })),
    path: Type.Optional(Type.String({ pattern: '^/', default: '/' })),
    pathType: Type.Optional(oneOf(['PathPrefix', 'Exact'], { default: 'PathPrefix' })),
  },
  closed,
);
const Route = Type.Object(
  { ingress: Type.Optional(IngressRoute), gateway: Type.Optional(GatewayRoute) },
  {
    ...closed,
    minProperties: 1,
    description:
      'How clients reach the app: exactly one of ingress or gateway; required for any step with traffic or matches.',
  },
);

const STRATEGIES = ['canary', 'blueGreen', 'abTest'] as const;
const ENGINES = ['builtin', 'kruise'] as const;

const Rollout = Type.Object(
  {
    strategy: oneOf(STRATEGIES, {
      description:
        'canary: new pods in a separate canary workload, traffic shifted by weight; blueGreen: a full new set beside ' +
        'the old one, traffic switched (traffic: 0% allowed); abTest: every step routes by matches.',
    }),
    engine: Type.Optional(
      oneOf(ENGINES, {
        default: 'builtin',
        description: "builtin: Stepwise's reconciler; kruise: rollouts.kruise.io/v1beta1.",
      }),
    ),
    steps: Type.Optional(
      Type.Array(ref('step', Step), { description: 'Explicit steps. Mutually exclusive with the shorthand below.' }),
    ),
    stepWeight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Flagger shorthand: traffic grows by this much per step up to maxWeight.',
      }),
    ),
    maxWeight: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: 'Flagger shorthand; 100 when absent.' }),
    ),
    stepWeights: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
        minItems: 1,
        description: 'Flagger shorthand: explicit traffic weights, e.g. [1, 5, 20, 50].',
      }),
    ),
    pause: Type.Optional(ref('pause', Pause)),
    gracePeriodSeconds: Type.Optional(
      int32({
        minimum: 0,
        default: ROLLOUT_DEFAULTS.gracePeriodSeconds,
        description: 'Seconds to wait after each traffic change.',
      }),
    ),
    failureThreshold: Type.Optional(
      leaf<ReplicasValue>({
        type: ['integer', 'string'],
        minimum: 0,
        maximum: INT32_MAX,
        pattern: PERCENT_PATTERN,
        description: 'Updated pods allowed to be not Ready when a step is judged ready (count or %); 0 when absent.',
      }),
    ),
    progressDeadlineSeconds: Type.Optional(
      int32({
        minimum: 1,
        default: ROLLOUT_DEFAULTS.progressDeadlineSeconds,
        description: 'A release whose new pods are not Ready within this many seconds is rolled back.',
      }),
    ),
    analysis: Type.Optional(ref('analysis', Analysis)),
  },
  closed,
);

const Service = Type.Object(
  {
    name: Type.Optional(serviceName({ description: 'Default: the app name.' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 80 })),
    targetPort: Type.Optional({ ...port, description: "Default: the workload's port name." } as typeof port),
  },
  { ...closed, default: {} },
);

/** The app spec schema. */
export const appSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal('App'),
    metadata: Type.Object(
      {
        name: serviceName({ description: 'Names the workload and, by default, the Service, route and Rollout.' }),
        namespace: Type.Optional(dnsLabel({ default: 'default' })),
        labels: Type.Optional(labelMap('Added to every object Stepwise emits.')),
        annotations: Type.Optional(annotationMap('Added to every object Stepwise emits.')),
      },
      closed,
    ),
    spec: Type.Object(
      { workload: Workload, service: Type.Optional(Service), route: Type.Optional(Route), rollout: Rollout },
      closed,
    ),
  },
  {
    ...closed,
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'Stepwise App',
    description: 'One app and how a new version of it is released (stepwise.dev/v1alpha1).',
    $defs: defs,
  },
);

export const KRUISE_ANALYSIS_SCHEMA_ID = 'https://stepwise.dev/schemas/v1alpha1/kruise-analysis.schema.json';

/**
 * The value (JSON) of a `rollouts.kruise.io/v1beta1` Rollout's `stepwise.dev/analysis` annotation: the analysis
 * `stepwise controller` runs on a release that OpenKruise's controller drives, and for each step what Kruise's
 * Rollout cannot say. `synth --engine kruise` writes it; it may be written by hand.
 */
export const kruiseAnalysisSchema = Type.Object(
  {
    analysis: ref('analysis', Analysis),
    steps: Type.Optional(
      Type.Array(
        Type.Object(
          {
            analyze: Type.Optional(Type.Boolean({ description: 'Analyze this step. Default: analysis.everyStep.' })),
            pause: Type.Optional(ref('pause', Pause)),
          },
          {
            ...closed,
            description:
              'A step: whether it is analyzed, and its pause once the analysis has passed, as the app spec wrote it ' +
              "(Kruise's Rollout itself waits for approval at an analyzed step); no pause when absent.",
          },
        ),
        {
          maxItems: 100,
          description:
            'One entry per step of the Rollout, in order. Absent: the steps whose Kruise pause waits for a person ' +
            'are analyzed, and approved once their analysis passes.',
        },
      ),
    ),
  },
  {
    ...closed,
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: KRUISE_ANALYSIS_SCHEMA_ID,
    title: 'Stepwise analysis of an OpenKruise Rollout',
    $defs: defs,
  },
);

export type AppSpec = Static<typeof appSchema>;
export type KruiseAnalysisSpec = Static<typeof kruiseAnalysisSchema>;
export type WorkloadSpec = AppSpec['spec']['workload'];
export type WorkloadKind = NonNullable<WorkloadSpec['kind']>;
export type EnvVar = Static<typeof EnvVarSchema>;
export type ResourceList = Static<typeof ResourceListSchema>;
export type IngressRouteSpec = Static<typeof IngressRoute>;
export type GatewayRouteSpec = Static<typeof GatewayRoute>;
export type ParentRef = Static<typeof ParentRefSchema>;
export type RolloutSpec = Static<typeof Rollout>;
export type Strategy = (typeof STRATEGIES)[number];
export type Engine = (typeof ENGINES)[number];
export type StepSpec = Static<typeof Step>;
export type PauseSpec = Static<typeof Pause>;
export type MatchSpec = Static<typeof Match>;
export type HeaderMatch = Static<typeof StringMatch>;
export type AnalysisSpec = Static<typeof Analysis>;
export type MetricSpec = Static<typeof Metric>;
export type PrometheusSpec = Static<typeof Prometheus>;
export type WebhookSpec = Static<typeof Webhook>;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];
export type MetricTemplate = (typeof METRIC_TEMPLATES)[number];
export type NoDataPolicy = (typeof NO_DATA_POLICIES)[number];
