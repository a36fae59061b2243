/**
 * The kwok pod range made real on this machine. The test clusters' pods take addresses of 10.244.0.0/16, cut into
 * 16 blocks of /20: a cluster takes one block (node i gets its /24 number i). A data-plane test claims a block of
 * its own (1 to 15; 0 is every other cluster's), starts its cluster on it, and makes the block's first eight /24s
 * real: a network namespace, joined to the host by a veth pair, in which each of those addresses is local. A proxy
 * on the host that sends a request to a pod's address reaches a server in the namespace, and nothing for the pod
 * range can leave the machine: the namespace has no route beyond its block. Test files running at once claim
 * different blocks, so their namespaces never overlap. See ../../../shared/reference/dataplane.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAlive } from './process.js';

/** Blocks of the pod range, each a /20 of 10.244.0.0/16. */
const BLOCKS = 16;
/** Nodes a cluster can have: the last /24 of a block holds the veth pair's addresses. */
export const MAX_NODES = 15;
/** Nodes whose pods answer in a pod network: the /21 at the start of its block. */
const ROUTED_NODES = 8;

/** The pod range of the cluster on `block`: kwok's `--cidr` and each node's podCIDR. */
export function podRange(block = 0): { cidr: string; node(index: number): string } {
  if (!Number.isInteger(block) || block < 0 || block >= BLOCKS) throw new Error(`pod block ${block}: not 0-15`);
  return {
    cidr: `10.244.${16 * block}.0/20`,
    node(index) {
      if (index >= MAX_NODES) throw new Error(`node ${index}: a pod block has room for ${MAX_NODES} nodes`);
      return `10.244.${16 * block + index}.0/24`;
    },
  };
}

function ip(args: readonly string[], input?: string): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', input, timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Claims a pod block for this process until it exits: the first of 1-15 no live process holds (a claim is a file
 * in `claims` naming its process; one a dead process left is taken over). Synchronous, so a test file can pass
 * the block to its cluster's options when it loads.
 */
export function claimPodBlock(claims = `${tmpdir()}/stepwise-pod-blocks`): number {
  mkdirSync(claims, { recursive: true });
  for (let block = 1; block < BLOCKS; block++) {
    const file = `${claims}/${block}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        process.once('exit', () => rmSync(file, { force: true }));
        return block;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder && isAlive(holder)) break;
      rmSync(file, { force: true });
    }
  }
  throw new Error(`no free pod block: ${BLOCKS - 1} processes hold one (claims in ${claims})`);
}

export interface PodNetwork {
  /** The namespace's name (`ip netns`). */
  readonly name: string;
  /** Whether `address` (IPv4, dotted) is one where pods answer in this namespace. */
  isPodAddress(address: string): boolean;
  /**
   * Throws unless traffic for the pod range stays inside the namespace: it exists, and the host routes
   * `address` (any pod address, by default the first) through its side of the veth pair. Called before any
   * request is sent, and whenever the proxy is about to be used.
   */
  guard(address?: string): void;
  /** Starts `command` inside the namespace (its stdio piped). */
  spawn(command: string, args: readonly string[]): ChildProcess;
  /** Removes the namespace and the veth pair; the block routes as before. */
  close(): void;
}

/**
 * Creates the namespace of a claimed `block`. Needs root (CAP_NET_ADMIN) and iproute2. A leftover of the same
 * block (from a killed run) is removed first: the claim says no live process uses it.
 */
export function createPodNetwork(block: number): PodNetwork {
  const base = 16 * block;
  const name = `stepwise-pods-${block}`;
  const host = `swpods${block}-host`;
  const inside = `swpods${block}-ns`;
  const first = `10.244.${base}.1`;
  removeNetwork(name, host);
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', inside, 'netns', name]);
    ip(['addr', 'add', `10.244.${base + 15}.254/20`, 'dev', host]);
    ip(['link', 'set', host, 'up']);
    ip(
      ['-n', name, '-batch', '-'],
      [
        'link set lo up',
        `addr add 10.244.${base + 15}.253/20 dev ${inside}`,
        `link set ${inside} up`,
        // Any address of the nodes' ranges is this namespace's own, so one server bound to 0.0.0.0 answers them all.
        `route add local 10.244.${base}.0/21 dev lo table local`,
      ].join('\n'),
    );
  } catch (e) {
    removeNetwork(name, host);
    throw e;
  }
  // However the test process ends, the block routes as before.
  const cleanUp = () => removeNetwork(name, host);
  process.once('exit', cleanUp);
  const isPodAddress = (address: string) => {
    const m = /^10\.244\.(\d{1,3})\.(\d{1,3})$/.exec(address);
    return m !== null && Number(m[1]) - base >= 0 && Number(m[1]) - base < ROUTED_NODES && Number(m[2]) < 256;
  };
  return {
    name,
    isPodAddress,
    guard(address = first) {
      if (!isPodAddress(address)) throw new Error(`guard: ${address} is not a pod address of ${name}`);
      if (
        !ip(['netns', 'list'])
          .split('\n')
          .some((l) => l.split(' ')[0] === name)
      )
        throw new Error(`guard: the network namespace ${name} is gone`);
      const route = ip(['route', 'get', address]);
      if (!new RegExp(`\\bdev ${host}\\b`).test(route))
        throw new Error(`guard: ${address} does not route into the namespace: ${route.trim()}`);
    },
    spawn: (command, args) => spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: 'pipe' }),
    close() {
      process.removeListener('exit', cleanUp);
      removeNetwork(name, host);
    },
  };
}

function removeNetwork(name: string, host: string): void {
  // Deleting one end of a veth pair deletes both; deleting the namespace deletes its end too.
  spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}
