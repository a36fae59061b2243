/**
 * Where requests go during the seed blue-green release on nginx, through a real Traefik: each step's split under
 * both engines, and an undo at step 2 (../support/releases-under-load.ts).
 */
import { test } from 'node:test';
import { useDataPlane } from '../support/releases-under-load.js';

const { release, check } = useDataPlane();

test("builtin: the seed blue-green release: each step's split, no failed request, no traffic back", async (t) => {
  check(t, await release('seed', 'builtin', 'end'));
});

test('kruise: the seed blue-green release: each step split as declared, no failed request', async (t) => {
  check(t, await release('seed', 'kruise', 'end'));
});

test('builtin: undo at step 2 of the seed blue-green release: traffic back on stable for good', async (t) => {
  check(t, await release('seed', 'builtin', 'undo'));
});
