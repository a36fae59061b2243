/**
 * Where requests go during an A/B test on nginx, through a real Traefik: header and cookie matches routed as each
 * step declares under both engines, and under Kruise the first version applied again at step 2, a GitOps
 * rollback (../support/releases-under-load.ts).
 */
import { test } from 'node:test';
import { useDataPlane } from '../support/releases-under-load.js';

const { release, check } = useDataPlane();

test('builtin: an A/B test: matches routed as declared, no failed request, no traffic back', async (t) => {
  check(t, await release('ab', 'builtin', 'end'));
});

test('kruise: an A/B test: header and cookie matches routed as declared, no failed request', async (t) => {
  check(t, await release('ab', 'kruise', 'end'));
});

test('kruise: the first version applied again at step 2 of an A/B test: traffic back for good', async (t) => {
  check(t, await release('ab', 'kruise', 'rollback'));
});
