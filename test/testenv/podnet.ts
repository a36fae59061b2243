/**
 * The kwok pod range made real on this machine: a network namespace, joined to the host by a veth pair, in which
 * every address of 10.244.0.0/17 (the pod ranges of the first 128 kwok nodes) is local. A proxy on the host that
 * sends a request to a pod's address reaches a server in the namespace, and nothing for the pod range can leave
 * the machine: the namespace has no route beyond 10.244.0.0/16. See ../../../shared/reference/dataplane.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

/** kwok's pod range as the test cluster starts it (node i gets 10.244.i.0/24). */
export const POD_RANGE = '10.244.0.0/16';
/** The part of it made local in the namespace: the nodes' pod ranges, not the addresses of the veth pair. */
const POD_ADDRESSES = '10.244.0.0/17';
const HOST_SIDE = '10.244.255.254';
const NAMESPACE_SIDE = '10.244.255.253';

/** Whether `address` (IPv4, dotted) is in 10.244.0.0/17, where pods answer. */
export function isPodAddress(address: string): boolean {
  const m = /^10\.244\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  return m !== null && Number(m[1]) < 128 && Number(m[2]) < 256;
}

function ip(args: readonly string[], input?: string): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', input, timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface PodNetwork {
  /** The namespace's name (`ip netns`). */
  readonly name: string;
  /**
   * Throws unless traffic for the pod range stays inside the namespace: it exists, and the host routes
   * `address` (any pod address, by default the first) through its side of the veth pair. Called before any
   * request is sent, and whenever the proxy is about to be used.
   */
  guard(address?: string): void;
  /** Starts `command` inside the namespace (its stdio piped). */
  spawn(command: string, args: readonly string[]): ChildProcess;
  /** Removes the namespace and the veth pair; the pod range routes as before. */
  close(): void;
}

/**
 * Creates the namespace. Needs root (CAP_NET_ADMIN) and iproute2. One per machine at a time: a second would
 * claim the same range, so the name is fixed and a leftover from a killed run is removed first.
 */
export function createPodNetwork(): PodNetwork {
  const name = 'stepwise-pods';
  const host = 'swpods-host';
  const inside = 'swpods-ns';
  removeNetwork(name, host);
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', inside, 'netns', name]);
    ip(['addr', 'add', `${HOST_SIDE}/16`, 'dev', host]);
    ip(['link', 'set', host, 'up']);
    ip(
      ['-n', name, '-batch', '-'],
      [
        'link set lo up',
        `addr add ${NAMESPACE_SIDE}/16 dev ${inside}`,
        `link set ${inside} up`,
        // Any address of the pod ranges is this namespace's own, so one server bound to 0.0.0.0 answers them all.
        `route add local ${POD_ADDRESSES} dev lo table local`,
      ].join('\n'),
    );
  } catch (e) {
    removeNetwork(name, host);
    throw e;
  }
  // However the test process ends, the pod range routes as before.
  const cleanUp = () => removeNetwork(name, host);
  process.once('exit', cleanUp);
  return {
    name,
    guard(address = '10.244.0.1') {
      if (!isPodAddress(address)) throw new Error(`guard: ${address} is not a pod address (${POD_ADDRESSES})`);
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
