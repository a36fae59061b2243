import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../k8s/client.js';
import { send } from './http.js';
import type { Measured } from './metrics.js';

/** Where a Prometheus is and how to reach it. */
export interface PrometheusEndpoint {
  /** `http(s)://host:port` and any path prefix before `/api/v1`. */
  address: string;
  /** A bearer token read from this file at every query (projected tokens rotate). */
  bearerTokenFile?: string;
  /** PEM CA bundle for an https address. */
  caFile?: string;
  /** Per query attempt. @default 10 */
  timeoutSeconds?: number;
}

/** Attempts per query: a failed request (a reset, a 5xx, a timeout) is tried again after a backoff with jitter. */
const ATTEMPTS = 3;

export interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown };
}

/**
 * An instant query (`/api/v1/query`) read as one number, as Flagger reads it: one series (or a scalar) gives its
 * value; no series, or NaN (a ratio of no requests), is no data; several series, an error from Prometheus or no
 * answer after the retries is an error, which a check counts as inconclusive, never as a value.
 */
export async function queryValue(endpoint: PrometheusEndpoint, query: string, scale = 1): Promise<Measured> {
  let last = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(backoffMs(200, attempt, 2000));
    try {
      const { status, text } = await get(endpoint, `/api/v1/query?query=${encodeURIComponent(query)}`);
      if (status >= 500 || status === 429) {
        last = `Prometheus answered ${status}`;
        continue;
      }
      const parsed = JSON.parse(text) as QueryResponse;
      if (parsed.status !== 'success') return { error: `Prometheus: ${parsed.error ?? `status ${status}`}` };
      return readResult(parsed.data, scale);
    } catch (e) {
      last = (e as Error).message;
    }
  }
  return { error: `Prometheus at ${endpoint.address} did not answer (${last})` };
}

/** A query's `data` as one number (scaled), no data, or why it is neither. */
export function readResult(data: QueryResponse['data'], scale: number): Measured {
  const samples: string[] = [];
  if (data?.resultType === 'scalar') samples.push((data.result as [number, string])[1]);
  else if (data?.resultType === 'vector') {
    for (const series of data.result as { value: [number, string] }[]) samples.push(series.value[1]);
  } else return { error: `a ${data?.resultType ?? 'missing'} result; the query must give one number` };
  if (samples.length === 0) return { noData: 'the query returned no series' };
  if (samples.length > 1) return { error: `the query returned ${samples.length} series; aggregate it to one` };
  const value = Number(samples[0]);
  if (Number.isNaN(value)) return { noData: 'the query returned NaN (no requests in the interval)' };
  return { value: value * scale };
}

function get(endpoint: PrometheusEndpoint, path: string): Promise<{ status: number; text: string }> {
  const token = endpoint.bearerTokenFile ? readFileSync(endpoint.bearerTokenFile, 'utf8').trim() : undefined;
  return send(endpoint.address.replace(/\/$/, '') + path, {
    method: 'GET',
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(endpoint.caFile ? { ca: readFileSync(endpoint.caFile) } : {}),
    timeoutMs: (endpoint.timeoutSeconds ?? 10) * 1000,
  });
}
