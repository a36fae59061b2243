import type { NormalizedAnalysis } from '../appspec/normalize.js';
import type { MetricSpec, MetricTemplate, NoDataPolicy } from '../appspec/types.js';

/**
 * Metric analysis, the pure part: the built-in queries (Flagger's, per traffic provider), rendering a query's
 * variables, judging a measured value against its range, and the verdict of a step's checks under the limits.
 */

export type TrafficProvider = 'ingress' | 'gateway';

/**
 * Flagger's built-in queries (`pkg/metrics/observers/nginx.go` and `http.go`, which its `gatewayapi` provider
 * uses), as Flagger sends them: whitespace collapsed, so the same PromQL reaches Prometheus. `scale` turns the
 * result into the unit thresholds are written in (percent; milliseconds).
 */
const BUILT_IN: Record<TrafficProvider, Record<MetricTemplate, { query: string; scale: number }>> = {
  ingress: {
    'request-success-rate': {
      query:
        ' sum( rate( nginx_ingress_controller_requests{ namespace="{{ namespace }}", ingress="{{ ingress }}", ' +
        'canary!="", status!~"5.*" }[{{ interval }}] ) ) / sum( rate( nginx_ingress_controller_requests{ ' +
        'namespace="{{ namespace }}", ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) * 100',
      scale: 1,
    },
    'request-duration': {
      query:
        ' sum( rate( nginx_ingress_controller_response_duration_seconds_sum{ namespace="{{ namespace }}", ' +
        'ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) / sum( rate( ' +
        'nginx_ingress_controller_response_duration_seconds_count{ namespace="{{ namespace }}", ' +
        'ingress="{{ ingress }}", canary!="" }[{{ interval }}] ) ) * 1000',
      scale: 1,
    },
  },
  gateway: {
    'request-success-rate': {
      query:
        ' sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", ' +
        'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[{{ interval }}] ) ) / ' +
        'sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="{{ namespace }}", ' +
        'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[{{ interval }}] ) ) * 100',
      scale: 1,
    },
    'request-duration': {
      query:
        ' histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ ' +
        'kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" ' +
        '}[{{ interval }}] ) ) by (le) )',
      scale: 1000,
    },
  },
};

/** The values a query's `{{ name }}` variables take (Flagger's names). */
export interface QueryVariables {
  name: string;
  namespace: string;
  /** The workload whose pods serve the new version. */
  target: string;
  service: string;
  ingress?: string;
  route?: string;
  interval: string;
}

/** A metric's PromQL with its variables filled in, and the factor its result is scaled by. */
export function renderQuery(
  metric: Pick<MetricSpec, 'template' | 'query'>,
  provider: TrafficProvider | undefined,
  variables: QueryVariables,
): { query: string; scale: number } {
  const builtIn = metric.template && provider ? BUILT_IN[provider][metric.template] : undefined;
  if (metric.template && !builtIn) throw new Error(`the ${metric.template} template needs an Ingress or an HTTPRoute`);
  const source = builtIn?.query ?? metric.query ?? '';
  const query = source.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => {
    const value = (variables as unknown as Record<string, string | undefined>)[name];
    return value ?? whole;
  });
  return { query, scale: builtIn?.scale ?? 1 };
}

export type Verdict = 'Passed' | 'Failed' | 'Inconclusive';

/** One metric's result in a check: its value (absent: no data, or the query failed) and what it means. */
export interface MetricResult {
  metric: string;
  value?: number;
  verdict: Verdict;
  /** Why, in a sentence: the value against its range, or why there is none. */
  message: string;
}

/** What a query returned: a value, no data, or an error (Prometheus unreachable, a bad query). */
export type Measured = { value: number } | { noData: string } | { error: string };

/** Judges one measurement: in range passes; out of range fails; no data per the policy; an error is inconclusive. */
export function judge(metric: MetricSpec, measured: Measured, noData: NoDataPolicy): MetricResult {
  const { name } = metric;
  if ('error' in measured) return { metric: name, verdict: 'Inconclusive', message: `${name}: ${measured.error}` };
  if ('noData' in measured) {
    const verdict: Verdict = noData === 'fail' ? 'Failed' : noData === 'pass' ? 'Passed' : 'Inconclusive';
    return { metric: name, verdict, message: `${name}: no data (${measured.noData}); noData: ${noData}` };
  }
  const { min, max } = metric.thresholdRange;
  const value = measured.value;
  const shown = String(Number(value.toFixed(3)));
  if (min !== undefined && value < min)
    return { metric: name, value, verdict: 'Failed', message: `${name} = ${shown}, below the minimum ${min}` };
  if (max !== undefined && value > max)
    return { metric: name, value, verdict: 'Failed', message: `${name} = ${shown}, above the maximum ${max}` };
  const bounds = [min !== undefined ? `≥ ${min}` : '', max !== undefined ? `≤ ${max}` : ''];
  const range = bounds.filter(Boolean).join(', ');
  return { metric: name, value, verdict: 'Passed', message: `${name} = ${shown} (${range})` };
}

/** A check's verdict: failed if any metric failed, else inconclusive if any was, else passed. */
export function checkVerdict(results: readonly MetricResult[]): Verdict {
  if (results.some((r) => r.verdict === 'Failed')) return 'Failed';
  return results.some((r) => r.verdict === 'Inconclusive') ? 'Inconclusive' : 'Passed';
}

/** Counts of a step's checks so far. */
export interface StepTally {
  passed: number;
  failed: number;
  inconclusive: number;
}

/** Where a step's analysis stands: on to the next state, roll back, wait for a person, or measure again. */
export type StepOutcome = 'pass' | 'rollback' | 'halt' | 'continue';

export function stepOutcome(spec: NormalizedAnalysis, tally: StepTally): StepOutcome {
  if (tally.failed > spec.failureLimit) return 'rollback';
  if (tally.inconclusive > spec.inconclusiveLimit) return 'halt';
  return tally.passed >= spec.checks ? 'pass' : 'continue';
}
