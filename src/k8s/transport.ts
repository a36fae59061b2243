import { createHash } from 'node:crypto';
import {
  Agent as HttpAgent,
  type ClientRequestArgs,
  request as httpRequest,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIP, isIPv6, connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Cluster } from '@kubernetes/client-node';

/** What the kubeconfig contributes to a TLS connection (client-node puts these on the request options). */
const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;
/** The same serve the TLS connection to an https:// proxy (as in client-go), which is checked by its own name. */
const PROXY_TLS_OPTIONS = TLS_OPTIONS.filter((k) => k !== 'servername');

type Options = Record<string, unknown>;
type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

const pick = (o: Options, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

/** The cluster's `proxy-url`, or undefined without one; an http:// or https:// URL, the schemes supported. */
export function proxyOf(cluster: Cluster): URL | undefined {
  if (!cluster.proxyUrl) return undefined;
  const where = `kubeconfig cluster "${cluster.name}": proxy-url`;
  if (!URL.canParse(cluster.proxyUrl)) throw new Error(`${where} is not a URL`);
  const proxy = new URL(cluster.proxyUrl);
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')
    throw new Error(`${where} ${proxy.protocol}// is not supported: only http:// and https:// proxies are`);
  return proxy;
}

/**
 * Connections to the API server, kept open between requests for as long as what they were opened with stays
 * the same. client-node reads the kubeconfig's certificate and key files again for every request, so a client
 * certificate rotated on disk shows up here as changed TLS material: as client-go's connrotation does, the
 * connections opened with the old one are closed (busy ones once their response ends; a watch runs on), and
 * new ones present the new certificate.
 */
export class Connections {
  private agent?: HttpAgent;
  private agentKey?: string;

  /** `connectTimeoutMs` bounds the wait for a proxy to open a tunnel. */
  constructor(private readonly connectTimeoutMs: number) {}

  /**
   * Sets the agent of a request to `url` whose options client-node has filled in, and for a plain-HTTP
   * server behind a proxy the request's absolute URI and proxy credentials.
   */
  route(url: URL, proxy: URL | undefined, options: HttpsRequestOptions): void {
    const tls = pick(options as Options, TLS_OPTIONS);
    const key = fingerprint([url.protocol, proxy?.href, ...TLS_OPTIONS.map((k) => tls[k])]);
    if (!this.agent || key !== this.agentKey) {
      if (this.agent) retire(this.agent);
      this.agent = newAgent(url.protocol === 'https:', proxy, tls, this.connectTimeoutMs);
      this.agentKey = key;
    }
    options.agent = this.agent;
    if (proxy && url.protocol === 'http:') {
      options.path = url.href;
      options.headers = { ...(options.headers as OutgoingHttpHeaders), ...proxyAuthorization(proxy) };
    }
  }
}

function newAgent(https: boolean, proxy: URL | undefined, tls: Options, connectTimeoutMs: number): HttpAgent {
  if (!proxy) return https ? new HttpsAgent({ ...tls, keepAlive: true }) : new HttpAgent({ keepAlive: true });
  return https ? new TunnelAgent(proxy, tls, connectTimeoutMs) : new ForwardProxyAgent(proxy, tls);
}

/** Closes an agent's idle connections now and its busy ones when their response ends. */
function retire(agent: HttpAgent): void {
  agent.maxFreeSockets = 0; // A socket let go of is closed instead of kept for reuse.
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

/** A digest of the parts, each length-prefixed so that no two different lists run together alike. */
function fingerprint(parts: readonly unknown[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.isBuffer(part) || typeof part === 'string' ? part : JSON.stringify(part ?? null);
    hash.update(`${Buffer.byteLength(bytes)}:`).update(bytes);
  }
  return hash.digest('hex');
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Where to open a TCP connection to the proxy (URL hostnames keep an IPv6 address in brackets). */
function proxyAddress(proxy: URL): { host: string; port: number } {
  const port = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
  return { host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** HTTPS to the API server through an HTTP CONNECT tunnel, one per connection, TLS inside it end to end. */
class TunnelAgent extends HttpsAgent {
  constructor(
    private readonly proxy: URL,
    private readonly tls: Options,
    private readonly connectTimeoutMs: number,
  ) {
    super({ ...tls, keepAlive: true });
  }

  override createConnection(options: HttpsRequestOptions, callback?: ConnectionCallback): undefined {
    const host = String(options.host);
    const target = `${isIPv6(host) ? `[${host}]` : host}:${options.port}`;
    let settled = false;
    const settle = (err: Error | null, stream?: Duplex) => {
      if (!settled) callback?.(err, stream as Duplex);
      settled = true;
    };
    const toProxy: ClientRequestArgs & HttpsRequestOptions = {
      ...proxyAddress(this.proxy),
      ...(this.proxy.protocol === 'https:' ? pick(this.tls, PROXY_TLS_OPTIONS) : {}),
      method: 'CONNECT',
      path: target,
      headers: { Host: target, ...proxyAuthorization(this.proxy) },
      agent: false,
      timeout: this.connectTimeoutMs,
    };
    const connect = (this.proxy.protocol === 'https:' ? httpsRequest : httpRequest)(toProxy);
    connect.once('connect', (res, socket, head) => {
      socket.setTimeout(0);
      if (res.statusCode !== 200) {
        socket.destroy();
        const status = `HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
        return settle(new Error(`proxy ${this.proxy.host} refused to open a tunnel to ${target}: ${status}`));
      }
      if (head.length > 0) socket.unshift(head);
      settle(null, tlsConnect({ ...(options as Options), socket }));
    });
    connect.once('timeout', () =>
      connect.destroy(new Error(`proxy ${this.proxy.host} opened no tunnel within ${this.connectTimeoutMs / 1000} s`)),
    );
    connect.on('error', (e) => settle(e));
    connect.end();
    return undefined;
  }
}

/** Plain HTTP to the API server through a forward proxy: each request names the whole URL (see `route`). */
class ForwardProxyAgent extends HttpAgent {
  constructor(
    private readonly proxy: URL,
    private readonly tls: Options,
  ) {
    super({ keepAlive: true });
  }

  override createConnection(): Duplex {
    const address = proxyAddress(this.proxy);
    if (this.proxy.protocol === 'http:') return netConnect(address);
    // SNI carries host names only, never an IP address.
    const servername = isIP(address.host) ? undefined : address.host;
    return tlsConnect({ ...pick(this.tls, PROXY_TLS_OPTIONS), ...address, servername });
  }
}
