import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** One request the proxy was asked to carry: a CONNECT tunnel's target `host:port`, or a forwarded absolute URI. */
export interface Proxied {
  target: string;
  /** The Proxy-Authorization header it came with. */
  authorization?: string;
}

export interface TestProxy {
  /** The proxy's URL, `http://127.0.0.1:PORT` (https: when started with a certificate). */
  url: string;
  /** CONNECT requests, in order (refused ones too). */
  tunnels: Proxied[];
  /** Tunnels open now. */
  openTunnels: number;
  /** Plain requests forwarded by absolute URI. */
  forwarded: Proxied[];
  /** TCP (or TLS) connections clients opened to the proxy. */
  connections: number;
  close(): Promise<void>;
}

export interface TestProxyOptions {
  /** Serve the proxy over TLS with this certificate. */
  tls?: { cert: Buffer; key: Buffer };
  /** Refuse (407) requests whose Proxy-Authorization is not exactly this. */
  authorization?: string;
}

/**
 * A tiny HTTP proxy on 127.0.0.1 that opens CONNECT tunnels and forwards absolute-URI requests, to loopback
 * addresses only (anything else is refused), and records each.
 */
export async function startTestProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const server: Server = options.tls ? createHttpsServer(options.tls) : createHttpServer();
  const sockets = new Set<Duplex>();
  const proxy: TestProxy = {
    url: '',
    tunnels: [],
    openTunnels: 0,
    forwarded: [],
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const refusal = (req: IncomingMessage, host: string): string | undefined => {
    if (options.authorization !== undefined && req.headers['proxy-authorization'] !== options.authorization)
      return '407 Proxy Authentication Required';
    return /^127\.\d+\.\d+\.\d+$/.test(host) ? undefined : '403 Forbidden';
  };
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    proxy.connections++;
    track(socket);
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = req.url ?? '';
    const { hostname, port } = new URL(`http://${target}`);
    proxy.tunnels.push({ target, authorization: req.headers['proxy-authorization'] });
    const refused = refusal(req, hostname);
    if (refused) {
      client.end(`HTTP/1.1 ${refused}\r\n${challenge(refused)}\r\n`);
      return;
    }
    let opened = false;
    const upstream = connect(Number(port), hostname, () => {
      opened = true;
      proxy.openTunnels++;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    track(upstream);
    upstream.once('close', () => client.destroy());
    client.once('close', () => {
      if (opened) proxy.openTunnels--;
      upstream.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });

  server.on('request', (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '');
    proxy.forwarded.push({ target: url.href, authorization: req.headers['proxy-authorization'] });
    const refused = refusal(req, url.hostname);
    if (refused) {
      res.writeHead(Number(refused.slice(0, 3)), statusHeaders(refused)).end();
      return;
    }
    const { 'proxy-authorization': _, ...headers } = req.headers;
    const upstream = httpRequest(url, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = options.tls ? 'https' : 'http';
  proxy.url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** A 407 asks for credentials. */
const statusHeaders = (status: string): Record<string, string> =>
  status.startsWith('407') ? { 'Proxy-Authenticate': 'Basic' } : {};
const challenge = (status: string) =>
  Object.entries(statusHeaders(status))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
