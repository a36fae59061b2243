import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { KubeClient } from '../../src/k8s/client.js';
import { startTestProxy } from '../support/connect-proxy.js';
import { eventually, useCluster } from '../support/kube.js';

// The kubeconfig's client certificate files and proxy-url, as the client meets them against a real API server.
const env = useCluster({ crds: false, nodes: 0 });
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stepwise-kubeconfig-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const CLIENT_CERT = 'extendedKeyUsage=clientAuth';
const SERVING_CERT = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth';

/** Writes a key and a certificate for `subject` signed by the cluster's CA (which the API server trusts). */
function issue(subject: string, extensions: string, certFile: string, keyFile: string): void {
  const pki = `${env.cluster.state.runDir}/pki`;
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const [csr, ext] = [`${dir}/request.csr`, `${dir}/extensions.cnf`];
  writeFileSync(ext, `${extensions}\n`);
  openssl(
    ...['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', keyFile, '-out', csr, '-subj', subject],
  );
  openssl(
    ...['x509', '-req', '-in', csr, '-CA', `${pki}/ca.crt`, '-CAkey', `${pki}/ca.key`],
    ...['-set_serial', String(randomInt(2 ** 47)), '-days', '1', '-extfile', ext, '-out', certFile],
  );
}

let kubeconfigs = 0;
/** A kubeconfig file for the test cluster with this user, and these fields added to its cluster. */
function kubeConfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): KubeConfig {
  const config = parse(readFileSync(env.cluster.kubeconfig, 'utf8'));
  config.clusters[0].cluster = { ...config.clusters[0].cluster, ...cluster };
  config.users[0].user = user;
  const file = `${dir}/${++kubeconfigs}.kubeconfig`;
  writeFileSync(file, stringify(config));
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** The cluster admin's bearer token, as the cluster's own kubeconfig has it. */
const admin = () => parse(readFileSync(env.cluster.kubeconfig, 'utf8')).users[0].user as Record<string, unknown>;

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

/** The user name the API server authenticated the client's request as. */
async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo.username;
}

test('a client certificate rotated on disk authenticates the next request of the same client', async () => {
  const [cert, key] = [`${dir}/rotated.crt`, `${dir}/rotated.key`];
  issue('/CN=alice/O=devs', CLIENT_CERT, cert, key);
  const client = new KubeClient(kubeConfig({ 'client-certificate': cert, 'client-key': key }));
  assert.equal(await whoAmI(client), 'alice');
  issue('/CN=bob/O=devs', CLIENT_CERT, cert, key);
  assert.equal(await whoAmI(client), 'bob');
});

test('proxy-url: requests go through one kept-alive CONNECT tunnel, with the credentials', async (t) => {
  const proxy = await startTestProxy({ authorization: basic('stepwise:s:cret') });
  t.after(() => proxy.close());
  const apiServer = new URL(env.cluster.state.server).host;
  const anonymous = new KubeClient(kubeConfig(admin(), { 'proxy-url': proxy.url }));
  const refusal = `refused to open a tunnel to ${apiServer}: HTTP 407 Proxy Authentication Required`;
  await assert.rejects(whoAmI(anonymous), { message: `proxy ${new URL(proxy.url).host} ${refusal}` });
  // Percent-encoded in the URL, as a colon in a password must be; the proxy gets it decoded.
  const client = new KubeClient(kubeConfig(admin(), { 'proxy-url': proxy.url.replace('//', '//stepwise:s%3Acret@') }));
  for (let i = 0; i < 3; i++) assert.equal(await whoAmI(client), 'admin');
  assert.deepEqual(proxy.tunnels, [
    { target: apiServer, authorization: undefined },
    { target: apiServer, authorization: basic('stepwise:s:cret') },
  ]);
});

test("an https:// proxy-url: the tunnel is asked for over TLS, checked with the kubeconfig's CA", async (t) => {
  const [cert, key] = [`${dir}/proxy.crt`, `${dir}/proxy.key`];
  issue('/CN=proxy', SERVING_CERT, cert, key);
  const proxy = await startTestProxy({ tls: { cert: readFileSync(cert), key: readFileSync(key) } });
  t.after(() => proxy.close());
  const client = new KubeClient(kubeConfig(admin(), { 'proxy-url': proxy.url }));
  assert.equal(await whoAmI(client), 'admin');
  assert.deepEqual(proxy.tunnels, [{ target: new URL(env.cluster.state.server).host, authorization: undefined }]);
});

test('behind a proxy, a rotated client certificate opens a new tunnel; the old ones close once idle', async (t) => {
  const proxy = await startTestProxy();
  t.after(() => proxy.close());
  const [cert, key] = [`${dir}/proxied.crt`, `${dir}/proxied.key`];
  // In group system:masters, so that alice may watch namespaces.
  issue('/CN=alice/O=system:masters', CLIENT_CERT, cert, key);
  const client = new KubeClient(
    kubeConfig({ 'client-certificate': cert, 'client-key': key }, { 'proxy-url': proxy.url }),
  );
  // A watch the server ends after 4 s keeps one connection busy; a request beside it opens another.
  let events = 0;
  let watchEnded = false;
  const watching = client
    .watch('/api/v1/namespaces', { timeoutSeconds: '4' }, () => events++, AbortSignal.timeout(30_000))
    .finally(() => {
      watchEnded = true;
    });
  await eventually('the watch under way', async () => events > 0, 5000);
  assert.equal(await whoAmI(client), 'alice');
  issue('/CN=bob/O=devs', CLIENT_CERT, cert, key);
  assert.equal(await whoAmI(client), 'bob');
  assert.equal(proxy.tunnels.length, 3);
  // The idle connection that still presents alice's certificate is closed at once; the proxy sees it go.
  await eventually('the idle tunnel with the old certificate closed', async () => proxy.openTunnels === 2, 5000);
  assert.equal(watchEnded, false, 'the tunnel closed was the idle one, not that of the watch');
  // The watch runs on to its end, and its connection is closed then instead of kept for reuse.
  await watching;
  await eventually('the tunnel of the watch closed', async () => proxy.openTunnels === 1, 5000);
});
