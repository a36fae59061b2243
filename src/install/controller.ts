import type { KubeObject } from '../k8s/objects.js';
import { DEFAULT_WEBHOOK_PORT, WEBHOOK_SERVICE } from '../webhook/names.js';

/** The in-cluster controller: its image, namespace, account and what it watches. */
export interface ControllerInstall {
  namespace: string;
  /** The image `scripts/image/build.sh` builds (as pushed to a registry the cluster pulls from). */
  image: string;
  /** The ServiceAccount `reconcilerRbac` grants. */
  serviceAccount: string;
  /** Watch one namespace; every namespace when absent. */
  watchNamespace?: string;
  /** Replicas, one leading at a time. @default 2 */
  replicas?: number;
}

const METRICS_PORT = 8080;
const HEALTH_PORT = 8081;
const LABELS = { 'app.kubernetes.io/name': 'stepwise', 'app.kubernetes.io/component': 'controller' };

/**
 * The objects that run `stepwise controller` in the cluster: its namespace, a Deployment of two replicas (leader
 * election, probes on /healthz and /readyz, requests and limits, the restricted Pod Security profile, spread over
 * nodes), a PodDisruptionBudget that keeps one up, and the Service in front of the admission webhook.
 */
export function controllerObjects(options: ControllerInstall): KubeObject[] {
  const { namespace } = options;
  const metadata = { name: WEBHOOK_SERVICE, namespace, labels: LABELS };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: LABELS } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: deploymentSpec(options) } as KubeObject,
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata,
      spec: { minAvailable: 1, selector: { matchLabels: LABELS } },
    } as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: { selector: LABELS, ports: [{ name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' }] },
    } as KubeObject,
  ];
}

function deploymentSpec({ namespace, image, serviceAccount, watchNamespace, replicas = 2 }: ControllerInstall) {
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: 'health' },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    replicas,
    selector: { matchLabels: LABELS },
    template: {
      metadata: {
        labels: LABELS,
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(METRICS_PORT),
          'prometheus.io/path': '/metrics',
        },
      },
      spec: {
        serviceAccountName: serviceAccount,
        // SIGTERM hands the Lease over at once; passes under way get a few seconds first.
        terminationGracePeriodSeconds: 30,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: { labelSelector: { matchLabels: LABELS }, topologyKey: 'kubernetes.io/hostname' },
              },
            ],
          },
        },
        containers: [
          {
            name: 'controller',
            image,
            args: [
              'controller',
              ...(watchNamespace ? ['--namespace', watchNamespace] : ['--all-namespaces']),
              '--lease-namespace',
              namespace,
              '--webhook-port',
              String(DEFAULT_WEBHOOK_PORT),
              '--metrics-bind-address',
              `:${METRICS_PORT}`,
              '--health-probe-bind-address',
              `:${HEALTH_PORT}`,
              '--log-format',
              'json',
            ],
            ports: [
              { name: 'webhook', containerPort: DEFAULT_WEBHOOK_PORT, protocol: 'TCP' },
              { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
              { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
            ],
            readinessProbe: probe('/readyz', 5),
            livenessProbe: { ...probe('/healthz', 10), initialDelaySeconds: 5 },
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      },
    },
  };
}
