import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';

export interface Pki {
  dir: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** An admin bearer token in group system:masters. */
  token: string;
  tokenFile: string;
}

/** The names kube-apiserver is reached by: on loopback, and as the in-cluster kubernetes Service. */
const SERVING_NAMES = [
  'IP:127.0.0.1',
  'DNS:localhost',
  'IP:10.96.0.1',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
];

/** A throwaway CA, an API server serving certificate for 127.0.0.1, a service-account key pair and an admin token. */
export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const at = (f: string) => `${dir}/${f}`;
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
    '-days',
    '30',
    '-subj',
    '/CN=stepwise-test-ca',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('apiserver.key'),
    '-out',
    at('apiserver.csr'),
    '-subj',
    '/CN=kube-apiserver',
  );
  writeFileSync(
    at('apiserver.ext'),
    [`subjectAltName=${SERVING_NAMES.join(',')}`, 'extendedKeyUsage=serverAuth', ''].join('\n'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    at('apiserver.csr'),
    '-CA',
    at('ca.crt'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    at('apiserver.ext'),
    '-out',
    at('apiserver.crt'),
  );
  openssl('genrsa', '-out', at('sa.key'), '2048');
  openssl('rsa', '-in', at('sa.key'), '-pubout', '-out', at('sa.pub'));
  const token = randomBytes(24).toString('hex');
  writeFileSync(at('tokens.csv'), `${token},admin,admin-uid,system:masters\n`, { mode: 0o600 });
  return {
    dir,
    caCert: at('ca.crt'),
    servingCert: at('apiserver.crt'),
    servingKey: at('apiserver.key'),
    serviceAccountKey: at('sa.key'),
    serviceAccountPub: at('sa.pub'),
    token,
    tokenFile: at('tokens.csv'),
  };
}
