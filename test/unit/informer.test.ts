import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeApiError } from '../../src/k8s/client.js';
import { compareResourceVersions, Informer } from '../../src/k8s/informer.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { clientFor } from '../support/local-client.js';

const pod = (name: string, labels: Record<string, string>, resourceVersion: string, namespace = 'ns'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels, resourceVersion },
});
const names = (objects: KubeObject[]) => objects.map((o) => o.metadata.name).sort();

test('the cache finds objects by label selector and namespace, and follows relabelling and removal', () => {
  const informer = new Informer(clientFor('http://127.0.0.1:1'), { apiVersion: 'v1', kind: 'Pod' }, () => {});
  informer.upsert(pod('a', { app: 'web', hash: '1' }, '10'));
  informer.upsert(pod('b', { app: 'web', hash: '2' }, '11'));
  informer.upsert(pod('c', { app: 'api', hash: '1' }, '12'));
  informer.upsert(pod('d', { app: 'web', hash: '1' }, '13', 'other'));
  assert.deepEqual(names(informer.list('ns', 'app=web')), ['a', 'b']);
  assert.deepEqual(names(informer.list(undefined, 'app=web,hash=1')), ['a', 'd']);
  assert.deepEqual(names(informer.list('ns', 'app=web,hash=3')), []);
  assert.deepEqual(names(informer.list('ns', 'missing=x')), []);
  assert.deepEqual(names(informer.list('ns')), ['a', 'b', 'c']);
  informer.upsert(pod('a', { app: 'web', hash: '2' }, '20'));
  assert.deepEqual(names(informer.list('ns', 'hash=2')), ['a', 'b']);
  assert.deepEqual(names(informer.list('ns', 'hash=1')), ['c']);
  informer.upsert(pod('a', { app: 'web', hash: '1' }, '15'));
  assert.deepEqual(names(informer.list('ns', 'hash=2')), ['a', 'b'], 'an older copy does not replace a newer one');
  informer.forget('ns', 'b');
  assert.deepEqual(names(informer.list('ns', 'hash=2')), ['a']);
});

/**
 * An HTTP server on loopback that answers a Pod list as `answer` says, and holds watches open; `send` writes events to
 * them.
 */
async function listServer(
  answer: (attempt: number) => { status: number; body: unknown },
): Promise<{ server: Server; url: string; lists: () => number; send: (events: object[]) => Promise<void> }> {
  let watching!: (res: ServerResponse) => void;
  const watch = new Promise<ServerResponse>((r) => {
    watching = r;
  });
  let lists = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/api/v1')
      return res.end(JSON.stringify({ resources: [{ name: 'pods', kind: 'Pod', namespaced: true }] }));
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200).flushHeaders();
      return watching(res);
    }
    const { status, body } = answer(++lists);
    res.writeHead(status).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const send = async (events: object[]) => {
    const res = await watch;
    for (const event of events) res.write(`${JSON.stringify(event)}\n`);
  };
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lists: () => lists, send };
}

test('start() waits out a server that is still starting (503), then holds the list', async () => {
  const { server, url, lists } = await listServer((n) =>
    n <= 2
      ? { status: 503, body: { kind: 'Status', message: 'storage is (re)initializing', reason: 'ServiceUnavailable' } }
      : { status: 200, body: { metadata: { resourceVersion: '5' }, items: [pod('a', { app: 'web' }, '5')] } },
  );
  const logged: string[] = [];
  const client = clientFor(url);
  client.onRetry = (line) => logged.push(line);
  const informer = new Informer(client, { apiVersion: 'v1', kind: 'Pod' }, () => {});
  try {
    await informer.start();
    assert.equal(lists(), 3);
    assert.deepEqual(names(informer.list(undefined, 'app=web')), ['a']);
    assert.equal(logged.length, 2, 'each retry is told');
    assert.match(logged[0]!, /^GET \/api\/v1\/pods failed \(storage is \(re\)initializing\), retrying in \d+ ms$/);
  } finally {
    informer.stop();
    server.closeAllConnections();
    server.close();
  }
});

test("start() gives up at once when refused (403), with the server's message", async () => {
  const { server, url, lists } = await listServer(() => ({
    status: 403,
    body: { kind: 'Status', message: 'pods is forbidden: User "x" cannot list resource "pods"', reason: 'Forbidden' },
  }));
  const informer = new Informer(clientFor(url), { apiVersion: 'v1', kind: 'Pod' }, () => {});
  try {
    await assert.rejects(
      informer.start(),
      (e: unknown) => e instanceof KubeApiError && e.status === 403 && /cannot list resource "pods"/.test(e.message),
    );
    assert.equal(lists(), 1);
  } finally {
    informer.stop();
    server.closeAllConnections();
    server.close();
  }
});

test('a watch event that trails a write of ours does not undo it in the cache', async () => {
  const { server, url, send } = await listServer(() => ({
    status: 200,
    body: { metadata: { resourceVersion: '5' }, items: [pod('a', { app: 'web' }, '5')] },
  }));
  let sawB!: () => void;
  const b = new Promise<void>((r) => {
    sawB = r;
  });
  const seen: string[] = [];
  const informer = new Informer(clientFor(url), { apiVersion: 'v1', kind: 'Pod' }, (type, o) => {
    seen.push(`${type} ${o.metadata.name}`);
    if (o.metadata.name === 'b') sawB();
  });
  try {
    await informer.start();
    // Our label patch came back as rv 7; the watch then brings a's status update from before it (rv 6).
    informer.upsert(pod('a', { app: 'web', batch: '1' }, '7'));
    await send([
      { type: 'MODIFIED', object: pod('a', { app: 'web' }, '6') },
      { type: 'ADDED', object: pod('b', { app: 'web' }, '8') },
    ]);
    await b;
    assert.deepEqual(names(informer.list('ns', 'batch=1')), ['a'], 'the older watch copy did not replace ours');
    assert.deepEqual(names(informer.list('ns', 'app=web')), ['a', 'b']);
    assert.deepEqual(seen, ['ADDED a', 'MODIFIED a', 'ADDED b'], 'every event is still reported');
  } finally {
    informer.stop();
    server.closeAllConnections();
    server.close();
  }
});

/** An informer of Pods whose list answers `refusal` until `allow()`; what it told and saw. */
async function refusedAtFirst(refusal: { status: number; reason: string }, optional: boolean) {
  let allowed = false;
  const { server, url } = await listServer(() =>
    allowed
      ? { status: 200, body: { metadata: { resourceVersion: '7' }, items: [pod('a', { app: 'web' }, '7')] } }
      : { status: refusal.status, body: { kind: 'Status', reason: refusal.reason, message: 'refused' } },
  );
  const events: string[] = [];
  const logged: string[] = [];
  const informer = new Informer(
    clientFor(url),
    { apiVersion: 'v1', kind: 'Pod' },
    (type, o) => events.push(`${type} ${o.metadata.name}`),
    (line) => logged.push(line),
    { rediscoverMs: 20, optional },
  );
  const close = () => {
    informer.stop();
    server.closeAllConnections();
    server.close();
  };
  return { informer, events, logged, close, allow: () => (allowed = true) };
}

test('a kind not served at the start (a CRD installed later) is picked up once it is, without a restart', async () => {
  const refused = await refusedAtFirst({ status: 404, reason: 'NotFound' }, false);
  const { informer, events, logged } = refused;
  try {
    await informer.start();
    assert.equal(informer.unavailable, true);
    refused.allow();
    while (!events.includes('ADDED a')) await new Promise((r) => setTimeout(r, 10));
    assert.equal(informer.unavailable, false);
    assert.deepEqual(names(informer.list('ns')), ['a']);
    assert.deepEqual(logged, [
      'Pod (v1) is not served by this cluster; looking again every 0.02 s',
      'Pod (v1) is served now; watching it',
    ]);
  } finally {
    refused.close();
  }
});

test('an optional kind the account may not list waits for permission; a required one fails the start', async () => {
  const optional = await refusedAtFirst({ status: 403, reason: 'Forbidden' }, true);
  try {
    await optional.informer.start();
    assert.equal(optional.informer.unavailable, true);
    optional.allow();
    while (!optional.events.includes('ADDED a')) await new Promise((r) => setTimeout(r, 10));
    assert.equal(optional.logged[0], 'Pod (v1) may not be listed by this account; looking again every 0.02 s');
  } finally {
    optional.close();
  }
  const required = await refusedAtFirst({ status: 403, reason: 'Forbidden' }, false);
  try {
    await assert.rejects(required.informer.start(), /refused/);
  } finally {
    required.close();
  }
});

test('resourceVersions compare as whole numbers of any length (Kubernetes 1.35+), and only canonical ones', () => {
  assert.equal(compareResourceVersions('9', '10')! < 0, true);
  assert.equal(compareResourceVersions('123456789012345678901', '123456789012345678900')! > 0, true);
  assert.equal(compareResourceVersions('42', '42'), 0);
  for (const odd of ['', '0', '042', 'abc', '1.5', undefined])
    assert.equal(compareResourceVersions(odd, '1'), undefined, `${odd} is not comparable`);
});
