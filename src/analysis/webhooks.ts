import { setTimeout as sleep } from 'node:timers/promises';
import type { NormalizedWebhook } from '../appspec/normalize.js';
import { backoffMs } from '../k8s/client.js';
import { send } from './http.js';

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
      const { status, text } = await send(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        timeoutMs: hook.timeoutSeconds * 1000,
      });
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
