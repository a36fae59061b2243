/**
 * Where requests go during a canary on a Gateway API HTTPRoute, through a real Traefik: each step's weight under
 * both engines, and an abort at step 2 (../support/releases-under-load.ts).
 */
import { test } from 'node:test';
import { useDataPlane } from '../support/releases-under-load.js';

const { release, check } = useDataPlane();

test('builtin: a canary on an HTTPRoute: each weight served, no failed request, no traffic back', async (t) => {
  check(t, await release('gateway', 'builtin', 'end'));
});

test('kruise: a canary on an HTTPRoute: each weight served as declared, no failed request', async (t) => {
  check(t, await release('gateway', 'kruise', 'end'));
});

test('builtin: abort at step 2 of a canary on an HTTPRoute: traffic back on the stable version for good', async (t) => {
  check(t, await release('gateway', 'builtin', 'abort'));
});
