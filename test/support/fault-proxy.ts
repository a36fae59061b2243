import { readFileSync, writeFileSync } from 'node:fs';
import {
  createServer,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { type AddressInfo, isIPv4 } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { stringify } from 'yaml';

/** What a fault's `match` sees of a request; `path` includes the query (`...?watch=true`). */
export interface ProxiedRequest {
  method: string;
  path: string;
}

/** Which requests a fault applies to. */
export interface FaultScope {
  /** Only the requests it accepts; without it, every request. */
  match?: (req: ProxiedRequest) => boolean;
  /** Only this many matching requests, then the fault is gone; without it, until `clear()`. */
  count?: number;
}

/** What became of a request: passed to the API server, answered with an injected status, reset, or held. */
export type Outcome = 'forwarded' | number | 'reset' | 'stalled';

export interface LogEntry {
  /** When the request arrived (Date.now()). */
  at: number;
  method: string;
  path: string;
  outcome: Outcome;
  /** The API server's status, once its response has begun. */
  upstreamStatus?: number;
  /** When the whole request, body included, had been handed to the API server's connection. */
  deliveredAt?: number;
}

export interface FaultProxyOptions {
  /** The API server, https on 127.0.0.0/8. */
  upstream: string;
  /** The CA of its serving certificate: a PEM file's path or the PEM itself. */
  ca: string;
  /** Sent as `Authorization: Bearer` with every forwarded request (clients of the proxy send none). */
  token: string;
}

type Action =
  | { kind: 'respond'; status: number; retryAfterSeconds?: number }
  | { kind: 'reset' }
  | { kind: 'stall'; ms?: number };

interface Fault extends FaultScope {
  action: Action;
}

/** One request on its way through the proxy. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  upstream?: ClientRequest;
  /** Held by a stall: nothing more passes either way, and it is closed rather than let through later. */
  held: boolean;
  /** Ends a timed stall. */
  timer?: NodeJS.Timeout;
}

/** Headers that describe one connection, not the message; each side of the proxy has its own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const endToEnd = (headers: IncomingHttpHeaders): OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

/** The Status reasons kube-apiserver gives with these codes. */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The Kubernetes `Status` the API server would send with `code`. */
function failureStatus(code: number, retryAfterSeconds?: number): Record<string, unknown> {
  const reason = REASONS[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest');
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected by the fault proxy: ${code} ${reason}`,
    reason,
    ...(retryAfterSeconds === undefined ? {} : { details: { retryAfterSeconds } }),
    code,
  };
}

/** The upstream URL, refused unless it is https on loopback: the proxy never sends traffic off this machine. */
function loopbackUpstream(upstream: string): URL {
  const url = new URL(upstream);
  if (url.protocol !== 'https:' || !isIPv4(url.hostname) || !url.hostname.startsWith('127.'))
    throw new Error(`fault proxy: the upstream must be https on 127.0.0.0/8, not ${upstream}`);
  return url;
}

/**
 * Copies `from` to `to` as data arrives, with backpressure, while `open()`. Once it is not, what arrives is
 * swallowed, the end included: a black hole, so nothing is delivered late.
 */
function relay(from: Readable, to: Writable, open: () => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (open() && !to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    if (open()) to.end();
  });
}

/**
 * A plain-HTTP proxy on 127.0.0.1 in front of a test control plane's API server, which injects faults set at
 * run time: injected error statuses, reset connections and stalls. Start one with `startFaultProxy`.
 */
export class FaultProxy {
  /** Every request, in order of arrival. */
  readonly log: LogEntry[] = [];
  readonly url: string;
  private readonly agent: Agent;
  private faults: Fault[] = [];
  private stallingAll = false;
  private readonly exchanges = new Set<Exchange>();

  /** Takes over `server`, already listening on 127.0.0.1; `upstream` is a loopback URL (see `startFaultProxy`). */
  constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    ca: string,
    private readonly token: string,
  ) {
    this.agent = new Agent({ keepAlive: true, ca });
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  /** Writes a kubeconfig for the proxy (no credentials: the proxy adds them) and returns its path. */
  kubeconfig(path: string, namespace = 'default'): string {
    // client-node refuses a plain-HTTP server unless TLS verification is off, though there is no TLS to verify.
    const cluster = { server: this.url, 'insecure-skip-tls-verify': true };
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fault-proxy', cluster }],
      users: [{ name: 'anonymous', user: {} }],
      contexts: [{ name: 'fault-proxy', context: { cluster: 'fault-proxy', user: 'anonymous', namespace } }],
      'current-context': 'fault-proxy',
    };
    writeFileSync(path, stringify(config));
    return path;
  }

  /** Answers matching requests with a Kubernetes Status of `status` (and Retry-After), without forwarding them. */
  respond(status: number, options: FaultScope & { retryAfterSeconds?: number } = {}): void {
    const { retryAfterSeconds, ...scope } = options;
    this.faults.push({ ...scope, action: { kind: 'respond', status, retryAfterSeconds } });
  }

  /** Resets the connection of matching requests without a response (the client sees ECONNRESET). */
  reset(scope: FaultScope = {}): void {
    this.faults.push({ ...scope, action: { kind: 'reset' } });
  }

  /** Holds each matching request unanswered and unforwarded for `ms` (or until `resume()`), then closes it. */
  stall(options: FaultScope & { ms: number }): void {
    const { ms, ...scope } = options;
    this.faults.push({ ...scope, action: { kind: 'stall', ms } });
  }

  /**
   * Holds every connection until `resume()`: new requests are neither forwarded nor answered, and streams already
   * open (watches) pass nothing more either way.
   */
  stallAll(): void {
    this.stallingAll = true;
    for (const exchange of this.exchanges) exchange.held = true;
  }

  /** Ends the stalls: connections held mid-request are closed, not delivered late; new requests flow again. */
  resume(): void {
    this.stallingAll = false;
    for (const exchange of this.exchanges) if (exchange.held) this.drop(exchange);
  }

  /** Removes every fault, and ends the stalls. */
  clear(): void {
    this.faults = [];
    this.resume();
  }

  /** How many requests had this outcome. */
  count(outcome: Outcome): number {
    return this.log.filter((entry) => entry.outcome === outcome).length;
  }

  /** When each non-GET request that reached the API server in full got there. */
  forwardedWrites(): number[] {
    return this.log.flatMap((e) => (e.method !== 'GET' && e.deliveredAt !== undefined ? [e.deliveredAt] : []));
  }

  /** Closes the proxy and every connection through it, watch streams included (their upstream requests end too). */
  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    this.agent.destroy();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const entry: LogEntry = { at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/', outcome: 'forwarded' };
    this.log.push(entry);
    const exchange: Exchange = { req, res, held: false };
    this.exchanges.add(exchange);
    res.on('close', () => {
      clearTimeout(exchange.timer);
      this.exchanges.delete(exchange);
      // The client gave up: so does the API server's request, which a stall may have left half sent.
      if (!res.writableFinished) exchange.upstream?.destroy();
    });
    const action: Action | undefined = this.stallingAll ? { kind: 'stall' } : this.takeFault(entry)?.action;
    if (action === undefined) this.forward(exchange, entry);
    else if (action.kind === 'respond') {
      entry.outcome = action.status;
      this.answer(res, action.status, action.retryAfterSeconds);
    } else if (action.kind === 'reset') {
      entry.outcome = 'reset';
      req.socket.resetAndDestroy();
    } else {
      entry.outcome = 'stalled';
      exchange.held = true;
      if (action.ms !== undefined) exchange.timer = setTimeout(() => this.drop(exchange), action.ms);
    }
  }

  /** The first fault that applies to the request, counting it against the fault's `count`. */
  private takeFault(request: ProxiedRequest): Fault | undefined {
    const fault = this.faults.find((f) => f.match?.(request) ?? true);
    if (fault?.count !== undefined && --fault.count <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }

  private answer(res: ServerResponse, status: number, retryAfterSeconds?: number): void {
    const headers = retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) };
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(failureStatus(status, retryAfterSeconds)));
  }

  private forward(exchange: Exchange, entry: LogEntry): void {
    const { req, res } = exchange;
    const open = () => !exchange.held;
    const upstream = httpsRequest({
      hostname: this.upstream.hostname,
      port: this.upstream.port,
      method: req.method,
      path: req.url,
      headers: { ...endToEnd(req.headers), host: this.upstream.host, authorization: `Bearer ${this.token}` },
      agent: this.agent,
    });
    exchange.upstream = upstream;
    upstream.on('finish', () => {
      entry.deliveredAt = Date.now();
    });
    upstream.on('response', (upstreamRes) => {
      entry.upstreamStatus = upstreamRes.statusCode;
      if (open()) res.writeHead(upstreamRes.statusCode!, endToEnd(upstreamRes.headers));
      relay(upstreamRes, res, open);
    });
    // The API server's connection failed: the client's fails too, as it would without the proxy.
    upstream.on('error', () => req.socket.destroy());
    relay(req, upstream, open);
  }

  /** Closes an exchange's connections on both sides. */
  private drop(exchange: Exchange): void {
    exchange.upstream?.destroy();
    exchange.req.socket.destroy();
  }
}

/** Starts a fault proxy on a free port of 127.0.0.1, forwarding to `options.upstream` (no faults yet). */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = loopbackUpstream(options.upstream);
  const ca = options.ca.includes('-----BEGIN') ? options.ca : readFileSync(options.ca, 'utf8');
  const server = createServer();
  // Idle connections stay open as long as kube-apiserver keeps them (90 s): closing them sooner would add resets.
  server.keepAliveTimeout = 90_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return new FaultProxy(server, upstream, ca, options.token);
}
