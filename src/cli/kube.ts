import { KubeConfig } from '@kubernetes/client-node';
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

export function connect(args: ClusterArgs): { client: KubeClient; namespace: string } {
  const kc = new KubeConfig();
  try {
    if (args.kubeconfig) kc.loadFromFile(args.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new CliError(`cannot load the kubeconfig: ${(e as Error).message}`);
  }
  if (args.context) kc.setCurrentContext(args.context);
  // Without any kubeconfig client-node falls back to http://localhost:8080, which it then refuses to use.
  if (!kc.getCurrentCluster() || kc.getCurrentCluster()?.server === 'http://localhost:8080')
    throw new CliError(
      'no cluster in the kubeconfig: set KUBECONFIG or pass --kubeconfig (try `eval "$(npm run -s cluster:up)"`)',
    );
  const namespace = args.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { client: new KubeClient(kc), namespace };
}
