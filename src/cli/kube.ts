import type { KubeConfig } from '@kubernetes/client-node';
import type { PrometheusEndpoint } from '../analysis/prometheus.js';
import { HTTP_URL_PATTERN } from '../appspec/values.js';
import { KubeClient } from '../k8s/client.js';
import { CliError } from './io.js';

/** Options every cluster-facing command takes, as kubectl names them. */
export const clusterOptions = {
  kubeconfig: { type: 'string', describe: 'Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)' },
  context: { type: 'string', describe: 'The kubeconfig context to use' },
  namespace: { alias: 'n', type: 'string', describe: 'Namespace (default: the context\'s, else "default")' },
} as const;

/** Where Rollouts that name no Prometheus of their own are analyzed (commands that run releases). */
export const prometheusOptions = {
  'prometheus-address': {
    type: 'string',
    describe: 'Prometheus for Rollouts whose analysis names none, e.g. http://prometheus.monitoring:9090',
  },
  'prometheus-bearer-token-file': { type: 'string', describe: 'Bearer token sent to it (read at every query)' },
  'prometheus-ca-file': { type: 'string', describe: 'PEM CA bundle for an https Prometheus' },
} as const;

export interface PrometheusArgs {
  'prometheus-address'?: string;
  'prometheus-bearer-token-file'?: string;
  'prometheus-ca-file'?: string;
}

/** The Prometheus the options name, if any. */
export function prometheusEndpoint(args: PrometheusArgs): PrometheusEndpoint | undefined {
  const address = args['prometheus-address'];
  if (!address) return undefined;
  if (!new RegExp(HTTP_URL_PATTERN).test(address))
    throw new CliError(`--prometheus-address must be an http:// or https:// address, got ${JSON.stringify(address)}`);
  const token = args['prometheus-bearer-token-file'];
  const ca = args['prometheus-ca-file'];
  return { address, ...(token ? { bearerTokenFile: token } : {}), ...(ca ? { caFile: ca } : {}) };
}

export interface ClusterArgs {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/**
 * The kubeconfig as kubectl finds it (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config), with `--context`.
 * client-node (which reads kubeconfigs) is imported only here: it takes most of a second to load, which commands
 * that never reach a cluster should not pay.
 */
async function loadKubeConfig(args: ClusterArgs): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (args.kubeconfig) kc.loadFromFile(args.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new CliError(`cannot load the kubeconfig: ${(e as Error).message}`);
  }
  if (args.context) kc.setCurrentContext(args.context);
  return kc;
}

const contextNamespace = (kc: KubeConfig) => kc.getContextObject(kc.getCurrentContext())?.namespace;

/** The namespace commands use: `-n`, else the kubeconfig context's, else "default"; never fails, needs no cluster. */
export async function kubeconfigNamespace(args: ClusterArgs): Promise<string> {
  if (args.namespace) return args.namespace;
  const kc = await loadKubeConfig(args).catch(() => undefined);
  return (kc && contextNamespace(kc)) ?? 'default';
}

/** A client for the kubeconfig's cluster, and the namespace to work in. */
export async function connect(args: ClusterArgs): Promise<{ client: KubeClient; namespace: string }> {
  const kc = await loadKubeConfig(args);
  // Without any kubeconfig client-node falls back to http://localhost:8080, which it then refuses to use.
  const cluster = kc.getCurrentCluster();
  if (!cluster || cluster.server === 'http://localhost:8080') {
    throw new CliError('no cluster in the kubeconfig: set KUBECONFIG or pass --kubeconfig');
  }
  return { client: new KubeClient(kc), namespace: args.namespace ?? contextNamespace(kc) ?? 'default' };
}
