/**
 * The release defaults, written once: the app spec's schema, normalization, the builtin Rollout's CRD and the
 * reconciler (for hand-written Rollouts that leave them out) all take them from here.
 */
export const ROLLOUT_DEFAULTS = {
  /** Seconds to wait after each traffic change (OpenKruise's default). */
  gracePeriodSeconds: 3,
  /** A release whose new pods are not Ready within this many seconds is rolled back. */
  progressDeadlineSeconds: 600,
} as const;

/** Metric analysis defaults, written once: the app spec's schema, normalization and the reconciler take them here. */
export const ANALYSIS_DEFAULTS = {
  /** Seconds between checks of a step (the first one interval after its traffic is in place). */
  intervalSeconds: 60,
  /** Passed checks a step needs. */
  checks: 1,
  /** Failed checks tolerated in a step before the release rolls back. */
  failureLimit: 0,
  /** What a query without a value counts as. */
  noData: 'inconclusive',
  /** Inconclusive checks tolerated in a step before the release waits for a person. */
  inconclusiveLimit: 0,
  everyStep: true,
  /** The range of a metric's rates (`{{ interval }}`). */
  metricInterval: '1m',
  /** Seconds a Prometheus query may take, per attempt. */
  timeoutSeconds: 10,
  /** Seconds a webhook may take to answer, per attempt (Flagger's default). */
  webhookTimeoutSeconds: 10,
  /** Further attempts after a connection error, a timeout or a 5xx. */
  webhookRetries: 2,
} as const;

/**
 * The annotation of an OpenKruise (`rollouts.kruise.io/v1beta1`) Rollout that carries, as JSON, the analysis
 * `stepwise controller` runs on its releases (`kruiseAnalysisSchema`).
 */
export const KRUISE_ANALYSIS_ANNOTATION = 'stepwise.dev/analysis';
/** Where `stepwise controller` records a Kruise-run release's analysis (the builtin Rollout's `status.analysis`). */
export const KRUISE_ANALYSIS_STATUS_ANNOTATION = 'stepwise.dev/analysis-status';
/** The webhooks that run beside a Kruise-run release: Stepwise gates its pauses, not its other phases. */
export const KRUISE_WEBHOOK_TYPES = ['rollout', 'rollback'] as const;

/** An http:// or https:// URL (Prometheus, webhooks). */
export const HTTP_URL_PATTERN = '^https?://\\S+$';

/** A Prometheus duration: `30s`, `1m`, `1h30m`. */
export const PROMETHEUS_DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d|w|y))+$';

/** Parses `"20%"` to 20; anything else (a fraction of a percent among them) to undefined. */
export function parsePercent(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^([0-9]+)%$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

/** Header and query-parameter names as HTTP defines tokens (the same rule as Gateway API and OpenKruise). */
export const HTTP_TOKEN_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$";

/*
 * Kubernetes' own rules for the values that reach objects (apimachinery's validation package), as patterns; the
 * lengths are in the patterns where JSON Schema cannot say them otherwise.
 */
/** An RFC 1123 label (at most 63): namespaces, route names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** An RFC 1035 label (at most 63): a Service's name, which must start with a letter. */
export const DNS_1035_LABEL_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
/** An RFC 1123 subdomain (at most 253): class names, Secret names. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A host name, optionally with a wildcard first label (`*.example.com`), as Ingress and Gateway API take it. */
export const HOSTNAME_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A label or annotation key: an optional DNS subdomain prefix (at most 253) and `/`, then a name of at most 63. */
export const QUALIFIED_NAME_PATTERN =
  '^((?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' +
  '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
/** A label value: empty, or at most 63 of letters, digits, `-`, `_` and `.`, starting and ending alphanumeric. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
/** A port name (IANA service name): at most 15, lowercase letters, digits and single `-`, at least one letter. */
export const PORT_NAME_PATTERN = '^(?=.{1,15}$)(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** An image reference: Kubernetes refuses leading or trailing whitespace. */
export const IMAGE_PATTERN = '^\\S(.*\\S)?$';
/** An environment variable name: printable ASCII but `=` (Kubernetes' relaxed rule, GA in 1.34). */
export const ENV_NAME_PATTERN = '^[ -<>-~]+$';
/** The largest integer a Kubernetes int32 field (replicas, seconds) holds. */
export const INT32_MAX = 2147483647;
/** All annotations of one object together, in bytes (apimachinery's `TotalAnnotationSizeLimitB`). */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** A share of pods, as Kubernetes' int-or-percent takes it: a whole number and `%`. */
export const PERCENT_PATTERN = '^[0-9]+%$';
/** A share of traffic: a whole number of percent (the range is checked by the rules). */
export const TRAFFIC_PATTERN = '^[0-9]{1,3}%$';

/**
 * Kubernetes' resource quantity grammar (apimachinery's `resource.Quantity`), without a sign: requests and
 * limits cannot be negative. `250m`, `0.5`, `1e3`, `128Mi`, `1Gi`.
 */
export const QUANTITY_PATTERN =
  '^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const QUANTITY = new RegExp(QUANTITY_PATTERN);

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A quantity (`"250m"`, `"1.5"`, `"128Mi"`, `"1e3"`) as its plain number value; one the schema accepted. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  if (!QUANTITY.test(q)) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  const suffix = /(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])$/.exec(q)?.[1];
  const number = suffix ? q.slice(0, -suffix.length) : q;
  return Number(number) * (suffix ? (BINARY[suffix] ?? DECIMAL[suffix] ?? 1) : 1);
}
