import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../k8s/client.js';
import { CliError } from './io.js';

/** Options every cluster-facing command takes, as kubectl names them. */
export const clusterOptions = {
  kubeconfig: { type: 'string', describe: 'Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)' },
  context: { type: 'string', describe: 'The kubeconfig context to use' },
  namespace: { alias: 'n', type: 'string', describe: 'Namespace (default: the context\'s, else "default")' },
} as const;

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
