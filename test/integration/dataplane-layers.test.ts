/**
 * Where requests go during a canary on nginx in weight steps (10% to 50%, then all) from layered config, through a
 * real Traefik: each weight under both engines (../support/releases-under-load.ts).
 */
import { test } from 'node:test';
import { useDataPlane } from '../support/releases-under-load.js';

const { release, check } = useDataPlane();

test('builtin: a canary in weight steps: each weight served, no failed request, no traffic back', async (t) => {
  check(t, await release('layers', 'builtin', 'end'));
});

test('kruise: a canary in weight steps: each weight served as declared, no failed request', async (t) => {
  check(t, await release('layers', 'kruise', 'end'));
});
