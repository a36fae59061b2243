import type { KubeObject } from '../k8s/objects.js';
import { DEFAULT_SECRET_NAME } from '../webhook/certificates.js';
import { WEBHOOK_CONFIGURATION } from '../webhook/configuration.js';

/** Exactly what the reconciler reads and writes, and nothing more. */
export const RECONCILER_RULES = [
  { apiGroups: ['stepwise.dev'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['stepwise.dev'], resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
  // The workload: read, paused/unpaused, strategy and template restored; the canary Deployment is Stepwise's own.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'patch'] },
  // A blue-green release keeps the stable ReplicaSet's pods from counting as available (minReadySeconds).
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch', 'patch'] },
  // Pods get their batch labels.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
  // Stable Service pinned, canary Service created or narrowed.
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  // OpenKruise's Rollouts that carry analysis: the record annotated, analyzed steps approved.
  { apiGroups: ['rollouts.kruise.io'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['rollouts.kruise.io'], resources: ['rollouts/status'], verbs: ['patch'] },
  // Leader election of `stepwise controller`.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/**
 * The admission webhook's own: its certificate Secret (in the controller's namespace) and its configuration's CA
 * bundle.
 */
const SECRET_RULES = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update'], resourceNames: [DEFAULT_SECRET_NAME] },
];
const WEBHOOK_CONFIGURATION_RULES = [
  {
    apiGroups: ['admissionregistration.k8s.io'],
    resources: ['mutatingwebhookconfigurations'],
    verbs: ['get', 'update'],
    resourceNames: [WEBHOOK_CONFIGURATION],
  },
];

const RBAC = 'rbac.authorization.k8s.io';

/** A Role or ClusterRole with its binding to the ServiceAccount. */
function grant(
  name: string,
  rules: unknown[],
  account: { name: string; namespace: string },
  namespace?: string,
): KubeObject[] {
  const labels = { 'app.kubernetes.io/name': 'stepwise', 'app.kubernetes.io/component': 'reconciler' };
  const kind = namespace === undefined ? 'ClusterRole' : 'Role';
  const metadata = { name, labels, ...(namespace === undefined ? {} : { namespace }) };
  return [
    { apiVersion: `${RBAC}/v1`, kind, metadata, rules },
    {
      apiVersion: `${RBAC}/v1`,
      kind: `${kind}Binding`,
      metadata,
      roleRef: { apiGroup: RBAC, kind, name },
      subjects: [{ kind: 'ServiceAccount', ...account }],
    },
  ];
}

/**
 * A ServiceAccount for `stepwise controller` in `namespace` and its permissions: the reconciler's as a
 * ClusterRole, or with `watchNamespace` as a Role confined to that namespace; the webhook's certificate
 * Secret in `namespace`; and the CA bundle of the webhook configuration (cluster-scoped, by name).
 */
export function reconcilerRbac(options: { namespace: string; watchNamespace?: string; name?: string }): KubeObject[] {
  const name = options.name ?? 'stepwise-reconciler';
  const account = { name, namespace: options.namespace };
  const labels = { 'app.kubernetes.io/name': 'stepwise', 'app.kubernetes.io/component': 'reconciler' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...account, labels } },
    ...grant(name, RECONCILER_RULES, account, options.watchNamespace),
    ...grant(`${name}-webhook`, SECRET_RULES, account, options.namespace),
    ...grant(`${name}-webhook`, WEBHOOK_CONFIGURATION_RULES, account),
  ];
}
