/**
 * Releases under load, for the data-plane tests (../integration/dataplane-*.test.ts): an example released under an
 * engine while a load generator sends a steady stream of requests through a real Traefik to pods answering from a
 * network namespace (./traffic.ts). Per step, the new version's share of each kind of request is within 2 points
 * of what the step declares (its weight, or all of it for requests a match selects); no request fails in a whole
 * release; once a version has lost all traffic it never gets any again (Stepwise's finishing; Kruise's sends
 * traffic back, an intended difference); an abort and an undo take traffic back to the stable version for good.
 * The split per 250 ms is written under test-output/traffic/. Each test file claims a pod block of its own, so
 * files running at once never share addresses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, type TestContext } from 'node:test';
import { loadApps } from '../../src/appspec/load.js';
import type { Engine } from '../../src/appspec/types.js';
import { type PlannedStep, planApp } from '../../src/plan/plan.js';
import { isReady, type Pod } from '../../src/reconciler/observed.js';
import type { KubeClient } from '../../src/k8s/client.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { runAsync } from './cli.js';
import {
  approveUntilMoved,
  awaitsApproval,
  deployed,
  imageOf,
  kubectlApply,
  type Position,
  positionOf,
  releaseEnded,
  rolloutOf,
  type Scenario,
  synthesize,
  templateImageOf,
  withImage,
  workloadOf,
} from './conformance.js';
import { createNamespace, eventually, explained, useCluster } from './kube.js';
import { ROOT } from './paths.js';
import { installWithWebhook, type StepwiseProcess, startController } from './processes.js';
import {
  type Answer,
  DataPlane,
  failed,
  type Load,
  type RequestKind,
  RoutingWrites,
  type ServedConfiguration,
  shareOf,
  writeSplitSeries,
} from './traffic.js';
import type { Cluster } from '../testenv/cluster.js';
import { type KruiseController, kruiseLogTail, startKruise } from '../testenv/kruise.js';
import { claimPodBlock } from '../testenv/podnet.js';
import { freePorts } from '../testenv/process.js';

const HOME = 'stepwise-system';

/**
 * The data-plane tests of one file: claims a pod block, starts a cluster on it, and (from the first release: node 20
 * does not await root hooks in order) a ReleaseLab beside it; all stopped after the last test. Call once, at the
 * file's top level.
 */
export function useDataPlane() {
  const block = claimPodBlock();
  let started: Promise<ReleaseLab> | undefined;
  // Registered before the cluster's own `after`, so the lab stops while the cluster still answers.
  after(async () => (await started?.catch(() => undefined))?.close());
  const env = useCluster({ podBlock: block });
  const lab = () => (started ??= ReleaseLab.start(env.cluster, env.client, block));
  return {
    lab,
    release: async (...args: Parameters<ReleaseLab['release']>) => (await lab()).release(...args),
    check,
  };
}

/** Tolerance of a step's measured share, in points: ingress-nginx picks at random, Traefik by round robin. */
const TOLERANCE = 2;
/** Answers a share is measured on, per kind, once what the proxy serves has settled. */
const SAMPLE = 200;
/** A version missing from this many answers in a row (of one kind) has lost that traffic. */
const LOST_AFTER = 50;

/**
 * The grace period after each routing change: Traefik serves a write within about 0.2 s (the benchmark), so 1 s
 * holds the order of every change as the examples' 3-5 s do, and keeps each release within the runner's budget.
 */
const GRACE_SECONDS = 1;
const withGrace = (text: string) =>
  /gracePeriodSeconds: \d+/.test(text)
    ? text.replace(/gracePeriodSeconds: \d+/, `gracePeriodSeconds: ${GRACE_SECONDS}`)
    : text.replace(/^ {2}rollout:\n/m, `  rollout:\n    gracePeriodSeconds: ${GRACE_SECONDS}\n`);

/** Every pause waits for approval, so each step is held while its traffic is measured. */
const approvedPauses = (text: string) => text.replace(/pause: \{duration: \d+\}/g, 'pause: {}');

export interface TrafficScenario extends Scenario {
  readonly slug: string;
  /** The next version's image. */
  readonly image: string;
  readonly host: string;
  readonly path: string;
  readonly kinds: readonly RequestKind[];
  /** The new version answers every request with this status: a broken release, its failures expected. */
  readonly broken?: number;
}

const PLAIN: RequestKind = { name: 'plain' };
export const SCENARIOS = {
  seed: {
    name: 'the seed blue-green release on nginx',
    slug: 'seed',
    files: ['examples/blue-green.yaml'],
    image: 'cilium/echoserver:1.10.4',
    host: 'echoserver.example.com',
    path: '/apis/echo',
    kinds: [PLAIN],
  },
  gateway: {
    name: 'a canary on a Gateway API HTTPRoute',
    slug: 'gateway',
    files: ['examples/canary-gateway.yaml'],
    edit: approvedPauses,
    image: 'ghcr.io/example/storefront:2.5.0',
    host: 'shop.example.com',
    path: '/store',
    kinds: [PLAIN],
  },
  layers: {
    name: 'a canary on nginx in weight steps, from layered config',
    slug: 'layers',
    files: ['examples/layers/base.yaml', 'examples/layers/prod.yaml'],
    image: 'ghcr.io/example/api:1.9.0',
    host: 'api.example.com',
    path: '/',
    kinds: [PLAIN],
  },
  ab: {
    name: 'an A/B test on nginx (header and cookie matches)',
    slug: 'ab',
    files: ['examples/ab-test.yaml'],
    image: 'ghcr.io/example/checkout:3.2.0',
    host: 'checkout.example.com',
    path: '/',
    kinds: [
      PLAIN,
      { name: 'beta header', headers: { 'x-user-group': 'beta' } },
      { name: 'other header', headers: { 'x-user-group': 'alpha' } },
      { name: 'beta cookie', headers: { cookie: 'checkout-beta=always' } },
      { name: 'cookie never', headers: { cookie: 'checkout-beta=never' } },
    ],
  },
} satisfies Record<string, TrafficScenario>;

/** Whether a step's matches select requests of `kind`, as ingress-nginx and the Gateway API match them. */
function selects(step: PlannedStep, kind: RequestKind): boolean {
  const headers = Object.fromEntries(Object.entries(kind.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const cookies = new Map(
    (headers.cookie ?? '').split(';').flatMap((c) => {
      const [name, value] = c.trim().split('=');
      return name ? [[name, value] as const] : [];
    }),
  );
  return (step.matches ?? []).some(
    (m) =>
      (m.headers ?? []).every((h) => {
        const value = headers[h.name.toLowerCase()];
        return (
          value !== undefined && (h.type === 'RegularExpression' ? new RegExp(h.value).test(value) : value === h.value)
        );
      }) &&
      (m.cookie === undefined || cookies.get(m.cookie) === 'always'),
  );
}

/** The share (%) of `kind` a step sends to the new version. */
const declaredShare = (step: PlannedStep, kind: RequestKind) => (selects(step, kind) ? 100 : step.traffic);

/** A stretch of the release during which what the proxy serves did not change. */
interface Window {
  readonly what: string;
  readonly from: number;
  readonly to: number;
  /** Per kind, the share (%) of the new version it should get. */
  readonly expected: ReadonlyMap<string, number>;
}

/**
 * Waits until SAMPLE answers of every kind came after the last change of what Traefik serves, with no change
 * since: the split is then the one a step (or the end) settled on.
 */
async function settled(load: Load, served: ServedConfiguration, kinds: readonly RequestKind[]) {
  for (;;) {
    const from = served.lastChange;
    for (const kind of kinds) await load.answered(SAMPLE, from, kind.name);
    if (served.lastChange === from) return { from, to: Date.now() };
  }
}

/** The share (%) of `kind` the new version `image` answered in window `w`, or undefined for no answers. */
const windowShare = (answers: readonly Answer[], w: Window, kind: string, image: string) =>
  shareOf(
    answers.filter((a) => a.kind === kind && a.sentAt >= w.from && a.sentAt <= w.to),
    image,
  );

/** Per window and kind, the measured share of the new version where it is off by more than the tolerance. */
function misses(answers: readonly Answer[], windows: readonly Window[], image: string): string[] {
  return windows.flatMap((w) =>
    [...w.expected].flatMap(([kind, expected]) => {
      const share = windowShare(answers, w, kind, image);
      if (share !== undefined && Math.abs(share - expected) <= TOLERANCE) return [];
      return [`${w.what}, ${kind}: ${share?.toFixed(1) ?? 'no answers'}% on the new version, declared ${expected}%`];
    }),
  );
}

/**
 * Which of `versions` got traffic of a kind again after losing it: missing from LOST_AFTER answers in a row once
 * they had had some. Returns what happened, per kind and version, with when.
 */
function returns(answers: readonly Answer[], kinds: readonly RequestKind[], versions: readonly string[]): string[] {
  const start = answers[0]?.sentAt ?? 0;
  return kinds.flatMap(({ name }) => {
    const seen = answers.filter((a) => a.kind === name && a.version);
    return versions.flatMap((version) => {
      let had = false;
      let missing = 0;
      let lostAt: number | undefined;
      for (const a of seen) {
        if (a.version !== version) {
          if (had && ++missing === LOST_AFTER) lostAt ??= a.sentAt;
          continue;
        }
        if (lostAt !== undefined)
          return [`${name}: ${version} got traffic at ${a.sentAt - start} ms, after losing it at ${lostAt - start} ms`];
        had = true;
        missing = 0;
      }
      return [];
    });
  });
}

export type Ending = 'end' | 'abort' | 'undo' | 'rollback' | 'analysis';

export interface Released {
  scenario: TrafficScenario;
  engine: Engine;
  ending: Ending;
  /** The version running before the release. */
  stable: string;
  answers: Answer[];
  windows: Window[];
  delays: number[];
  series: string;
  /** The Rollout as synthesized. */
  rollout: RolloutObject;
}

/**
 * A cluster's data plane with Stepwise's controller and Kruise's beside it: releases examples while requests flow.
 */
export class ReleaseLab {
  private constructor(
    private readonly cluster: Cluster,
    readonly client: KubeClient,
    readonly plane: DataPlane,
    readonly controller: StepwiseProcess,
    readonly kruise: KruiseController,
  ) {}

  /** Starts the data plane and both controllers beside `cluster`, whose pods are on the claimed pod `block`. */
  static async start(cluster: Cluster, client: KubeClient, block: number): Promise<ReleaseLab> {
    const plane = await DataPlane.start(cluster, client, block, [8080, 9000]);
    const running: { stop(): Promise<void> }[] = [];
    try {
      const [webhookPort] = (await freePorts(1)) as [number];
      const home = { kubeconfig: cluster.kubeconfig, namespace: HOME, webhookPort };
      await createNamespace(client, HOME);
      installWithWebhook(home);
      const controller = await startController(home);
      running.push(controller);
      return new ReleaseLab(cluster, client, plane, controller, await startKruise(cluster));
    } catch (e) {
      await Promise.all(running.map((r) => r.stop()));
      await plane.close();
      throw e;
    }
  }

  /**
   * Releases the scenario's next image under `engine` while requests flow, holding each pause until its split is
   * measured; `ending` other than `end` stops the release at step 2: `stepwise abort`, `stepwise undo`, or the
   * first version applied again (a GitOps rollback, Kruise's way); `analysis`: the release rolls itself back.
   */
  async release(example: TrafficScenario | keyof typeof SCENARIOS, engine: Engine, ending: Ending): Promise<Released> {
    const scenario: TrafficScenario = typeof example === 'string' ? SCENARIOS[example] : example;
    const { client, cluster, plane } = this;
    const namespace = `${scenario.slug}-${engine}-${ending}`;
    await createNamespace(client, namespace);
    // A host of its own: the apps of earlier releases still hold the example's.
    const host = `${namespace}.${scenario.host}`;
    const edit = (text: string) => withGrace(scenario.edit?.(text) ?? text).replaceAll(scenario.host, host);
    const objects = synthesize({ ...scenario, edit }, engine, namespace);
    const rollout = rolloutOf(objects);
    const first = templateImageOf(workloadOf(objects))!;
    const sources = scenario.files.map((file) => ({ file, text: edit(readFileSync(`${ROOT}${file}`, 'utf8')) }));
    const { steps } = planApp(loadApps(sources).apps[0]!.app);
    await kubectlApply(cluster.kubeconfig, objects);
    await deployed(client, objects);

    if (scenario.broken) plane.answer(scenario.image, scenario.broken);
    const target = { host, path: scenario.path, kinds: scenario.kinds };
    await plane.reaches(target);
    const writes = await RoutingWrites.start(client, namespace);
    const { load, served } = plane.load(target);
    const windows: Window[] = [];
    const hold = async (what: string, share: (kind: RequestKind) => number) => {
      const span = await settled(load, served, scenario.kinds);
      windows.push({ what, ...span, expected: new Map(scenario.kinds.map((k) => [k.name, share(k)])) });
    };
    let last: Position | undefined;
    const logs = () =>
      `the Rollout says: ${last?.rollout.status?.message}\nstepwise:\n${this.controller.log.slice(-3000)}\n` +
      `kruise:\n${kruiseLogTail(this.kruise)}`;
    try {
      await hold('before the release', () => 0);
      await kubectlApply(cluster.kubeconfig, withImage(objects, scenario.image));
      for (;;) {
        const p = await explained(
          eventually('a pause or the end', async () => {
            last = await positionOf(client, rollout);
            return (releaseEnded(last) || awaitsApproval(last)) && last;
          }),
          logs,
        );
        if (releaseEnded(p)) break;
        assert.notEqual(
          ending,
          'analysis',
          `the release under analysis waits for a person: ${p.rollout.status?.message}`,
        );
        const step = steps[p.step - 1]!;
        await hold(`step ${p.step}`, (kind) => declaredShare(step, kind));
        if (p.step === 2 && ending !== 'end') {
          await this.endAtStep2(ending, rollout.metadata.name, namespace, objects);
          break;
        }
        await approveUntilMoved(client, p);
      }
      const image = ending === 'end' ? scenario.image : first;
      await explained(this.settledOn(namespace, image, workloadOf(objects).spec.replicas ?? 1, rollout), logs);
      await hold(ending === 'end' ? 'released' : `after ${ending}`, () => (ending === 'end' ? 100 : 0));
    } finally {
      await load.stop();
      await served.stop();
      await writes.stop();
    }
    assert.equal(served.failure, undefined, String(served.failure));
    const series = writeSplitSeries(`${namespace}`, load.answers, [first, scenario.image]);
    const delays = writes.delays(served);
    return { scenario, engine, ending, stable: first, answers: load.answers, windows, delays, series, rollout };
  }

  /** Ends the release at step 2 the way `ending` says. */
  private async endAtStep2(ending: Ending, name: string, namespace: string, objects: KubeObject[]): Promise<void> {
    const { kubeconfig } = this.cluster;
    if (ending === 'rollback') return kubectlApply(kubeconfig, objects);
    const r = await runAsync('stepwise', [
      ending,
      name,
      '-n',
      namespace,
      '--kubeconfig',
      kubeconfig,
      '--lease-namespace',
      HOME,
    ]);
    assert.equal(r.status, 0, `stepwise ${ending}: ${r.stderr}`);
  }

  /** The release has ended (completed or cancelled) with every pod Ready on `image`. */
  private async settledOn(namespace: string, image: string, replicas: number, rollout: RolloutObject) {
    await eventually(
      `every pod of ${namespace} Ready on ${image}, the release ended`,
      async () => {
        const p = await positionOf(this.client, rollout);
        const pods = (await this.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace })).filter(
          (pod) => !pod.metadata.deletionTimestamp,
        );
        return (
          releaseEnded(p) && pods.length === replicas && pods.every((pod) => imageOf(pod) === image && isReady(pod))
        );
      },
      120_000,
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.controller.stop(), this.kruise.stop()]);
    await this.plane.close();
  }
}

/**
 * Checks a release's traffic: no failed request, each window's split as declared, and no version regaining
 * traffic it lost; Kruise's own finishing is reported instead (it unpins the stable Service before the workload
 * has rolled: an intended difference).
 */
function check(t: TestContext, r: Released): void {
  const { scenario } = r;
  const brokenAnswer = (a: Answer) => a.version === scenario.image && a.status === scenario.broken;
  const failures = failed(r.answers).filter((a) => !brokenAnswer(a));
  // A rollback gives the stable version its traffic back by design; the new version, once dropped, stays dropped.
  const back = returns(r.answers, scenario.kinds, r.ending === 'end' ? [r.stable, scenario.image] : [scenario.image]);
  const delays = [...r.delays].sort((a, b) => a - b);
  t.diagnostic(
    `${r.answers.length} requests, ${failures.length} failed; write to served ${delays.join(', ')} ms; split per ` +
      `250 ms in ${r.series}`,
  );
  for (const w of r.windows) {
    const shares = [...w.expected.keys()].map(
      (kind) => `${kind} ${windowShare(r.answers, w, kind, scenario.image)?.toFixed(1)}%`,
    );
    t.diagnostic(`${w.what}: ${shares.join(', ')} on the new version`);
  }
  assert.deepEqual(
    failures.slice(0, 5).map((a) => `${a.kind}: ${a.status} ${a.error ?? ''}`),
    [],
    `${failures.length} requests failed`,
  );
  assert.deepEqual(misses(r.answers, r.windows, scenario.image), []);
  if (r.engine === 'kruise' && r.ending === 'end') for (const line of back) t.diagnostic(`kruise: ${line}`);
  else assert.deepEqual(back, [], 'a version got traffic again after losing it');
}
