import type { NormalizedApp } from '../appspec/normalize.js';
import type { KubeObject } from '../k8s/objects.js';
import { objectMeta, ROLLOUT_ID_LABEL, selectorLabels } from './labels.js';

/**
 * The workload, exactly as specified and nothing more. Unlike cdk8s-plus, Stepwise adds no security
 * context, resource numbers, startup probe or imagePullPolicy: the cluster's and Kubernetes' defaults
 * apply, and the pod template hash changes only when the user changes the spec.
 */
export function renderWorkload(app: NormalizedApp): KubeObject {
  const w = app.workload;
  const container = {
    name: app.name,
    image: w.image,
    ...(w.command ? { command: w.command } : {}),
    ...(w.args ? { args: w.args } : {}),
    ports: [{ name: w.portName, containerPort: w.port, protocol: 'TCP' }],
    ...(w.env.length ? { env: w.env } : {}),
    ...(w.resources ? { resources: w.resources } : {}),
    ...(w.readinessProbe ? { readinessProbe: w.readinessProbe } : {}),
    ...(w.livenessProbe ? { livenessProbe: w.livenessProbe } : {}),
  };
  const podAnnotations = w.podAnnotations;
  // The rollout-id marks the workload (a new one starts a release); pods get it per batch, never in the template.
  const { [ROLLOUT_ID_LABEL]: _rolloutId, ...podLabels } = { ...app.labels, ...w.podLabels };
  const template = {
    metadata: {
      labels: { ...podLabels, ...selectorLabels(app) },
      ...(Object.keys(podAnnotations).length ? { annotations: { ...podAnnotations } } : {}),
    },
    spec: { containers: [container] },
  };
  const spec: Record<string, unknown> = {
    replicas: w.replicas,
    selector: { matchLabels: selectorLabels(app) },
    template,
  };
  if (w.kind === 'StatefulSet') spec.serviceName = app.service.name;
  return { apiVersion: 'apps/v1', kind: w.kind, metadata: objectMeta(app, app.name), spec };
}

/** The stable Service: selects every version's pods; a release pins it to the stable revision. */
export function renderService(app: NormalizedApp): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, app.service.name),
    spec: {
      selector: selectorLabels(app),
      ports: [
        { name: app.workload.portName, port: app.service.port, targetPort: app.service.targetPort, protocol: 'TCP' },
      ],
    },
  };
}

/** The app's Ingress or HTTPRoute, routing everything to the stable Service. */
export function renderRoute(app: NormalizedApp): KubeObject | undefined {
  const route = app.route;
  if (!route) return undefined;
  if (route.kind === 'ingress') {
    const backend = { service: { name: app.service.name, port: { number: app.service.port } } };
    const meta = objectMeta(app, route.name);
    const annotations = { ...meta.annotations, ...route.annotations };
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { ...meta, ...(Object.keys(annotations).length ? { annotations } : {}) },
      spec: {
        ingressClassName: route.className,
        ...(route.tls
          ? { tls: [{ ...(route.host ? { hosts: [route.host] } : {}), secretName: route.tls.secretName }] }
          : {}),
        rules: [
          {
            ...(route.host ? { host: route.host } : {}),
            http: { paths: [{ path: route.path, pathType: route.pathType, backend }] },
          },
        ],
      },
    };
  }
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: objectMeta(app, route.name),
    spec: {
      parentRefs: route.parentRefs.map((p) => ({ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...p })),
      ...(route.hostnames.length ? { hostnames: route.hostnames } : {}),
      rules: [
        {
          matches: [{ path: { type: route.pathType, value: route.path } }],
          backendRefs: [{ group: '', kind: 'Service', name: app.service.name, port: app.service.port }],
        },
      ],
    },
  };
}
