import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryLimiter, WorkQueue } from '../../src/reconciler/queue.js';

/** Starts `count` workers that each take one key and hold it until released. */
function workers(queue: WorkQueue, count: number) {
  const holding: string[] = [];
  const taken = Array.from({ length: count }, () =>
    queue.next().then((key) => {
      if (key !== undefined) holding.push(key);
      return key;
    }),
  );
  return { holding, taken };
}

const tick = () => new Promise((r) => setImmediate(r));

test('every idle worker is woken: keys added after the queue ran dry go out to as many workers at once', async () => {
  const queue = new WorkQueue();
  const { holding } = workers(queue, 4);
  await tick();
  for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
  await tick();
  assert.deepEqual(holding.sort(), ['a', 'b', 'c', 'd']);
  queue.stop();
});

test('a key is queued once, and is never handed to two workers at once', async () => {
  const queue = new WorkQueue();
  queue.add('a');
  queue.add('a');
  const first = await queue.next();
  assert.equal(first, 'a');
  queue.add('a'); // changed while being worked on
  const { holding } = workers(queue, 1);
  await tick();
  assert.deepEqual(holding, [], 'not handed out while its worker is busy with it');
  queue.done('a');
  await tick();
  assert.deepEqual(holding, ['a'], 'handed out again once done, because it changed meanwhile');
  queue.done('a');
  assert.equal(queue.empty, true);
  queue.stop();
});

test('addAfter: the earliest delay wins; stop releases waiting workers', async () => {
  const queue = new WorkQueue();
  queue.addAfter('a', 10_000);
  queue.addAfter('a', 5);
  queue.addAfter('a', 20_000);
  const started = Date.now();
  assert.equal(await queue.next(), 'a');
  assert.ok(Date.now() - started < 5_000);
  queue.done('a');
  const { taken } = workers(queue, 2);
  queue.stop();
  assert.deepEqual(await Promise.all(taken), [undefined, undefined]);
});

test("a failing key waits longer after each failure (client-go's 5 ms doubling, with jitter) until it succeeds", () => {
  const limiter = new RetryLimiter({ burst: 1000 });
  const waits = Array.from({ length: 12 }, () => limiter.whenNext('a'));
  waits.forEach((ms, n) => {
    const doubled = 5 * 2 ** n;
    assert.ok(ms >= doubled * 0.5 && ms <= doubled * 1.5, `failure ${n + 1}: ${ms} ms, not near ${doubled}`);
  });
  assert.equal(limiter.failuresOf('a'), 12);
  assert.ok(limiter.whenNext('b') <= 7.5, 'each key backs off on its own');
  limiter.forget('a');
  assert.ok(limiter.whenNext('a') <= 7.5, 'a success starts it over');
  assert.ok(new RetryLimiter({ maxDelayMs: 1000, burst: 1000 }).whenNext('c') <= 1000);
  const capped = new RetryLimiter({ maxDelayMs: 1000, burst: 1000 });
  for (let i = 0; i < 30; i++) capped.whenNext('c');
  assert.ok(capped.whenNext('c') <= 1000, 'never beyond the longest wait');
});

test('retries of all keys together are rate limited beyond the burst, so an outage does not end in a storm', () => {
  const limiter = new RetryLimiter({ qps: 10, burst: 100 });
  const now = Date.now();
  // 100 different keys failing at once: each at its own first backoff.
  for (let i = 0; i < 100; i++) assert.ok(limiter.whenNext(`k${i}`, now) <= 7.5);
  // Then the bucket is empty: the 101st waits a tenth of a second, the 110th a whole second.
  assert.ok(Math.abs(limiter.whenNext('k100', now) - 100) < 1);
  for (let i = 101; i < 109; i++) limiter.whenNext(`k${i}`, now);
  assert.ok(Math.abs(limiter.whenNext('k109', now) - 1000) < 1);
  // Tokens come back with time.
  assert.ok(limiter.whenNext('k110', now + 60_000) <= 7.5);
});

test('a key that failed is added again after its backoff, and a pause asked sooner still wins', async () => {
  const queue = new WorkQueue({ baseDelayMs: 40 });
  const waited = queue.addRateLimited('a');
  assert.ok(waited >= 20 && waited <= 60);
  const started = Date.now();
  assert.equal(await queue.next(), 'a');
  assert.ok(Date.now() - started >= waited - 5, 'not before its backoff');
  queue.done('a');
  queue.stop();
});
