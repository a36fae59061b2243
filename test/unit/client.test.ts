import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { RequestTimeoutError } from '../../src/k8s/client.js';
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
  const client = clientFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: 300 });
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
