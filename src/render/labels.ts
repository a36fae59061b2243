import type { NormalizedApp } from '../appspec/normalize.js';

export const NAME_LABEL = 'app.kubernetes.io/name';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** On a workload: a new value starts a release even with an unchanged template (OpenKruise's rollout-id). */
export const ROLLOUT_ID_LABEL = 'stepwise.dev/rollout-id';
/**
 * On every object a builtin Rollout governs (workload, Services, route): the Rollout's name. The admission
 * webhook selects on it, so no other object in the cluster depends on Stepwise being up.
 */
export const ROLLOUT_NAME_LABEL = 'stepwise.dev/rollout-name';

/** Labels on every object of an app. */
export function objectLabels(app: NormalizedApp): Record<string, string> {
  return { ...app.labels, [NAME_LABEL]: app.name, [MANAGED_BY_LABEL]: 'stepwise' };
}

/**
 * The selector shared by the workload and the stable Service; it never changes, so it is safe as an immutable
 * Deployment selector.
 */
export function selectorLabels(app: NormalizedApp): Record<string, string> {
  return { [NAME_LABEL]: app.name };
}

export function objectMeta(app: NormalizedApp, name: string) {
  return {
    name,
    namespace: app.namespace,
    labels: objectLabels(app),
    ...(Object.keys(app.annotations).length ? { annotations: { ...app.annotations } } : {}),
  };
}
