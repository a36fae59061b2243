import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { builtinRolloutCrd } from '../../src/engines/crd.js';
import { applyObjects, KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { ROOT } from '../support/paths.js';
import { ensureControlPlane, type ControlPlaneBuild } from './build.js';
import { makePki } from './pki.js';
import { MAX_NODES, podRange } from './podnet.js';
import {
  freePorts,
  isAlive,
  killNow,
  probe,
  rssBytes,
  startComponent,
  stopComponents,
  waitFor,
  type Component,
} from './process.js';

/** The label that makes a pod run but never turn Ready (see stages/pod-never-ready.yaml). */
export const NEVER_READY_LABEL = 'stepwise.dev/test-never-ready';
/**
 * A pod annotated with a duration (`1s`, `500ms`) turns Ready that long after it was last written, as a real
 * container starting and passing its first readiness probe would; without it pods turn Ready at once. kwok
 * restarts the wait on every write to the pod (its scheduling, a label), so the figure is a lower bound.
 */
export const READY_AFTER_ANNOTATION = 'stepwise.dev/test-ready-after';
/** kwokctl's values for a cluster without client-side rate limits. */
const UNLIMITED_QPS = 5000;
const UNLIMITED_BURST = 10000;

export interface ClusterOptions {
  /** Fake kwok nodes, 110 pods each (at most 15). @default 2 */
  nodes?: number;
  /**
   * The block of the pod range the pods take their addresses from (./podnet.ts): 0, which nothing on the machine
   * routes to, or one a data-plane test claimed and made real. @default 0
   */
  podBlock?: number;
  /** Install the Gateway API, OpenKruise Rollout and builtin Rollout CRDs. @default true */
  crds?: boolean;
  /** Leave the processes running when this process exits (`npm run cluster:up`). @default false */
  detached?: boolean;
  /** Progress lines. @default stderr */
  log?: (line: string) => void;
  /** Extra flags per component, after the defaults (e.g. feature gates, or a bad flag to test failure paths). */
  extraArgs?: Partial<
    Record<'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok', string[]>
  >;
}

export interface ClusterState {
  runDir: string;
  kubeconfig: string;
  server: string;
  components: Component[];
}

export class Cluster {
  private stopped = false;

  constructor(
    readonly state: ClusterState,
    readonly startupMs: number,
  ) {}

  get kubeconfig(): string {
    return this.state.kubeconfig;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.state.kubeconfig);
    return kc;
  }

  /** Resident memory of all components, in bytes. */
  memory(): Record<string, number> {
    return Object.fromEntries(this.state.components.map((c) => [c.name, rssBytes(c.pid)]));
  }

  /** Kills a component (kill -9 of its process group) and waits until it is gone: a crash, for fault tests. */
  async kill(name: string): Promise<void> {
    const c = this.component(name);
    killNow([c]);
    await waitFor(`${name} gone`, async () => !isAlive(c.pid), 10_000);
  }

  /** Starts a killed component again with its own flags; for kube-apiserver, resolves once it is ready. */
  async restart(name: string): Promise<void> {
    const c = this.component(name);
    if (!c.start) throw new Error(`${name} was not started by this process`);
    const { bin, args, detached, ...options } = c.start;
    const started = startComponent(name, bin, args, c.log, detached, options);
    // The same object: the set of live components (killed when this process exits) follows the new pid.
    Object.assign(c, started);
    if (name !== 'kube-apiserver') return;
    const ca = `${this.state.runDir}/pki/ca.crt`;
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await probe(`${this.state.server}/readyz`, { ca }))?.status === 200,
      120_000,
      c,
    );
  }

  private component(name: string): Component {
    const c = this.state.components.find((x) => x.name === name);
    if (!c) throw new Error(`no component ${name} in this cluster`);
    return c;
  }

  /** Stops every component and removes the run directory (kept when STEPWISE_KEEP_RUN is set). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopComponents(this.state.components);
    unregister(this.state.components, this.state.runDir);
    if (!process.env.STEPWISE_KEEP_RUN) rmSync(this.state.runDir, { recursive: true, force: true });
  }
}

// Components and run directories of clusters started by this process: killed and removed if it exits or is
// interrupted before stop() (the directories kept when STEPWISE_KEEP_RUN is set). Exported for components
// started beside a cluster (kruise.ts), so they die with this process too.
const live = new Set<Component>();
const liveRunDirs = new Set<string>();
let hooked = false;
export function register(components: Component[], runDir?: string): void {
  for (const c of components) live.add(c);
  if (runDir) liveRunDirs.add(runDir);
  if (hooked) return;
  hooked = true;
  const cleanUp = () => {
    killNow([...live]);
    if (!process.env.STEPWISE_KEEP_RUN) for (const dir of liveRunDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanUp();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
export function unregister(components: Component[], runDir?: string): void {
  for (const c of components) live.delete(c);
  if (runDir) liveRunDirs.delete(runDir);
}

/**
 * Starts a real control plane on 127.0.0.1: etcd, kube-apiserver (RBAC, token admin), kube-controller-manager,
 * kube-scheduler and kwok with fake nodes whose pods become Ready. Random free ports and a fresh run directory
 * keep concurrent clusters apart. On any failure everything started is stopped and the error carries the tail
 * of the failing component's log.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[cluster] ${line}\n`));
  const build = await ensureControlPlane();
  const t0 = performance.now();
  const runDir = mkdtempSync(join(tmpdir(), 'stepwise-cluster-'));
  const components: Component[] = [];
  const detached = options.detached ?? false;
  if (!detached) register(components, runDir);
  try {
    const state = await boot(build, runDir, components, detached, options, log);
    const cluster = new Cluster(state, performance.now() - t0);
    log(`ready in ${(cluster.startupMs / 1000).toFixed(1)} s: ${state.server} (run dir ${runDir})`);
    return cluster;
  } catch (e) {
    await stopComponents(components, 3000);
    unregister(components, runDir);
    if (!process.env.STEPWISE_KEEP_RUN) rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
}

async function boot(
  build: ControlPlaneBuild,
  runDir: string,
  components: Component[],
  detached: boolean,
  options: ClusterOptions,
  log: (line: string) => void,
): Promise<ClusterState> {
  const pods = podRange(options.podBlock);
  const nodes = options.nodes ?? 2;
  if (nodes > MAX_NODES) throw new Error(`nodes: ${nodes}; a cluster has at most ${MAX_NODES}`);
  const bin = (name: string) => `${build.bin}/${name}`;
  const logOf = (name: string) => `${runDir}/${name}.log`;
  const start = (name: keyof NonNullable<ClusterOptions['extraArgs']>, args: string[]) => {
    const c = startComponent(name, bin(name), [...args, ...(options.extraArgs?.[name] ?? [])], logOf(name), detached);
    components.push(c);
    if (!detached) register([c]);
    return c;
  };
  const [etcdPort, peerPort, etcdMetrics, apiPort, kcmPort, schedPort] = await freePorts(6);
  const pki = makePki(`${runDir}/pki`);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = `${runDir}/admin.kubeconfig`;
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stepwise-test', cluster: { server, 'certificate-authority': pki.caCert } }],
      users: [{ name: 'admin', user: { token: pki.token } }],
      contexts: [{ name: 'stepwise-test', context: { cluster: 'stepwise-test', user: 'admin', namespace: 'default' } }],
      'current-context': 'stepwise-test',
    }),
    { mode: 0o600 },
  );

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = start('etcd', [
    '--name=t0',
    `--data-dir=${runDir}/etcd`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=t0=${peerUrl}`,
    `--listen-metrics-urls=http://127.0.0.1:${etcdMetrics}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  await waitFor(
    'etcd /health',
    async () => (await probe(`${etcdUrl}/health`))?.body.includes('"health":"true"') ?? false,
    30_000,
    etcd,
  );
  log(`etcd up on :${etcdPort}`);

  const apiserver = start('kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    '--advertise-address=127.0.0.1',
    // A loopback advertise address cannot back the kubernetes Service's endpoints; nothing here needs them.
    '--endpoint-reconciler-type=none',
    `--cert-dir=${pki.dir}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${pki.tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    // Fake nodes are never tainted not-ready (there is no node-lifecycle controller to lift the taint).
    '--disable-admission-plugins=TaintNodesByCondition',
    '--profiling=false',
    '--v=1',
  ]);
  await waitFor(
    'kube-apiserver /readyz',
    async () => (await probe(`${server}/readyz`, { ca: pki.caCert }))?.status === 200,
    120_000,
    apiserver,
  );
  log(`kube-apiserver up on :${apiPort}`);

  const kcm = start('kube-controller-manager', [
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${kcmPort}`,
    `--cert-dir=${runDir}/kcm`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    '--controllers=*,-node-lifecycle-controller,-taint-eviction-controller,-horizontal-pod-autoscaler-controller',
    // Nodes and pods cost nothing here, so client-side throttling would only add waiting (kwokctl's
    // --disable-qps-limits).
    `--kube-api-qps=${UNLIMITED_QPS}`,
    `--kube-api-burst=${UNLIMITED_BURST}`,
  ]);
  writeFileSync(
    `${runDir}/scheduler.yaml`,
    stringify({
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      clientConnection: { kubeconfig, qps: UNLIMITED_QPS, burst: UNLIMITED_BURST },
      leaderElection: { leaderElect: false },
    }),
  );
  const scheduler = start('kube-scheduler', [
    `--config=${runDir}/scheduler.yaml`,
    '--bind-address=127.0.0.1',
    `--secure-port=${schedPort}`,
    `--cert-dir=${runDir}/scheduler`,
  ]);
  await Promise.all([
    waitFor(
      'kube-controller-manager /healthz',
      async () => (await probe(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true }))?.status === 200,
      60_000,
      kcm,
    ),
    waitFor(
      'kube-scheduler /healthz',
      async () => (await probe(`https://127.0.0.1:${schedPort}/healthz`, { insecure: true }))?.status === 200,
      60_000,
      scheduler,
    ),
  ]);
  log('kube-controller-manager and kube-scheduler up');

  writeFileSync(`${runDir}/kwok.yaml`, kwokStages(build));
  const kwok = start('kwok', [
    `--kubeconfig=${kubeconfig}`,
    `--config=${runDir}/kwok.yaml`,
    '--manage-all-nodes=true',
    `--cidr=${pods.cidr}`,
    '--node-ip=10.244.255.1',
  ]);

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < nodes; i++) {
    const name = `kwok-node-${i}`;
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
          },
        },
        spec: { podCIDR: pods.node(i), podCIDRs: [pods.node(i)] },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      },
    });
  }
  await waitFor(
    `${nodes} kwok nodes Ready`,
    async () => {
      const list = await core.listNode();
      return (
        list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .length === nodes
      );
    },
    60_000,
    kwok,
  );
  await waitFor(
    'service account default/default',
    async () => Boolean(await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })),
    60_000,
    kcm,
  );
  log(`${nodes} kwok nodes Ready`);

  if (options.crds ?? true) {
    const crds = [...crdFiles(build), builtinRolloutCrd() as KubeObject];
    await installCrds(new KubeClient(kc), crds);
    log(`${crds.length} CRDs established`);
  }
  const state = { runDir, kubeconfig, server, components: [...components] };
  writeFileSync(`${runDir}/state.json`, JSON.stringify(state, null, 2));
  return state;
}

/**
 * kwok's upstream fast stages, with pod-ready narrowed to pods without the never-ready label and delayed by
 * the ready-after annotation, plus ours.
 */
function kwokStages(build: ControlPlaneBuild): string {
  const docs = readdirSync(build.kwokStages)
    .sort()
    .map((f) => parseAllDocuments(readFileSync(`${build.kwokStages}/${f}`, 'utf8'))[0]!.toJS());
  for (const stage of docs) {
    if (stage.metadata.name === 'pod-ready') {
      stage.spec.selector.matchExpressions.push({
        key: `.metadata.labels["${NEVER_READY_LABEL}"]`,
        operator: 'DoesNotExist',
      });
      stage.spec.delay = {
        durationMilliseconds: 0,
        durationFrom: { expressionFrom: `.metadata.annotations["${READY_AFTER_ANNOTATION}"]` },
      };
    }
  }
  const ours = readFileSync(`${ROOT}test/testenv/stages/pod-never-ready.yaml`, 'utf8');
  return [...docs.map((d) => stringify(d)), ours].join('---\n');
}

/**
 * The Gateway API standard CRDs and OpenKruise's Rollout CRD. Kruise's other three (BatchRelease, TrafficRouting,
 * RolloutHistory) are only of use to its controller, so startKruise (kruise.ts) installs them; Kubernetes 1.36
 * accepts all four with server-side apply.
 */
function crdFiles(build: ControlPlaneBuild): KubeObject[] {
  const files = [
    ...readdirSync(`${build.crds}/gateway-api`)
      .sort()
      .map((f) => `${build.crds}/gateway-api/${f}`),
    `${build.crds}/kruise-rollouts/rollouts.kruise.io_rollouts.yaml`,
  ];
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((d) => d.toJS() as KubeObject)
      .filter((o) => o?.kind === 'CustomResourceDefinition'),
  );
}

/**
 * Server-side applies CRDs (the HTTPRoute CRD is too large for client-side apply) and waits until each is Established.
 */
export async function installCrds(client: KubeClient, crds: readonly KubeObject[]): Promise<void> {
  await applyObjects(client, crds, { force: true });
  await Promise.all(
    crds.map((crd) =>
      waitFor(
        `CRD ${crd.metadata.name} Established`,
        async () => {
          const got = await client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>({
            apiVersion: 'apiextensions.k8s.io/v1',
            kind: 'CustomResourceDefinition',
            name: crd.metadata.name,
          });
          return got?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
        },
        60_000,
      ),
    ),
  );
}

/** Reattaches to a cluster started detached (for `cluster:down`). */
export function attachCluster(runDir: string): Cluster {
  const state = JSON.parse(readFileSync(`${runDir}/state.json`, 'utf8')) as ClusterState;
  return new Cluster(state, 0);
}
