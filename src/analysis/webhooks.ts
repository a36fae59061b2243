import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NormalizedWebhook } from '../appspec/normalize.js';
import { backoffMs } from '../k8s/client.js';

/** What a webhook receives: Flagger's payload, so Flagger's load tester and gates work unchanged. */
export interface WebhookPayload {
  name: string;
  namespace: string;
  /** Flagger's canary phase for the moment: Progressing, WaitingPromotion, Succeeded or Failed. */
  phase: string;
  /** Identifies the release (Stepwise's hash of the new pod template). */
  checksum: string;
  metadata?: Record<string, string>;
}

/** A webhook's answer: success is any 2xx, after at most `retries` further tries on errors and 5xx. */
export interface WebhookResult {
  name: string;
  ok: boolean;
  /** The HTTP status, when one came. */
  status?: number;
  message: string;
  time: string;
}

/** POSTs the payload as JSON; never throws: a failure is a result that says why. */
export async function callWebhook(
  hook: NormalizedWebhook,
  payload: WebhookPayload,
  now = new Date(),
): Promise<WebhookResult> {
  const body = JSON.stringify({ ...payload, ...(hook.metadata ? { metadata: hook.metadata } : {}) });
  const at = now.toISOString();
  let last = '';
  for (let attempt = 0; attempt <= hook.retries; attempt++) {
    if (attempt > 0) await sleep(backoffMs(200, attempt, 2000));
    try {
      const { status, text } = await post(hook.url, body, hook.timeoutSeconds * 1000);
      const said = text.trim().slice(0, 200);
      const message = `${hook.name}: HTTP ${status}${said ? ` (${said})` : ''}`;
      if (status >= 200 && status < 300) return { name: hook.name, ok: true, status, message, time: at };
      if (status < 500) return { name: hook.name, ok: false, status, message, time: at };
      last = message;
    } catch (e) {
      last = `${hook.name}: ${(e as Error).message}`;
    }
  }
  return { name: hook.name, ok: false, message: last, time: at };
}

function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(timeoutMs),
      },
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
