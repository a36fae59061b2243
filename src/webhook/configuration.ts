import { KubeApiError, type KubeClient } from '../k8s/client.js';
import { CONTROL_FIELDS } from '../apply/admit.js';
import { ROLLOUT_NAME_LABEL } from '../render/labels.js';
import { ANNOTATIONS, LABELS } from '../reconciler/observed.js';
import type { KubeObject } from '../k8s/objects.js';
import { ADMIT_PATH, WEBHOOK_CONFIGURATION } from './names.js';

export { DEFAULT_WEBHOOK_PORT, WEBHOOK_CONFIGURATION, WEBHOOK_SERVICE } from './names.js';

export type WebhookEndpoint = { url: string } | { service: { namespace: string; name: string; port?: number } };

export interface WebhookConfigurationOptions {
  endpoint: WebhookEndpoint;
  /** Let governed writes through unchecked when the webhook cannot be reached. @default false (fail closed) */
  failOpen?: boolean;
  /** Only objects in this namespace (a controller confined to it). */
  namespace?: string;
  /** The CA bundle, when already known (the controller writes it otherwise). */
  caBundle?: string;
}

/** CEL: a field differs between the old and the new object (`.?` and `[?…]` make an absent field a value). */
const differs = (path: string) => `object.${path} != oldObject.${path}`;

/**
 * The API server calls the webhook only for what admission decides on, so nothing else depends on Stepwise
 * being up: workloads whose template, rollout-id, release markers or control fields change; Services whose
 * selector changes; HTTPRoutes whose rules change; and only objects labelled with their Rollout's name.
 */
const WEBHOOKS = [
  {
    name: 'workloads.admission.stepwise.dev',
    rules: [
      { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets'], operations: ['UPDATE'] },
    ],
    when: [
      differs('spec.template'),
      ...CONTROL_FIELDS.map((f) => differs(`spec.?${f}`)),
      ...[LABELS.rolloutId, LABELS.stableRevision].map((k) => differs(`metadata.?labels.orValue({})[?'${k}']`)),
      ...[ANNOTATIONS.inProgressing, ANNOTATIONS.originalStrategy].map((k) =>
        differs(`metadata.?annotations.orValue({})[?'${k}']`),
      ),
    ],
  },
  {
    name: 'services.admission.stepwise.dev',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['UPDATE'] }],
    when: [differs('spec.?selector')],
  },
  {
    name: 'httproutes.admission.stepwise.dev',
    rules: [
      {
        apiGroups: ['gateway.networking.k8s.io'],
        apiVersions: ['v1'],
        resources: ['httproutes'],
        operations: ['UPDATE'],
      },
    ],
    when: [differs('spec.?rules')],
  },
];

export function webhookConfiguration(options: WebhookConfigurationOptions): KubeObject {
  const clientConfig = {
    ...('url' in options.endpoint
      ? { url: `${options.endpoint.url.replace(/\/$/, '')}${ADMIT_PATH}` }
      : { service: { ...options.endpoint.service, path: ADMIT_PATH, port: options.endpoint.service.port ?? 443 } }),
    ...(options.caBundle ? { caBundle: Buffer.from(options.caBundle).toString('base64') } : {}),
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: WEBHOOK_CONFIGURATION,
      labels: { 'app.kubernetes.io/name': 'stepwise', 'app.kubernetes.io/component': 'admission' },
    },
    webhooks: WEBHOOKS.map((w) => ({
      name: w.name,
      clientConfig,
      rules: w.rules.map((r) => ({ ...r, scope: 'Namespaced' })),
      objectSelector: { matchExpressions: [{ key: ROLLOUT_NAME_LABEL, operator: 'Exists' }] },
      ...(options.namespace
        ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': options.namespace } } }
        : {}),
      matchConditions: [{ name: 'release-relevant-change', expression: w.when.join(' || ') }],
      failurePolicy: options.failOpen ? 'Ignore' : 'Fail',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 5,
      matchPolicy: 'Equivalent',
      reinvocationPolicy: 'IfNeeded',
    })),
  };
}

interface WebhookConfiguration extends KubeObject {
  webhooks?: { clientConfig: { url?: string; service?: { namespace: string; name: string }; caBundle?: string } }[];
}

const CONFIGURATION_REF = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'MutatingWebhookConfiguration',
  name: WEBHOOK_CONFIGURATION,
};

/** The installed configuration, if any. */
export const installedConfiguration = (client: KubeClient) => client.get<WebhookConfiguration>(CONFIGURATION_REF);

/** The names the API server uses to reach the webhook, which the serving certificate must cover. */
export function endpointHosts(config: WebhookConfiguration | undefined): string[] {
  const hosts = new Set<string>();
  for (const { clientConfig } of config?.webhooks ?? []) {
    if (clientConfig.url) hosts.add(new URL(clientConfig.url).hostname.replace(/^\[(.*)\]$/, '$1'));
    const svc = clientConfig.service;
    if (svc)
      for (const h of [`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}.svc.cluster.local`])
        hosts.add(h);
  }
  return [...hosts];
}

/**
 * Writes `caBundle` into every webhook of the installed configuration that lacks it; false when none is
 * installed. Conditional on the version read: a concurrent writer makes it read again.
 */
export async function trustCaBundle(client: KubeClient, caBundle: string): Promise<boolean> {
  const encoded = Buffer.from(caBundle).toString('base64');
  for (let attempt = 0; ; attempt++) {
    const config = await installedConfiguration(client);
    if (!config) return false;
    if ((config.webhooks ?? []).every((w) => w.clientConfig.caBundle === encoded)) return true;
    for (const w of config.webhooks ?? []) w.clientConfig.caBundle = encoded;
    try {
      await client.replace({ ...config, ...CONFIGURATION_REF, metadata: config.metadata });
      return true;
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 409) || attempt >= 3) throw e;
    }
  }
}
