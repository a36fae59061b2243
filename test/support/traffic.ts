/**
 * Real requests through a real proxy: the data plane of the tests that check where traffic goes. Pods answer from
 * a network namespace that owns the pod range (../testenv/podnet.ts, one server for all, ./pod-server.ts), Traefik
 * routes to them from what Stepwise or Kruise wrote (../testenv/traefik.ts), and a load generator on the host sends
 * a steady, bounded stream of requests through Traefik and records which version answered each.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import type { Cluster } from '../testenv/cluster.js';
import { createPodNetwork, type PodNetwork } from '../testenv/podnet.js';
import { startTraefik, type Traefik } from '../testenv/traefik.js';
import { ROOT } from './paths.js';

/** How long a deleted pod still answers at its address, as a terminating container does. */
const LINGER_MS = 2000;

interface PodSeen {
  metadata: KubeObject['metadata'];
  spec?: { containers?: { image: string }[] };
  status?: { podIP?: string };
}

/**
 * Tells the pod server which pod holds which address, from a watch of every pod: a pod with an address answers
 * with its first container's image; a deleted one keeps answering for LINGER_MS, unless its address is reused.
 */
class PodDirectory {
  private readonly holders = new Map<string, string>();
  private readonly stopping = new AbortController();
  private readonly done: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly server: ChildProcess,
  ) {
    this.done = this.watch();
  }

  /** The HTTP status pods of a version answer with, where not 200: a broken release. */
  readonly statuses = new Map<string, number>();

  private tell(address: string, version: string | null): void {
    const status = (version && this.statuses.get(version)) || 200;
    this.server.stdin?.write(`${JSON.stringify({ address, version, status })}\n`);
  }

  private seen(type: string, pod: PodSeen): void {
    const address = pod.status?.podIP;
    const uid = String(pod.metadata.uid);
    if (!address) return;
    if (type === 'DELETED' || pod.metadata.deletionTimestamp) {
      setTimeout(() => {
        if (this.holders.get(address) !== uid) return;
        this.holders.delete(address);
        this.tell(address, null);
      }, LINGER_MS).unref();
      return;
    }
    this.holders.set(address, uid);
    this.tell(address, pod.spec?.containers?.[0]?.image ?? null);
  }

  /**
   * Watches until stopped: on from the last version seen when a watch ends, from scratch after an error, then
   * after a pause (a failing request may fail at once: without one the retries would starve the event loop).
   */
  private async watch(): Promise<void> {
    let resourceVersion: string | undefined;
    while (!this.stopping.signal.aborted) {
      let retry = false;
      await this.client
        .watch(
          '/api/v1/pods',
          { resourceVersion, allowWatchBookmarks: 'true' },
          (type, object) => {
            // An ERROR (410 Gone: the version is too old) means list again: a watch from scratch replays every pod.
            if (type === 'ERROR') resourceVersion = undefined;
            else resourceVersion = (object.metadata.resourceVersion as string | undefined) ?? resourceVersion;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
              this.seen(type, object as unknown as PodSeen);
          },
          this.stopping.signal,
        )
        .catch(() => {
          resourceVersion = undefined;
          retry = true;
        });
      if (retry) await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
  }
}

/** One change of what Traefik serves: between `before` (the last read that saw the old) and `at` (the first new). */
interface Served {
  before: number;
  at: number;
  fingerprint: string;
}

/**
 * Traefik's routing configuration (routers, middlewares, services), read from its API every 25 ms: when it
 * changed (the split is constant between two changes), and that every backend it sends to is a pod address inside
 * the namespace. A backend outside the pod range stops everything (`failure`), before a request could go there.
 */
export class ServedConfiguration {
  readonly changes: Served[] = [];
  failure?: Error;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly traefik: Traefik,
    private readonly network: PodNetwork,
    private readonly onFailure: (e: Error) => void,
  ) {
    this.done = this.poll();
  }

  private async poll(): Promise<void> {
    let before = Date.now();
    while (this.running) {
      const next = new Promise((r) => setTimeout(r, 25).unref());
      const at = Date.now();
      try {
        const { routers, middlewares, services } = await this.traefik.configuration();
        const outside = Object.values(services)
          .flatMap((s) => s.loadBalancer?.servers ?? [])
          .map((server) => new URL(server.url).hostname)
          .filter((host) => !this.network.isPodAddress(host));
        if (outside.length) throw new Error(`traefik would send requests outside the pod range: ${outside}`);
        // Rules, weights and servers; not the health and usage Traefik reports beside them.
        const serving = Object.entries(services).map(
          ([name, { status: _s, serverStatus: _h, usedBy: _u, ...rest }]) => [name, rest],
        );
        const fingerprint = JSON.stringify([routers, middlewares, serving]);
        if (fingerprint !== this.changes.at(-1)?.fingerprint) this.changes.push({ before, at, fingerprint });
        before = at;
      } catch (e) {
        this.failure = e as Error;
        this.onFailure(this.failure);
        return;
      }
      await next;
    }
  }

  /** When what Traefik serves now was first seen. */
  get lastChange(): number {
    return this.changes.at(-1)?.at ?? 0;
  }

  /** The first change seen after `at` (ms since the epoch), if any. */
  changeAfter(at: number): Served | undefined {
    return this.changes.find((c) => c.at > at);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/**
 * When the routing objects of one namespace (Ingresses, HTTPRoutes) were changed, as a watch sees it: their spec
 * or annotations, not the status a proxy writes. Paired with Traefik's changes, the delay from write to serving.
 */
export class RoutingWrites {
  readonly at: number[] = [];
  private readonly stopping = new AbortController();
  private done: Promise<unknown> = Promise.resolve();

  private constructor() {}

  /** Lists the objects, then watches from there: every event after is a write. */
  static async start(client: KubeClient, namespace: string): Promise<RoutingWrites> {
    const writes = new RoutingWrites();
    const paths = [
      `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`,
      `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`,
    ];
    const routingOf = (o: KubeObject) => JSON.stringify([o.spec, o.metadata.annotations]);
    const last = new Map<string, string>();
    const watches = await Promise.all(
      paths.map(async (path) => {
        const list = await client.request<{ metadata: { resourceVersion: string }; items: KubeObject[] }>('GET', path);
        for (const o of list.items) last.set(`${path}/${o.metadata.name}`, routingOf(o));
        return { path, resourceVersion: list.metadata.resourceVersion };
      }),
    );
    writes.done = Promise.all(
      watches.map(({ path, resourceVersion }) =>
        client
          .watch(
            path,
            { resourceVersion },
            (type, o) => {
              const key = `${path}/${o.metadata.name}`;
              if (type === 'BOOKMARK' || last.get(key) === routingOf(o)) return;
              writes.at.push(Date.now());
              last.set(key, routingOf(o));
            },
            writes.stopping.signal,
          )
          .catch(() => undefined),
      ),
    );
    return writes;
  }

  /** Per write, ms until Traefik served a change (writes it never served a change after are left out). */
  delays(served: ServedConfiguration): number[] {
    return this.at.flatMap((w) => {
      const change = served.changeAfter(w);
      return change ? [change.at - w] : [];
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
  }
}

/** A kind of request the load generator sends: plain, or carrying a header or cookie a step may match. */
export interface RequestKind {
  readonly name: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One request sent: when (ms since the epoch), of which kind, and what answered. */
export interface Answer {
  readonly kind: string;
  readonly sentAt: number;
  readonly ms: number;
  /** HTTP status, 0 when no response came. */
  readonly status: number;
  /** The image of the pod that answered. */
  readonly version?: string;
  readonly error?: string;
}

export interface LoadTarget {
  /** The Host header (an Ingress host or an HTTPRoute hostname). */
  readonly host: string;
  readonly path: string;
  /** Sent in turn, so each gets an equal share of the requests. */
  readonly kinds: readonly RequestKind[];
}

export interface LoadOptions {
  /** Requests per second, over all connections. @default 300 */
  readonly perSecond?: number;
  /** Connections (each sends its next request once the last is answered). @default 4 */
  readonly connections?: number;
  /** The most requests sent. @default 100_000 */
  readonly maxRequests?: number;
  /** The longest the load runs. @default 300_000 */
  readonly maxMs?: number;
}

/** A steady stream of requests through the proxy, bounded in count and time, each answer recorded. */
export class Load {
  readonly answers: Answer[] = [];
  private running = true;
  private sent = 0;
  private readonly agent: Agent;
  private readonly done: Promise<void>;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly target: LoadTarget,
    options: LoadOptions = {},
  ) {
    const connections = options.connections ?? 4;
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
    const intervalMs = (connections * 1000) / (options.perSecond ?? 300);
    const until = Date.now() + (options.maxMs ?? 300_000);
    const max = options.maxRequests ?? 100_000;
    const connection = async (offset: number) => {
      let next = Date.now() + offset;
      while (this.running && this.sent < max && Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
        next += intervalMs;
        if (!this.running) break;
        await this.send(this.target.kinds[this.sent++ % this.target.kinds.length]!);
      }
    };
    this.done = Promise.all(
      Array.from({ length: connections }, (_, i) => connection((i * intervalMs) / connections)),
    ).then(() => undefined);
  }

  private send(kind: RequestKind): Promise<void> {
    const sentAt = Date.now();
    return new Promise((resolve) => {
      const record = (status: number, version?: string, error?: string) => {
        this.answers.push({ kind: kind.name, sentAt, ms: Date.now() - sentAt, status, version, error });
        for (const wake of this.waiters) wake();
        resolve();
      };
      const req = request(
        `${this.url}${this.target.path}`,
        { agent: this.agent, headers: { host: this.target.host, ...kind.headers }, timeout: 5000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            const version = parseVersion(body);
            record(res.statusCode ?? 0, version, version === undefined ? body.slice(0, 200) : undefined);
          });
          res.on('error', (e) => record(0, undefined, e.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
      req.on('error', (e) => record(0, undefined, e.message));
      req.end();
    });
  }

  /** Resolves once `count` more answers have come after `since` (ms since the epoch) for requests of `kind`. */
  async answered(count: number, since: number, kind?: string): Promise<void> {
    const enough = () => this.answers.filter((a) => a.sentAt >= since && (!kind || a.kind === kind)).length >= count;
    while (!enough()) {
      if (!this.running) throw new Error(`the load stopped before ${count} answers after ${new Date(since)}`);
      await new Promise<void>((wake) => {
        this.waiters.add(wake);
        setTimeout(wake, 1000).unref();
      }).finally(() => this.waiters.clear());
    }
  }

  async stop(): Promise<Answer[]> {
    this.running = false;
    await this.done;
    this.agent.destroy();
    return this.answers;
  }
}

function parseVersion(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { version?: string }).version ?? undefined;
  } catch {
    return undefined;
  }
}

/** The requests answered with anything but 200 from a pod. */
export const failed = (answers: readonly Answer[]) => answers.filter((a) => a.status !== 200 || !a.version);

/** The share (0–100) of `answers` that `version` answered, or undefined when there are none. */
export function shareOf(answers: readonly Answer[], version: string): number | undefined {
  const ok = answers.filter((a) => a.version);
  return ok.length ? (100 * ok.filter((a) => a.version === version).length) / ok.length : undefined;
}

/** Buckets of `bucketMs` from the first answer: requests per version and failures, as CSV lines. */
export function splitSeries(answers: readonly Answer[], versions: readonly string[], bucketMs = 250): string[] {
  if (!answers.length) return [];
  const start = answers[0]!.sentAt;
  const buckets: { counts: number[]; failed: number }[] = [];
  for (const a of answers) {
    const i = Math.floor((a.sentAt - start) / bucketMs);
    buckets[i] ??= { counts: versions.map(() => 0), failed: 0 };
    const b = buckets[i];
    const v = a.version ? versions.indexOf(a.version) : -1;
    if (a.status === 200 && v >= 0) b.counts[v]!++;
    else b.failed++;
  }
  const header = ['ms', ...versions.flatMap((v) => [v, `${v} %`]), 'failed'].join(',');
  const lines = Array.from(buckets, (b, i) => {
    const total = b ? b.counts.reduce((x, y) => x + y, 0) : 0;
    const cells = versions.flatMap((_, j) => {
      const n = b?.counts[j] ?? 0;
      return [n, total ? ((100 * n) / total).toFixed(1) : ''];
    });
    return [i * bucketMs, ...cells, b?.failed ?? 0].join(',');
  });
  return [header, ...lines];
}

/** Writes the split of a release per 250 ms under test-output/traffic/, and returns the file's path. */
export function writeSplitSeries(name: string, answers: readonly Answer[], versions: readonly string[]): string {
  const file = `${ROOT}test-output/traffic/${name.replace(/[^a-z0-9-]+/gi, '-')}.csv`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${splitSeries(answers, versions).join('\n')}\n`);
  return file;
}

/**
 * The pod network, the server answering for every pod, the directory telling it who is where, and Traefik: the
 * whole data plane beside one test cluster. `guard` throws unless requests to pods stay inside the namespace.
 */
export class DataPlane {
  private constructor(
    readonly network: PodNetwork,
    readonly traefik: Traefik,
    private readonly server: ChildProcess,
    private readonly directory: PodDirectory,
  ) {}

  /**
   * Starts it all for the cluster on the pod block `block` (claimed, ../testenv/podnet.ts); `ports` are the
   * container ports pods are reached at.
   */
  static async start(
    cluster: Cluster,
    client: KubeClient,
    block: number,
    ports: readonly number[],
  ): Promise<DataPlane> {
    requireNetAdmin();
    const network = createPodNetwork(block);
    const closing: (() => unknown)[] = [() => network.close()];
    try {
      const server = network.spawn(process.execPath, [`${ROOT}dist/test/support/pod-server.js`, ...ports.map(String)]);
      closing.unshift(() => server.kill());
      await listening(server);
      const directory = new PodDirectory(client, server);
      closing.unshift(() => directory.stop());
      const traefik = await startTraefik(cluster);
      return new DataPlane(network, traefik, server, directory);
    } catch (e) {
      for (const close of closing) await close();
      throw e;
    }
  }

  /**
   * Sends `target`'s requests through Traefik until stopped (or its bounds are reached); what Traefik serves is
   * read meanwhile, and a backend outside the pod range stops the load before any request reaches it.
   */
  load(target: LoadTarget, options?: LoadOptions): { load: Load; served: ServedConfiguration } {
    this.network.guard();
    let load: Load | undefined;
    const served = new ServedConfiguration(this.traefik, this.network, () => void load?.stop());
    load = new Load(this.traefik.url, target, options);
    return { load, served };
  }

  /**
   * Resolves once a request for `target` is answered by a pod: Traefik has seen the app's routes and endpoints, so
   * a measurement that starts now measures the release, not the proxy catching up with a new app.
   */
  async reaches(target: LoadTarget, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let last: Answer | undefined; ; ) {
      const { load, served } = this.load(target, { connections: 1, maxRequests: 1 });
      await load.answered(1, 0).catch(() => undefined);
      [last] = await load.stop();
      await served.stop();
      if (served.failure) throw served.failure;
      if (last && failed([last]).length === 0) return;
      if (Date.now() > deadline)
        throw new Error(`traefik did not reach a pod for ${target.host}${target.path}: ${last?.status} ${last?.error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Pods of `version` (an image) started from now on answer every request with `status`: a broken release. */
  answer(version: string, status: number): void {
    this.directory.statuses.set(version, status);
  }

  async close(): Promise<void> {
    await this.traefik.stop();
    await this.directory.stop();
    this.server.kill();
    this.network.close();
  }
}

function requireNetAdmin(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0 || process.getuid?.() !== 0)
    throw new Error('the data-plane tests need root and iproute2 (ip netns): they create a network namespace');
}

function listening(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    server.stderr?.on('data', (d: Buffer) => (stderr += d));
    server.once('exit', (code) => reject(new Error(`the pod server exited (${code}): ${stderr}`)));
    createInterface({ input: server.stdout! }).on('line', (line) => line === 'listening' && resolve());
  });
}
