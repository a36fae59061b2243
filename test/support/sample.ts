import { isReady } from '../../src/reconciler/observed.js';
import { eventually } from './kube.js';
import type { ReleaseHarness } from './release.js';

/**
 * Samples every `everyMs` while `during` runs (and ten samples after it), collecting what `check` reports as
 * wrong: invariants that must hold at every moment of a release, not only at its end. Sampling stops on its
 * own, bounded by `during` and the trailing samples.
 */
export async function sampled(
  check: () => Promise<string | undefined>,
  during: () => Promise<void>,
  everyMs = 100,
): Promise<{ violations: string[]; samples: number }> {
  const violations: string[] = [];
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const problem = await check();
      samples++;
      if (problem) violations.push(problem);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    await during();
    const until = samples + 10;
    await eventually('ten more samples', async () => samples >= until);
  } finally {
    running = false;
    await loop;
  }
  return { violations, samples };
}

/**
 * What a rollback must never do, at any moment: take a new pod away while the canary Ingress still routes to the
 * new version, or unpin the stable Service while a new pod is Ready (it would then serve the new version). Each
 * sample reads the stable Service, then the pods, then the Ingress: during a rollback new pods only go and
 * routing only leaves them, so a violation seen across those reads was real at a single moment.
 */
export async function rollbackOrder(h: ReleaseHarness, v1: string): Promise<string | undefined> {
  const stable = await h.selector('echoserver-service');
  const newPods = (await h.pods()).filter((p) => p.metadata.labels?.['pod-template-hash'] !== v1);
  const weight = (await h.annotations('echoserver-ingress-canary'))?.['nginx.ingress.kubernetes.io/canary-weight'];
  const ready = newPods.filter(isReady).length;
  if (weight !== undefined && newPods.length < 5)
    return `${newPods.length}/5 new pods left while the canary Ingress still exists (weight ${weight})`;
  if (stable?.['pod-template-hash'] === undefined && ready > 0)
    return `stable Service unpinned while ${ready} new pods are Ready`;
  return undefined;
}
