import type { KubeObject } from '../traffic/objects.js';

/** Exactly what the reconciler reads and writes, and nothing more. */
export const RECONCILER_RULES = [
  { apiGroups: ['stepwise.dev'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['stepwise.dev'], resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
  // The workload: read, paused/unpaused, strategy and template restored; the canary Deployment is Stepwise's own.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
  // Pods get their batch labels.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
  // Stable Service pinned, canary Service created or narrowed.
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  // Leader election of `stepwise controller`.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/**
 * A ServiceAccount for `stepwise controller` and its permissions: a ClusterRole and binding, or with
 * `watchNamespace` a Role and RoleBinding confined to that namespace.
 */
export function reconcilerRbac(options: { namespace: string; watchNamespace?: string; name?: string }): KubeObject[] {
  const name = options.name ?? 'stepwise-reconciler';
  const labels = { 'app.kubernetes.io/name': 'stepwise', 'app.kubernetes.io/component': 'reconciler' };
  const scoped = options.watchNamespace !== undefined;
  const roleKind = scoped ? 'Role' : 'ClusterRole';
  const roleMeta = { name, labels, ...(scoped ? { namespace: options.watchNamespace } : {}) };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: options.namespace, labels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: roleKind, metadata: roleMeta, rules: RECONCILER_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: scoped ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: roleMeta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: options.namespace }],
    },
  ];
}
