import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { claimPodBlock, MAX_NODES, podRange } from '../testenv/podnet.js';

test('a pod block is a /20 of 10.244.0.0/16, each node a /24 of it; out of range is refused', () => {
  assert.deepEqual([podRange().cidr, podRange().node(1)], ['10.244.0.0/20', '10.244.1.0/24']);
  assert.deepEqual(
    [podRange(3).cidr, podRange(3).node(0), podRange(15).node(14)],
    ['10.244.48.0/20', '10.244.48.0/24', '10.244.254.0/24'],
  );
  assert.throws(() => podRange(16), /pod block 16: not 0-15/);
  assert.throws(() => podRange(3).node(MAX_NODES), /room for 15 nodes/);
});

test('claims take free blocks from 1, skip one a live process holds, and take over one a dead process left', (t) => {
  const claims = mkdtempSync(`${tmpdir()}/claims-`);
  t.after(() => rmSync(claims, { recursive: true, force: true }));
  const dead = spawnSync('true').pid;
  writeFileSync(`${claims}/1`, String(process.ppid));
  writeFileSync(`${claims}/2`, String(dead));
  assert.equal(claimPodBlock(claims), 2, 'block 1 is held by a live process; block 2 was left by a dead one');
  assert.equal(readFileSync(`${claims}/2`, 'utf8'), String(process.pid));
  assert.equal(claimPodBlock(claims), 3);
});
