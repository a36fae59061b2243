import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpCall {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA bundle for an https URL. */
  ca?: Buffer;
  timeoutMs: number;
}

/** One HTTP(S) request to Prometheus or a webhook: its status and body, or an error saying why there is none. */
export function send(url: string, call: HttpCall): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const { method, body, ca, timeoutMs } = call;
  const headers = {
    ...call.headers,
    ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method, headers, ...(ca ? { ca } : {}), signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => reject(e.name === 'AbortError' ? new Error(`no answer within ${timeoutMs / 1000} s`) : e));
    req.end(body);
  });
}
