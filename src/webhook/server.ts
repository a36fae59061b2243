import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { KeyPair } from './x509.js';
import type { AdmissionRequestBody, AdmissionResponseBody } from './review.js';

/** The path the webhook configuration points at. */
export const ADMIT_PATH = '/admit';
/** An AdmissionReview carries the object twice; Kubernetes objects are at most 1.5 MiB each. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

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
 * The HTTPS endpoint the API server calls with `admission.k8s.io/v1` AdmissionReviews (HTTP/2, or HTTP/1.1).
 * A malformed review gets a 400; a failure inside the handler is a refusal naming the error, so that a
 * governed write never passes unchecked.
 */
export class AdmissionServer {
  private constructor(private readonly server: Http2SecureServer) {}

  static async start(options: AdmissionServerOptions): Promise<AdmissionServer> {
    const server = createSecureServer({ key: options.tls.keyPem, cert: options.tls.certPem, allowHTTP1: true });
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => void serve(req, res, options));
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

async function serve(req: Http2ServerRequest, res: Http2ServerResponse, options: AdmissionServerOptions): Promise<void> {
  const reply = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method === 'GET' && req.url === '/healthz') return reply(200, { status: 'ok' });
  if (req.method !== 'POST' || req.url.split('?')[0] !== ADMIT_PATH) return reply(404, { message: `no such endpoint: ${req.method} ${req.url}` });
  const started = performance.now();
  let review: { apiVersion?: string; kind?: string; request?: AdmissionRequestBody };
  try {
    review = JSON.parse(await readBody(req));
  } catch (e) {
    return reply(400, { message: `not an AdmissionReview: ${(e as Error).message}` });
  }
  const request = review.request;
  if (review.kind !== 'AdmissionReview' || !request?.uid) return reply(400, { message: 'not an admission.k8s.io/v1 AdmissionReview' });
  let response: AdmissionResponseBody;
  try {
    response = await options.handle(request);
  } catch (e) {
    options.log?.(`admission of ${describe(request)} failed: ${(e as Error).message}`);
    response = { uid: request.uid, allowed: false, status: { code: 500, reason: 'InternalError', message: `stepwise could not check this write: ${(e as Error).message}` } };
  }
  options.onReviewed?.(performance.now() - started, response);
  reply(200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}

const describe = (r: AdmissionRequestBody) => `${r.object?.kind ?? '?'}/${r.namespace ?? ''}/${r.object?.metadata.name ?? '?'}`;

async function readBody(req: Http2ServerRequest): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
