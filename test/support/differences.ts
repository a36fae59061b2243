/**
 * The builtin engine's intended differences from OpenKruise v0.6.2, as the differential test observes them (field
 * names as `differential.ts` gives them). The README's "Differences from OpenKruise" list mirrors this one: each
 * title appears there, and a test checks it.
 */
export interface Difference {
  /** How the README names it, word for word. */
  readonly title: string;
  /** The observed fields it covers. */
  readonly field: RegExp;
  /** The stages of a release it covers (`step N paused`, `end`, `rolled back`); every stage when absent. */
  readonly stage?: RegExp;
}

export const DIFFERENCES: readonly Difference[] = [
  {
    title: 'The sub-status message describes the release, not a BatchRelease',
    field: /^(canaryStatus|blueGreenStatus)\.message$/,
  },
  {
    title: 'The sub-status records `currentBatchReplicas`',
    field: /^(canaryStatus|blueGreenStatus)\.currentBatchReplicas$/,
  },
  {
    title: 'The declared canary Service is kept',
    field: /^Service\/[^/]+-canary\.selector$/,
    stage: /^(end|rolled back)$/,
  },
  {
    title: "A canary's finishing rolls the workload before traffic returns to the stable Service",
    field: /^finishing$/,
    stage: /^end$/,
  },
  {
    title: 'Rolled-back pods carry no release labels',
    field: /^pods\[v1\]\.labels$/,
    stage: /^rolled back$/,
  },
];

/** The intended difference that explains a field differing at a stage, if any. */
export function intended(stage: string, field: string): Difference | undefined {
  return DIFFERENCES.find((d) => d.field.test(field) && (d.stage?.test(stage) ?? true));
}
