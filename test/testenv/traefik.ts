/**
 * A real proxy in front of the test cluster: Traefik (the pinned build), on 127.0.0.1, serving both the Ingresses
 * of class `nginx` with ingress-nginx's canary annotations and Gateway API HTTPRoutes, with update checks and
 * usage reports off. See ../../../shared/reference/dataplane.md.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { ensureTraefik } from './build.js';
import type { Cluster } from './cluster.js';
import { register, unregister } from './cluster.js';
import { freePorts, probe, startComponent, stopComponents, waitFor } from './process.js';

/** The Gateway the examples attach their HTTPRoutes to. */
export const GATEWAY = { namespace: 'gateway-system', name: 'public' };
const GATEWAY_CLASS = 'traefik';

/** What Traefik serves, as its API reports it: routers, middlewares and services by name (`name@provider`). */
export interface TraefikConfiguration {
  routers: Record<string, { rule?: string; service?: string; status?: string }>;
  middlewares?: Record<string, unknown>;
  services: Record<
    string,
    {
      weighted?: { services?: { name: string; weight?: number }[] };
      loadBalancer?: { servers?: { url: string }[] };
      serverStatus?: Record<string, string>;
      status?: string;
      usedBy?: string[];
    }
  >;
}

export interface Traefik {
  /** Where requests go: `http://127.0.0.1:PORT`, the entry point of both providers. */
  readonly url: string;
  /** Its API, `/ping` and Prometheus `/metrics`. */
  readonly adminUrl: string;
  readonly log: string;
  /** What it serves now: its API's runtime configuration. */
  configuration(): Promise<TraefikConfiguration>;
  stop(): Promise<void>;
}

/**
 * What both providers need in the cluster: the IngressClass ingress-nginx claims (the default one, as class-less
 * Ingresses are served too), Traefik's GatewayClass, and the examples' Gateway, listening on the entry point's port.
 */
function routingObjects(port: number): KubeObject[] {
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
      spec: { controller: 'k8s.io/ingress-nginx' },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: GATEWAY_CLASS },
      spec: { controllerName: 'traefik.io/gateway-controller' },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: GATEWAY.namespace } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: GATEWAY,
      spec: {
        gatewayClassName: GATEWAY_CLASS,
        listeners: [{ name: 'web', protocol: 'HTTP', port, allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    },
  ];
}

function staticConfig(port: number, adminPort: number) {
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: { web: { address: `127.0.0.1:${port}` }, traefik: { address: `127.0.0.1:${adminPort}` } },
    // No throttling: a step's write is served as soon as Traefik sees it.
    providers: {
      providersThrottleDuration: '0s',
      kubernetesIngressNGINX: { throttleDuration: '0s', watchIngressWithoutClass: true },
      kubernetesGateway: { throttleDuration: '0s' },
    },
    api: { insecure: true },
    ping: { entryPoint: 'traefik' },
    metrics: { prometheus: { entryPoint: 'traefik', addServicesLabels: true, addRoutersLabels: true } },
    log: { level: 'WARN' },
  };
}

/** Starts Traefik beside `cluster`; resolves once it answers `/ping` and its Gateway is programmed. */
export async function startTraefik(cluster: Cluster): Promise<Traefik> {
  const binary = await ensureTraefik();
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const client = new KubeClient(cluster.kubeConfig());
  for (const object of routingObjects(port)) await client.apply(object, { force: true });
  const dir = cluster.state.runDir;
  const config = `${dir}/traefik.yaml`;
  writeFileSync(config, stringify(staticConfig(port, adminPort)));
  const log = `${dir}/traefik.log`;
  const component = startComponent('traefik', binary, [`--configFile=${config}`], log, false, {
    env: { KUBECONFIG: cluster.state.kubeconfig },
  });
  register([component]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const stop = async () => {
    await stopComponents([component]);
    unregister([component]);
  };
  try {
    await waitFor(
      'traefik to answer /ping',
      async () => (await probe(`${adminUrl}/ping`))?.status === 200,
      30_000,
      component,
    );
    await waitFor('the Gateway to be programmed', () => programmed(client), 30_000, component);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    log,
    async configuration() {
      const r = await probe(`${adminUrl}/api/rawdata`);
      if (r?.status !== 200) throw new Error(`traefik's API answered ${r?.status ?? 'nothing'}`);
      return JSON.parse(r.body) as TraefikConfiguration;
    },
    stop,
  };
}

async function programmed(client: KubeClient): Promise<boolean> {
  const gateway = await client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    ...GATEWAY,
  });
  return gateway?.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') ?? false;
}
