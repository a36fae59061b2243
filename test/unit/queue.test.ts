import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from '../../src/reconciler/queue.js';

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
