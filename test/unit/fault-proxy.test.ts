import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/k8s/client.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';

const TOKEN = 'admin-token-of-the-test';
const DIR = mkdtempSync(join(tmpdir(), 'stepwise-fault-proxy-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** A self-signed certificate for 127.0.0.1 in `dir`: the stand-in API server's, and its own CA. */
function selfSignedCertificate(dir: string): { certFile: string; cert: string; key: string } {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-subj', '/CN=127.0.0.1'])
      .concat(['-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const read = (file: string) => readFileSync(`${dir}/${file}`, 'utf8');
  return { certFile: `${dir}/cert.pem`, cert: read('cert.pem'), key: read('key.pem') };
}

const TLS = selfSignedCertificate(DIR);

/** A proxy that holds what it should pass (or will not close) fails its test here rather than hanging it. */
const bounded = { timeout: 15_000 };

/** A request as the stand-in API server saw it: `complete` once its body ended, `closed` once its connection did. */
interface Arrival {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  complete: boolean;
  closed: boolean;
}

/**
 * A stand-in for kube-apiserver: HTTPS on loopback, recording every request that reaches it. `/stream...` answers with
 * a first line and stays open (a watch) until `endStreams`; anything else echoes its method and path once its body
 * has ended.
 */
async function startUpstream(t: TestContext) {
  const arrivals: Arrival[] = [];
  const streams = new Set<ServerResponse>();
  const server = createServer({ cert: TLS.cert, key: TLS.key }, (req, res) => {
    const arrival: Arrival = {
      method: req.method!,
      path: req.url!,
      headers: req.headers,
      body: '',
      complete: false,
      closed: false,
    };
    arrivals.push(arrival);
    res.on('close', () => (arrival.closed = true));
    if (arrival.path.startsWith('/stream')) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).write('first\n');
      streams.add(res);
      return;
    }
    req.setEncoding('utf8').on('data', (d: string) => (arrival.body += d));
    req.on('end', () => {
      arrival.complete = true;
      res.writeHead(arrival.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json', 'X-Upstream': 'yes' });
      res.end(JSON.stringify({ method: arrival.method, path: arrival.path }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    /** `METHOD path` of each request that reached it. */
    seen: () => arrivals.map((a) => `${a.method} ${a.path}`),
    endStreams: (last: string) => {
      for (const s of streams) s.end(last);
    },
  };
}

/** The stand-in API server and a proxy in front of it, trusting its certificate given as a file or as PEM. */
async function setup(t: TestContext, ca = TLS.certFile) {
  const upstream = await startUpstream(t);
  const proxy = await startFaultProxy({ upstream: upstream.url, ca, token: TOKEN });
  t.after(() => proxy.close(), bounded);
  return { upstream, proxy };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request to the proxy, as a client without credentials sends it. */
function send(proxy: FaultProxy, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.url}${path}`, { method, headers: { 'X-Trace': '7' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A GET read as it arrives: the text so far, whether the response ended, and whether its connection closed. */
function openStream(proxy: FaultProxy, path: string) {
  const stream = { text: '', ended: false, closed: false };
  const req = request(`${proxy.url}${path}`, (res) => {
    res.setEncoding('utf8').on('data', (d: string) => (stream.text += d));
    res.on('end', () => (stream.ended = true));
    res.on('close', () => (stream.closed = true));
  });
  req.on('error', () => (stream.closed = true));
  req.end();
  return stream;
}

/** Polls `check` every 10 ms until it holds; fails after `timeoutMs`, naming `what`. */
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

/** Lets bytes that should not pass have their chance to: a negative has no event to wait for, only a window. */
const QUIET_WINDOW_MS = 300;

test('a request is forwarded as sent, with the admin token the client does not have', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  const reply = await send(proxy, 'POST', '/api/v1/namespaces/a/configmaps?dryRun=All', '{"data":{}}');
  assert.deepEqual([reply.status, reply.headers['x-upstream']], [201, 'yes']);
  assert.deepEqual(JSON.parse(reply.body), { method: 'POST', path: '/api/v1/namespaces/a/configmaps?dryRun=All' });
  const [arrival] = upstream.arrivals;
  assert.equal(arrival?.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(arrival?.headers['x-trace'], '7');
  assert.equal(arrival?.body, '{"data":{}}');
  const [entry] = proxy.log;
  assert.deepEqual([entry?.method, entry?.path, entry?.outcome], ['POST', arrival?.path, 'forwarded']);
  assert.equal(entry?.upstreamStatus, 201);
});

test('the kubeconfig it writes carries no credentials and takes a client through it', bounded, async (t) => {
  const { upstream, proxy } = await setup(t, TLS.cert);
  const file = proxy.kubeconfig(join(DIR, 'kubeconfig'), 'apps');
  assert.doesNotMatch(readFileSync(file, 'utf8'), new RegExp(TOKEN));
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'apps');
  assert.deepEqual(await new KubeClient(kc).request('GET', '/api/v1/namespaces'), {
    method: 'GET',
    path: '/api/v1/namespaces',
  });
  assert.equal(upstream.arrivals[0]?.headers.authorization, `Bearer ${TOKEN}`);
});

test('a long-lived response is passed on chunk by chunk, not when it ends', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  const watch = openStream(proxy, '/stream?watch=true');
  // The API server ends the stream only after the client has its first line: a buffering proxy never gets there.
  await until('the first line of the stream', () => watch.text === 'first\n');
  assert.equal(watch.ended, false);
  upstream.endStreams('second\n');
  await until('the end of the stream', () => watch.ended);
  assert.equal(watch.text, 'first\nsecond\n');
});

test('respond answers count matching requests with a Status and Retry-After, unforwarded', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  proxy.respond(429, { retryAfterSeconds: 3, count: 1, match: (req) => req.method === 'POST' });
  assert.equal((await send(proxy, 'GET', '/a')).status, 200, 'a request it does not match');
  const busy = await send(proxy, 'POST', '/b', '{}');
  assert.equal(busy.status, 429);
  assert.equal(busy.headers['retry-after'], '3');
  assert.deepEqual(JSON.parse(busy.body), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'injected by the fault proxy: 429 TooManyRequests',
    reason: 'TooManyRequests',
    details: { retryAfterSeconds: 3 },
    code: 429,
  });
  assert.equal((await send(proxy, 'POST', '/b', '{}')).status, 201, 'the count is spent');
  assert.deepEqual(upstream.seen(), ['GET /a', 'POST /b']);
  assert.deepEqual(
    proxy.log.map((e) => e.outcome),
    ['forwarded', 429, 'forwarded'],
  );
});

test('reset drops the connection unanswered until cleared', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  proxy.reset();
  for (const path of ['/a', '/b']) await assert.rejects(send(proxy, 'GET', path), { code: 'ECONNRESET' });
  proxy.clear();
  assert.equal((await send(proxy, 'GET', '/c')).status, 200);
  assert.deepEqual(upstream.seen(), ['GET /c']);
  assert.deepEqual([proxy.count('reset'), proxy.count('forwarded')], [2, 1]);
});

test('stall holds a matching request for its time, then closes it, never forwarded', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  proxy.stall({ ms: 300, count: 1, match: (req) => req.path === '/slow' });
  const started = Date.now();
  await assert.rejects(send(proxy, 'PUT', '/slow', '{}'), { code: 'ECONNRESET' });
  const held = Date.now() - started;
  assert.ok(held >= 290, `held ${held} ms`); // Date.now() counts whole milliseconds: a little slack
  assert.equal((await send(proxy, 'PUT', '/slow', '{}')).status, 200);
  assert.deepEqual(upstream.seen(), ['PUT /slow']);
  assert.deepEqual(
    proxy.log.map((e) => e.outcome),
    ['stalled', 'forwarded'],
  );
});

test('stallAll black-holes requests and streams; resume closes them and lets new ones pass', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  const watch = openStream(proxy, '/stream?watch=true');
  await until('the first line of the watch', () => watch.text === 'first\n');
  proxy.stallAll();
  let answered = false;
  const write = request(`${proxy.url}/api/v1/namespaces/a/configmaps`, { method: 'POST' }, () => (answered = true));
  write.on('error', () => {});
  write.end('{}');
  await until('the write to be held', () => proxy.count('stalled') === 1);
  upstream.endStreams('second\n');
  await delay(QUIET_WINDOW_MS);
  assert.deepEqual([watch.text, watch.ended, answered], ['first\n', false, false]);
  write.destroy();
  proxy.resume();
  await until('the watch to be closed', () => watch.closed);
  assert.deepEqual([watch.text, watch.ended], ['first\n', false], 'nothing delivered late');
  assert.equal((await send(proxy, 'GET', '/after')).status, 200);
  assert.deepEqual(upstream.seen(), ['GET /stream?watch=true', 'GET /after']);
  assert.deepEqual(proxy.forwardedWrites(), []);
});

test('a stall cuts a request off mid-body, and the client giving up aborts it upstream', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  const write = request(`${proxy.url}/api/v1/namespaces/a/secrets`, {
    method: 'POST',
    headers: { 'Content-Length': 10 },
  });
  write.on('error', () => {});
  write.write('{"a":');
  await until('the first half of the body upstream', () => upstream.arrivals[0]?.body === '{"a":');
  proxy.stallAll();
  write.write('"bc"}');
  await delay(QUIET_WINDOW_MS);
  assert.equal(upstream.arrivals[0]?.body, '{"a":', 'the second half is swallowed');
  write.destroy();
  await until('the request to be aborted upstream', () => upstream.arrivals[0]!.closed);
  assert.equal(upstream.arrivals[0]?.complete, false);
  proxy.resume();
  assert.equal((await send(proxy, 'GET', '/after')).status, 200);
  assert.deepEqual(proxy.forwardedWrites(), []);
});

test('forwardedWrites: when non-GET requests reached the API server in full, and only those', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  await send(proxy, 'GET', '/read');
  // A write whose body comes in two parts counts from when all of it has been passed on, not from its arrival.
  const slow = request(`${proxy.url}/created`, { method: 'POST', headers: { 'Content-Length': 2 } });
  const created = new Promise((resolve, reject) => slow.on('response', resolve).on('error', reject));
  slow.write('{');
  await until('the first part of the body upstream', () => upstream.arrivals[1]?.body === '{');
  const halfway = Date.now();
  slow.end('}');
  await created;
  proxy.respond(500, { count: 1, match: (req) => req.method === 'PUT' });
  assert.equal((await send(proxy, 'PUT', '/refused', '{}')).status, 500);
  proxy.reset({ count: 1, match: (req) => req.method === 'DELETE' });
  await assert.rejects(send(proxy, 'DELETE', '/dropped'), { code: 'ECONNRESET' });
  await send(proxy, 'DELETE', '/deleted');
  const writes = proxy.forwardedWrites();
  assert.equal(writes.length, 2, JSON.stringify(proxy.log));
  assert.ok(writes[0]! >= halfway && writes[0]! > proxy.log[1]!.at, `delivered at ${writes[0]}, halfway ${halfway}`);
  assert.ok(writes[1]! >= proxy.log[4]!.at && writes[1]! <= Date.now());
  assert.deepEqual(
    proxy.log.filter((e) => e.deliveredAt !== undefined).map((e) => e.path),
    ['/read', '/created', '/deleted'],
  );
  assert.deepEqual([proxy.count('forwarded'), proxy.count(500), proxy.count('reset')], [3, 1, 1]);
});

test('close ends open streams; only https on 127.0.0.0/8 is accepted upstream', bounded, async (t) => {
  const { upstream, proxy } = await setup(t);
  const watch = openStream(proxy, '/stream?watch=true');
  await until('the first line of the watch', () => watch.text === 'first\n');
  await proxy.close();
  await until('the watch to be closed', () => watch.closed && upstream.arrivals[0]!.closed);
  assert.equal(watch.ended, false);
  for (const elsewhere of ['https://10.0.0.1:6443', 'https://localhost:6443', upstream.url.replace('https', 'http')])
    await assert.rejects(startFaultProxy({ upstream: elsewhere, ca: TLS.cert, token: TOKEN }), /127\.0\.0\.0\/8/);
});
