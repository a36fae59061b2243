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

/** Parses `"12.5%"` to 12.5; anything else to undefined. */
export function parsePercent(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

/** Header and query-parameter names as HTTP defines tokens (the same rule as Gateway API and OpenKruise). */
export const HTTP_TOKEN_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$";
/** An RFC 1123 label, as Kubernetes names most objects. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A percentage such as `"20%"` or `"12.5%"`. */
export const PERCENT_PATTERN = '^[0-9]+(\\.[0-9]+)?%$';

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
