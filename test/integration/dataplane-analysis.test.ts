/**
 * Metric analysis on real request metrics: the canary on an HTTPRoute whose new version answers every request with
 * 500, released through a real Traefik while requests flow, analyzed on Traefik's own Prometheus metrics scraped by
 * a real Prometheus. The first checks fail on the measured success rate and the release rolls back: the new version
 * never gets traffic again, and the only failed requests are the ones it answered before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { refOf } from '../../src/reconciler/actions.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { startPrometheus } from '../support/prometheus.js';
import { SCENARIOS, type TrafficScenario, useDataPlane } from '../support/releases-under-load.js';
import { failed } from '../support/traffic.js';

const { lab, check } = useDataPlane();

/** The canary's backends as Traefik's Gateway API provider names them in its metrics' `service` label. */
const CANARY = 'service=~".*-svc-{{ namespace }}-{{ service }}-canary-[0-9]+@kubernetesgateway"';
/**
 * The success rate of the canary's backends as Traefik counts their answers (`traefik_service_requests_total`):
 * percent not 5xx. `or vector(0)`: with every answer a 5xx there is no series of the others, which would make the
 * ratio no data (inconclusive) instead of 0.
 */
const SUCCESS_RATE =
  `(sum(rate(traefik_service_requests_total{${CANARY},code!~"5.."}[{{ interval }}])) or vector(0)) / ` +
  `sum(rate(traefik_service_requests_total{${CANARY}}[{{ interval }}])) * 100`;

/**
 * The gateway example (its timed pauses kept: a step goes on only after its checks pass), checked every 2 s on the
 * success rate; no data (no request counted yet) waits for the next check.
 */
function analyzed(prometheus: string): TrafficScenario {
  const gateway = SCENARIOS.gateway;
  return {
    ...gateway,
    name: 'a canary on an HTTPRoute analyzed on Traefik metrics',
    slug: 'analysis',
    broken: 500,
    edit(text) {
      const app = parse(text);
      app.spec.rollout.analysis = {
        intervalSeconds: 2,
        checks: 2,
        inconclusiveLimit: 10,
        prometheus: { address: prometheus },
        metrics: [{ name: 'success', query: SUCCESS_RATE, thresholdRange: { min: 99 }, interval: '10s' }],
      };
      return stringify(app);
    },
  };
}

const name =
  'a new version answering 500 is rolled back on Traefik metrics: no traffic to it after, nothing else failed';
test(name, async (t) => {
  const site = await lab();
  const prometheus = await startPrometheus(new URL(site.plane.traefik.adminUrl).host);
  t.after(() => prometheus.stop());
  await prometheus.scraped(2);
  const scenario = analyzed(prometheus.address);

  const r = await site.release(scenario, 'builtin', 'analysis');
  const rollout = (await site.client.get<RolloutObject>(refOf(r.rollout)))!;
  const failure = rollout.status?.analysis?.failure ?? '';
  const fromNew = r.answers.filter((a) => a.version === scenario.image);
  const exposedMs = (fromNew.at(-1)?.sentAt ?? 0) - (fromNew[0]?.sentAt ?? 0);
  t.diagnostic(`${failure}; the new version answered ${fromNew.length} requests (all 500) over ${exposedMs} ms`);

  assert.ok(fromNew.length > 0, 'the canary got traffic before the analysis failed');
  assert.match(failure, /^success = 0, below the minimum 99/);
  assert.deepEqual(
    rollout.status?.conditions?.filter((c) => c.type === 'Succeeded').map((c) => c.status),
    ['False'],
    'the release was rolled back',
  );
  assert.ok(failed(fromNew).length === fromNew.length, 'the new version answered 500 to every request');
  // As for any rollback: no other failed request, each window as declared, no traffic to the new version once dropped.
  check(t, r);
});
