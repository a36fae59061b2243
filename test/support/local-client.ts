import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/k8s/client.js';

/** A client for a plain-HTTP test server on loopback (the unit tests' stand-in for a misbehaving API server). */
export function clientFor(server: string, options: ConstructorParameters<typeof KubeClient>[1] = {}): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc, options);
}
