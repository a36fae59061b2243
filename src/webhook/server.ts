import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ADMIT_PATH } from './names.js';
import type { KeyPair } from './x509.js';
import type { AdmissionRequestBody, AdmissionResponseBody } from './review.js';

/** An AdmissionReview carries the object twice; Kubernetes objects are at most 1.5 MiB each. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * Idle connections stay open longer than the API server's client keeps them (Go's 90 s), so the server never
 * closes one the API server is about to send a review on.
 */
const KEEP_ALIVE_MS = 120_000;

export interface AdmissionServerOptions {
  port: number;
  /** @default all interfaces */
  host?: string;
  tls: KeyPair;
  handle: (request: AdmissionRequestBody) => Promise<AdmissionResponseBody>;
  log?: (line: string) => void;
  /** Told each review's duration, for metrics and benchmarks. */
  onReviewed?: (ms: number, response: AdmissionResponseBody) => void;
}

/**
 * The HTTPS endpoint the API server calls with `admission.k8s.io/v1` AdmissionReviews. HTTP/1.1 with kept-alive
 * connections: the API server opens one per review in flight, where over HTTP/2 concurrent reviews would queue
 * behind one connection's flow-control window (measured: 1.5 ms against 840 ms a review in a burst of 200).
 * A malformed review gets a 400; a failure inside the handler is a refusal naming the error, so that a
 * governed write never passes unchecked.
 */
export class AdmissionServer {
  /** TLS connections accepted so far (the API server keeps them open and reuses them). */
  connections = 0;

  private constructor(private readonly server: Server) {
    server.on('secureConnection', () => this.connections++);
  }

  static async start(options: AdmissionServerOptions): Promise<AdmissionServer> {
    const server = createServer({
      key: options.tls.keyPem,
      cert: options.tls.certPem,
      keepAliveTimeout: KEEP_ALIVE_MS,
      noDelay: true,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void serve(req, res, options));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    return new AdmissionServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Serves a renewed certificate from the next connection on. */
  setCertificate(tls: KeyPair): void {
    this.server.setSecureContext({ key: tls.keyPem, cert: tls.certPem });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function serve(req: IncomingMessage, res: ServerResponse, options: AdmissionServerOptions): Promise<void> {
  const reply = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method === 'GET' && req.url === '/healthz') return reply(200, { status: 'ok' });
  if (req.method !== 'POST' || req.url?.split('?')[0] !== ADMIT_PATH)
    return reply(404, { message: `no such endpoint: ${req.method} ${req.url}` });
  const started = performance.now();
  let review: { apiVersion?: string; kind?: string; request?: AdmissionRequestBody };
  try {
    review = JSON.parse(await readBody(req));
  } catch (e) {
    return reply(400, { message: `not an AdmissionReview: ${(e as Error).message}` });
  }
  const request = review.request;
  if (review.kind !== 'AdmissionReview' || !request?.uid)
    return reply(400, { message: 'not an admission.k8s.io/v1 AdmissionReview' });
  let response: AdmissionResponseBody;
  try {
    response = await options.handle(request);
  } catch (e) {
    options.log?.(`admission of ${describe(request)} failed: ${(e as Error).message}`);
    response = {
      uid: request.uid,
      allowed: false,
      status: {
        code: 500,
        reason: 'InternalError',
        message: `stepwise could not check this write: ${(e as Error).message}`,
      },
    };
  }
  options.onReviewed?.(performance.now() - started, response);
  reply(200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}

const describe = (r: AdmissionRequestBody) =>
  `${r.object?.kind ?? '?'}/${r.namespace ?? ''}/${r.object?.metadata.name ?? '?'}`;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
