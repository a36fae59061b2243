import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, RequestTimeoutError, retryDelayMs } from '../../src/k8s/client.js';
import { startTestProxy } from '../support/connect-proxy.js';
import { clientFor } from '../support/local-client.js';

test('a request that gets no complete response fails at its deadline instead of waiting forever', async (t) => {
  // One endpoint never answers; one sends its headers and half a body, then goes silent.
  const server = createServer((req, res) => {
    if (req.url === '/half') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"items": [');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.closeAllConnections());
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const client = clientFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    timeoutMs: 300,
    maxRetries: 0,
  });
  for (const path of ['/silent', '/half']) {
    await assert.rejects(client.request('GET', path), (e: unknown) => {
      assert.ok(e instanceof RequestTimeoutError, String(e));
      assert.equal(e.message, `GET ${path}: no response within 0.3 s`);
      return true;
    });
  }
  // A caller's own cancellation stays a cancellation, not a timeout.
  const cancel = new AbortController();
  const cancelled = client.request('GET', '/silent', { signal: cancel.signal });
  cancel.abort();
  await assert.rejects(cancelled, (e: unknown) => !(e instanceof RequestTimeoutError));
});

test('a busy server is asked again: Retry-After for any request, backoff for safe ones only', async (t) => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const tries = seen.filter((s) => s === `${req.method} ${req.url}`).length;
    if (req.url === '/later' && tries === 1) {
      res.writeHead(429, { 'Retry-After': '0' }).end('{"reason":"TooManyRequests","message":"slow down"}');
    } else if (req.url === '/flaky' && tries < 3) {
      res.writeHead(503).end('{"reason":"ServiceUnavailable","message":"try again"}');
    } else if (req.url === '/reset' && tries === 1) {
      req.socket.destroy();
    } else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const client = clientFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: 2000 });
  assert.deepEqual(await client.request('POST', '/later', { body: {} }), { ok: true }, 'Retry-After: even a create');
  assert.deepEqual(await client.request('GET', '/flaky'), { ok: true }, 'a 503 without Retry-After: a read');
  assert.deepEqual(await client.request('GET', '/reset'), { ok: true }, 'a reset connection: a read');
  await assert.rejects(client.request('POST', '/flaky', { body: {} }), /try again/, 'a create is not sent twice');
  assert.deepEqual(
    seen.map((s) => s.split(' ')[1]),
    ['/later', '/later', '/flaky', '/flaky', '/flaky', '/reset', '/reset', '/flaky'],
  );
  assert.equal(client.retries, 4);
});

test('a refused connection (an API server restarting) is retried for safe requests only, and not forever', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
  assert.ok((retryDelayMs(refused, 0, true) ?? 0) > 0);
  assert.equal(retryDelayMs(refused, 0, false), undefined, 'a create is not sent twice');
  assert.equal(retryDelayMs(refused, 5, true), undefined, 'five retries, then the caller decides');
  assert.equal(retryDelayMs(refused, 1, true, 1), undefined, 'a client may allow fewer');
});

/** A client of `server` whose kubeconfig cluster (named c) has this proxy-url. */
function clientBehind(server: string, proxyUrl: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true, proxyUrl }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

test('a socks5 proxy-url is refused with an error that names the kubeconfig field, and nothing is sent', async () => {
  const client = clientBehind('https://127.0.0.1:1', 'socks5://127.0.0.1:1');
  await assert.rejects(client.request('GET', '/api'), {
    message: 'kubeconfig cluster "c": proxy-url socks5:// is not supported: only http:// and https:// proxies are',
  });
  assert.equal(client.retries, 0);
});

test('a plain-HTTP API server behind proxy-url is asked through the proxy by absolute URI', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ host: req.headers.host }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.closeAllConnections());
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const proxy = await startTestProxy();
  t.after(() => proxy.close());
  const apiServer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Credentials in the URL, percent-encoded as a URL must have them, reach the proxy decoded.
  const client = clientBehind(apiServer, proxy.url.replace('//', '//stepwise:s%3Acret@'));
  for (let i = 0; i < 3; i++)
    assert.deepEqual(await client.request('GET', '/api/v1/namespaces?limit=1'), { host: apiServer.slice(7) });
  assert.deepEqual(
    proxy.forwarded,
    Array(3).fill({
      target: `${apiServer}/api/v1/namespaces?limit=1`,
      authorization: `Basic ${Buffer.from('stepwise:s:cret').toString('base64')}`,
    }),
  );
  assert.equal(proxy.connections, 1, 'the connection to the proxy is kept alive');
});
