import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, FINALISING, planHash } from '../../src/reconciler/decide.js';
import {
  ANNOTATIONS,
  LABELS,
  templateHash,
  type Observed,
  type Pod,
  type Workload,
} from '../../src/reconciler/observed.js';
import {
  type AnalysisCheck,
  type FinalisingStep,
  type RolloutObject,
  type RolloutStep,
  type StepState,
  type SubStatus,
  storedSubStatus,
} from '../../src/reconciler/types.js';
import { ROLLOUT_NAME_LABEL } from '../../src/render/labels.js';
import type { Verdict } from '../../src/analysis/metrics.js';
import { ANALYSIS_HISTORY, checkDue } from '../../src/reconciler/analysis.js';

// Plain objects as the API server would return them: a blue-green echoserver, v1 stable, v2 surged.
const template = (image: string) => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image }] },
});
const V1 = template('web:1');
const V2 = template('web:2');
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function rollout(
  sub?: Partial<SubStatus>,
  extra: Partial<RolloutObject['spec']> = {},
  reason = 'InRolling',
): RolloutObject {
  const r: RolloutObject = {
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'default', uid: 'r-uid', generation: 1, resourceVersion: '10' },
    spec: {
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      strategy: {
        blueGreen: {
          steps: [
            { replicas: '100%', traffic: '0%' },
            { replicas: '100%', traffic: '10%' },
            { replicas: '100%', traffic: '100%', pause: { duration: 30 } },
          ],
          trafficRoutings: [{ service: 'web', gracePeriodSeconds: 3, ingress: { name: 'web' } }],
        },
      },
      ...extra,
    },
    ...(sub
      ? {
          status: {
            phase: 'Progressing',
            conditions: [
              {
                type: 'Progressing',
                status: 'True',
                reason,
                message: '',
                lastUpdateTime: T0.toISOString(),
                lastTransitionTime: T0.toISOString(),
              },
            ],
            ...storedSubStatus('blueGreen', {
              podTemplateHash: 'v2hash',
              canaryRevision: templateHash(V2),
              stableRevision: 'v1hash',
              canaryReplicas: 5,
              canaryReadyReplicas: 5,
              currentBatchReplicas: '100%',
              currentStepIndex: 1,
              currentStepState: 'BeforeStepUpgrade',
              finalisingStep: '',
              lastUpdateTime: T0.toISOString(),
              ...sub,
              // The natural next step, unless a test sets a jump.
              nextStepIndex:
                sub.nextStepIndex ?? ((sub.currentStepIndex ?? 1) >= 3 ? -1 : (sub.currentStepIndex ?? 1) + 1),
            }),
          },
        }
      : {}),
  };
  // The plan hash a release records when it starts (a different one means the steps were edited).
  const status = r.status?.blueGreenStatus;
  if (status && !('rolloutHash' in sub!)) status.rolloutHash = planHash(r.spec.strategy.blueGreen!);
  return r;
}

function deployment(t = V2, extra: Partial<Workload['spec']> = {}, annotations: Record<string, string> = {}): Workload {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'd-uid',
      generation: 2,
      labels: { [LABELS.stableRevision]: 'v1hash' },
      annotations: { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}', ...annotations },
    },
    spec: { replicas: 5, paused: true, selector: { matchLabels: { app: 'web' } }, template: t, ...extra },
    status: { observedGeneration: 2, replicas: 5, updatedReplicas: 0, availableReplicas: 5, readyReplicas: 5 },
  };
}

const rs = (hash: string, t: object, replicas: number): Workload => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: `web-${hash}`,
    namespace: 'default',
    labels: { app: 'web', 'pod-template-hash': hash },
    ownerReferences: [{ uid: 'd-uid' }],
  },
  spec: {
    replicas,
    template: {
      ...(t as object),
      metadata: { labels: { app: 'web', 'pod-template-hash': hash } },
    } as Workload['spec']['template'],
  },
});

/** The stable ReplicaSet of a blue-green release: its pods never count as available while it runs. */
const heldStable = (): Workload => {
  const set = rs('v1hash', V1, 5);
  return { ...set, spec: { ...set.spec, minReadySeconds: 2147483646 } };
};

const pods = (hash: string, count: number, ready = true, labels: Record<string, string> = {}): Pod[] =>
  Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-${hash}-${i}`,
      namespace: 'default',
      labels: { app: 'web', 'pod-template-hash': hash, ...labels },
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  }));

const service = (name: string, selector: Record<string, string>, owned = false) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default', ...(owned ? { ownerReferences: [{ uid: 'r-uid' }] } : {}) },
  spec: { selector, ports: [{ port: 80 }] },
});

const ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'web', namespace: 'default', annotations: {} },
  spec: { rules: [{ http: { paths: [{ path: '/', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
};
const canaryIngress = (weight: string) => ({
  ...ingress,
  metadata: {
    name: 'web-canary',
    namespace: 'default',
    ownerReferences: [{ uid: 'r-uid' }],
    annotations: { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': weight },
  },
});

const batch = { [LABELS.rolloutId]: templateHash(V2), [LABELS.batchId]: '1' };

function observed(o: Partial<Observed> & { rollout: RolloutObject }, now = T0): Observed {
  return {
    now,
    workload: deployment(
      V2,
      {
        paused: false,
        minReadySeconds: 2147483646,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 5, maxUnavailable: 0 } },
      },
      {
        [ANNOTATIONS.originalStrategy]:
          '{"maxSurge":"25%","maxUnavailable":"25%","minReadySeconds":0,"progressDeadlineSeconds":600}',
      },
    ),
    replicaSets: [heldStable(), rs('v2hash', V2, 5)],
    canaryReplicaSets: [],
    pods: [...pods('v1hash', 5), ...pods('v2hash', 5, true, batch)],
    stableService: service('web', { app: 'web', 'pod-template-hash': 'v1hash' }),
    canaryService: service('web-canary', { app: 'web', 'pod-template-hash': 'v2hash' }),
    ingress,
    ...o,
  };
}

const state = (d: ReturnType<typeof decide>) =>
  [d.status.blueGreenStatus?.currentStepIndex, d.status.blueGreenStatus?.currentStepState] as [number, StepState];

test('a workload marked in-progressing starts a release at step 1 and pins the stable Service first', () => {
  const d = decide({
    now: T0,
    rollout: { ...rollout(), status: { phase: 'Healthy' } },
    workload: deployment(),
    replicaSets: [rs('v1hash', V1, 5)],
    canaryReplicaSets: [],
    pods: pods('v1hash', 5),
    stableService: service('web', { app: 'web' }),
    ingress,
  });
  assert.equal(d.status.phase, 'Progressing');
  assert.deepEqual(state(d), [1, 'BeforeStepUpgrade']);
  assert.equal(d.status.blueGreenStatus?.stableRevision, 'v1hash');
  assert.equal(d.status.blueGreenStatus?.updatedRevision, templateHash(V2));
  assert.deepEqual(
    d.actions.map((a) => a.kind === 'merge' && a.patch),
    [{ spec: { selector: { 'pod-template-hash': 'v1hash' } } }],
  );
});

/** A workload outside any release, labelled with its Rollout's name as synth renders it. */
const healthyDeployment = (t = V1): Workload => ({
  ...deployment(t),
  metadata: { name: 'web', namespace: 'default', generation: 2, labels: { [ROLLOUT_NAME_LABEL]: 'web' } },
});

test('a healthy workload gets the synthesized Completed sub-status OpenKruise clients poll', () => {
  const d = decide({
    now: T0,
    rollout: rollout(),
    workload: healthyDeployment(),
    replicaSets: [rs('v1hash', V1, 5)],
    canaryReplicaSets: [],
    pods: pods('v1hash', 5),
  });
  assert.equal(d.status.phase, 'Healthy');
  assert.deepEqual(
    [
      d.status.blueGreenStatus?.currentStepState,
      d.status.blueGreenStatus?.currentStepIndex,
      d.status.blueGreenStatus?.nextStepIndex,
    ],
    ['Completed', 3, -1],
  );
  assert.equal(d.status.stableTemplateHash, templateHash(V1), 'the template it runs is the released one');
  assert.deepEqual(d.actions, []);
});

test('a governed workload without the rollout-name label gets it, so the admission webhook sees its writes', () => {
  const unlabelled = { ...healthyDeployment(), metadata: { name: 'web', namespace: 'default' } };
  const d = decide({
    now: T0,
    rollout: rollout(),
    workload: unlabelled,
    replicaSets: [rs('v1hash', V1, 5)],
    canaryReplicaSets: [],
    pods: pods('v1hash', 5),
  });
  assert.deepEqual(
    d.actions.map((a) => a.kind === 'merge' && a.patch),
    [{ metadata: { labels: { [ROLLOUT_NAME_LABEL]: 'web' } } }],
  );
});

test(
  'a template that changed without admission is taken under control and released from the step its updated pods ' +
    'reach',
  () => {
    const healthy = { ...rollout(), status: { phase: 'Healthy' as const, stableTemplateHash: templateHash(V1) } };
    // The Deployment's own rolling update had made 2 new pods before the reconciler saw it.
    const rolled = {
      ...healthyDeployment(V2),
      status: { observedGeneration: 2, replicas: 7, updatedReplicas: 2, readyReplicas: 7, availableReplicas: 7 },
    };
    const base = {
      now: T0,
      rollout: healthy,
      workload: rolled,
      replicaSets: [rs('v1hash', V1, 5), rs('v2hash', V2, 2)],
      canaryReplicaSets: [],
      pods: [...pods('v1hash', 5), ...pods('v2hash', 2)],
    };
    const d = decide(base);
    assert.equal(d.status.phase, 'Progressing', 'never Healthy while an unreleased version runs');
    assert.deepEqual(
      d.actions.map((a) => a.kind === 'merge' && a.patch),
      [
        {
          metadata: {
            annotations: { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}' },
            labels: { [LABELS.stableRevision]: 'v1hash' },
          },
          spec: { paused: true },
        },
      ],
    );
    assert.deepEqual(state(d), [1, 'BeforeStepUpgrade'], 'blue-green step 1 (100% of pods) covers the 2 updated');
    assert.equal(d.status.blueGreenStatus?.stableRevision, 'v1hash');
    assert.deepEqual(d.status.conditions?.find((c) => c.type === 'Admitted')?.reason, 'AdmissionBypassed');
    assert.equal(d.events.find((e) => e.type === 'Warning')?.reason, 'AdmissionBypassed');
    // A canary whose steps update 1, 3 and 5 pods resumes at step 2 with 2 pods updated; a StatefulSet's
    // partition keeps the rest.
    const canary = {
      ...healthy,
      spec: { ...healthy.spec, strategy: { canary: { steps: [{ replicas: 1 }, { replicas: 3 }, { replicas: 5 }] } } },
    };
    const sts = {
      ...rolled,
      kind: 'StatefulSet',
      status: { observedGeneration: 2, updatedReplicas: 2, currentRevision: 'v1rev', updateRevision: 'v2rev' },
    };
    const partitioned = decide({
      ...base,
      rollout: {
        ...canary,
        spec: { ...canary.spec, workloadRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web' } },
      },
      workload: sts,
      replicaSets: [],
    });
    assert.deepEqual(
      partitioned.actions.map((a) => a.kind === 'merge' && a.patch.spec),
      [{ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 3 } } }],
    );
    assert.equal(partitioned.status.canaryStatus?.currentStepIndex, 2);
    // Before the Deployment controller has seen the new template, its status still counts the old pods: 0 updated.
    const unseen = decide({ ...base, workload: { ...rolled, metadata: { ...rolled.metadata, generation: 3 } } });
    assert.deepEqual(state(unseen), [1, 'BeforeStepUpgrade']);
  },
);

test('the stable Service is never pinned to a revision with no Ready pod (one that rolled before control)', () => {
  const d = decide(
    observed({
      rollout: rollout({ currentStepIndex: 1 }),
      pods: pods('v2hash', 5, true, batch),
      stableService: service('web', { app: 'web' }),
    }),
  );
  assert.ok(
    d.actions.every((a) => !(a.kind === 'merge' && a.ref.kind === 'Service')),
    JSON.stringify(d.actions),
  );
});

test("a step's routing undone from outside (a re-applied Service) is put back, with a Warning", () => {
  const paused = {
    rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' }),
    canaryIngress: canaryIngress('10'),
  };
  assert.deepEqual(decide(observed(paused)).actions, [], 'nothing to restore');
  const unpinned = decide(
    observed({
      ...paused,
      stableService: service('web', { app: 'web' }),
      canaryService: service('web-canary', { app: 'web' }),
    }),
  );
  assert.deepEqual(
    unpinned.actions.map((a) => a.kind === 'merge' && [a.ref.name, a.patch]),
    [
      ['web', { spec: { selector: { 'pod-template-hash': 'v1hash' } } }],
      ['web-canary', { spec: { selector: { 'pod-template-hash': 'v2hash' } } }],
    ],
  );
  assert.equal(unpinned.events[0]?.reason, 'TrafficRestored');
  assert.deepEqual(state(unpinned), [2, 'StepPaused'], 'still waiting for approval');
  const reweighted = decide(observed({ ...paused, canaryIngress: canaryIngress('0') }));
  assert.deepEqual(
    reweighted.actions.map((a) => a.kind === 'merge' && a.patch),
    [{ metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '10' } } }],
  );
});

test(
  'a third version without admission during a blue-green release is held paused until the release is finished or ' +
    'undone',
  () => {
    const surging = observed({
      rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' }),
      canaryIngress: canaryIngress('10'),
    });
    const d = decide({
      ...surging,
      workload: { ...surging.workload!, spec: { ...surging.workload!.spec, template: template('web:3') } },
    });
    assert.deepEqual(
      d.actions.map((a) => a.kind === 'merge' && a.patch),
      [{ spec: { paused: true } }],
    );
    assert.equal(d.events[0]?.reason, 'AdmissionBypassed');
    assert.deepEqual(state(d), [2, 'StepPaused']);
  },
);

test(
  'no weight reaches a version without Ready pods: while none is Ready the step waits, and existing traffic is ' +
    'pulled back',
  () => {
    const unready = observed({
      rollout: rollout({
        currentStepIndex: 2,
        currentStepState: 'StepTrafficRouting',
        lastUpdateTime: at(-60).toISOString(),
      }),
      pods: [...pods('v1hash', 5), ...pods('v2hash', 5, false, batch)],
    });
    const d = decide(unready);
    assert.deepEqual(d.actions, []);
    assert.match(d.status.blueGreenStatus!.message!, /wait for a Ready pod of the new version/);
    const routed = decide({ ...unready, canaryIngress: canaryIngress('10') });
    assert.deepEqual(
      routed.actions.map((a) => a.kind),
      ['delete'],
    );
    assert.equal(routed.events[0]?.reason, 'NoReadyPods');
  },
);

test('traffic routing waits out the grace period after every change, then moves on', () => {
  const base = {
    rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepTrafficRouting', lastUpdateTime: T0.toISOString() }),
  };
  assert.deepEqual(decide(observed(base, at(1))).actions, [], 'within 3 s of the last change nothing moves');
  assert.equal(decide(observed(base, at(1))).requeueAfterMs, 2000);
  const create = decide(observed(base, at(4)));
  assert.deepEqual(
    create.actions.map((a) => a.kind === 'apply' && a.object.metadata.annotations),
    [{ 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '10' }],
  );
  assert.equal(create.status.blueGreenStatus?.lastUpdateTime, at(4).toISOString());
  const routed = {
    rollout: rollout({
      currentStepIndex: 2,
      currentStepState: 'StepTrafficRouting',
      lastUpdateTime: at(4).toISOString(),
    }),
    canaryIngress: canaryIngress('10'),
  };
  assert.deepEqual(state(decide(observed(routed, at(5)))), [2, 'StepTrafficRouting']);
  assert.deepEqual(state(decide(observed(routed, at(8)))), [2, 'StepPaused'], 'verified after the grace period');
});

test('a timed pause continues after its duration; a manual one only on approval', () => {
  const timed = (now: Date) =>
    decide(
      observed(
        {
          rollout: rollout({
            currentStepIndex: 3,
            nextStepIndex: -1,
            currentStepState: 'StepPaused',
            lastUpdateTime: T0.toISOString(),
          }),
          canaryIngress: canaryIngress('100'),
        },
        now,
      ),
    );
  assert.deepEqual(state(timed(at(10))), [3, 'StepPaused']);
  assert.equal(timed(at(10)).requeueAfterMs, 20000);
  assert.equal(timed(at(31)).status.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Finalising');
  const manual = decide(
    observed(
      { rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' }), canaryIngress: canaryIngress('10') },
      at(3600),
    ),
  );
  assert.deepEqual(state(manual), [2, 'StepPaused']);
  assert.equal(manual.requeueAfterMs, undefined, 'nothing to wait for but a person');
  const approved = decide(
    observed(
      { rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepReady' }), canaryIngress: canaryIngress('10') },
      at(3600),
    ),
  );
  assert.deepEqual(state(approved), [3, 'StepTrafficRouting']);
});

test('deciding again on the same observation gives the same actions: a crash repeats nothing harmful', () => {
  for (const s of ['BeforeStepUpgrade', 'StepUpgrade', 'StepTrafficRouting'] as const) {
    const o = observed({
      rollout: rollout({ currentStepIndex: 2, currentStepState: s, lastUpdateTime: at(-10).toISOString() }),
    });
    assert.deepEqual(decide(o).actions, decide(structuredClone(o)).actions, s);
  }
});

test("success finalising follows OpenKruise's blue-green order, one stage per change", () => {
  const stages: string[] = [];
  let o = observed({
    rollout: rollout({ currentStepIndex: 3, currentStepState: 'Completed' }, {}, 'InRolling'),
    canaryIngress: canaryIngress('100'),
  });
  for (let i = 0; i < 10; i++) {
    const d = decide(o);
    stages.push(d.status.blueGreenStatus!.finalisingStep);
    if (d.status.phase === 'Healthy') break;
    // Pretend every action took effect and the grace period passed.
    o = { ...o, now: at((i + 1) * 10), rollout: { ...o.rollout, status: d.status } };
    for (const a of d.actions) {
      if (a.kind === 'delete' && a.ref.kind === 'Ingress') delete o.canaryIngress;
      if (a.kind === 'merge' && a.ref.kind === 'Service' && a.ref.name === 'web')
        o.stableService = service('web', { app: 'web' });
      if (a.kind === 'merge' && a.ref.kind === 'Service' && a.ref.name === 'web-canary')
        o.canaryService = service('web-canary', { app: 'web' });
      if (a.kind === 'merge' && a.ref.kind === 'Deployment' && a.patch.spec)
        o.workload = {
          ...deployment(V2, { paused: false }, {}),
          metadata: { ...deployment().metadata, annotations: {} },
          status: { observedGeneration: 2, replicas: 5, updatedReplicas: 5, availableReplicas: 5 },
        };
      if (a.kind === 'merge' && a.patch.metadata && (a.patch.metadata as any).labels)
        o.workload = { ...o.workload!, metadata: { ...o.workload!.metadata, labels: {} } };
    }
  }
  assert.deepEqual([...new Set(stages)], FINALISING.blueGreen.success);
});

test('replayed after a crash, finalising never sends traffic back to a route already restored to stable', () => {
  // A crash after the canary Ingress was deleted (RouteTrafficToStable) but before the status recorded it.
  const replay = observed(
    {
      rollout: rollout(
        { currentStepIndex: 3, currentStepState: 'Completed', finalisingStep: 'FinalisingStepRouteTrafficToNew' },
        {},
        'Finalising',
      ),
    },
    at(60),
  );
  const d = decide(replay);
  assert.equal(
    d.actions.find((a) => a.kind === 'apply' && a.object.kind === 'Ingress'),
    undefined,
    'no canary Ingress is created again',
  );
  // With the canary Ingress still there, the stage does its work: all traffic to the new version.
  const first = decide(
    observed(
      {
        rollout: rollout(
          { currentStepIndex: 3, currentStepState: 'Completed', finalisingStep: 'FinalisingStepRouteTrafficToNew' },
          {},
          'Finalising',
        ),
        canaryIngress: canaryIngress('10'),
      },
      at(60),
    ),
  );
  assert.deepEqual(
    first.actions.map((a) => a.kind === 'merge' && a.patch),
    [{ metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '100' } } }],
  );
});

test(
  "a blue-green step surges the Deployment by the step's replicas as written, and first keeps the stable " +
    "ReplicaSet's pods from counting as available (as OpenKruise does)",
  () => {
    const paused = deployment(V2, { paused: true });
    const d = decide({
      now: T0,
      rollout: rollout({ currentStepIndex: 1, currentStepState: 'StepUpgrade' }),
      workload: paused,
      replicaSets: [rs('v1hash', V1, 5)],
      canaryReplicaSets: [],
      pods: pods('v1hash', 5),
      stableService: service('web', { app: 'web', 'pod-template-hash': 'v1hash' }),
      ingress,
    });
    assert.deepEqual(
      d.actions.map((a) => [a.kind === 'merge' && a.ref.kind, a.kind === 'merge' && a.patch.spec]),
      [
        ['ReplicaSet', { minReadySeconds: 2147483646 }],
        [
          'Deployment',
          {
            paused: false,
            minReadySeconds: 2147483646,
            progressDeadlineSeconds: 2147483647,
            strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } },
          },
        ],
      ],
    );
    // Surged and held already: nothing to write.
    const surged = observed({ rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepUpgrade' }) });
    assert.deepEqual(decide(surged).actions, []);
  },
);

test('rollback: the template back at stable, an abort request, or new pods not Ready by the deadline', () => {
  const undone = decide(
    observed({
      rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' }),
      workload: deployment(V1),
      canaryIngress: canaryIngress('10'),
    }),
  );
  assert.equal(undone.status.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Cancelling');
  assert.deepEqual(
    undone.actions.map((a) => a.kind),
    ['delete'],
    'traffic to stable first',
  );
  // A deployer's write unpinned the stable Service too: it is pinned again while the new pods are there.
  const unpinned = decide(
    observed({
      rollout: rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' }),
      workload: deployment(V1),
      canaryIngress: canaryIngress('10'),
      stableService: service('web', { app: 'web' }),
    }),
  );
  assert.deepEqual(
    unpinned.actions.map((a) => [a.kind, a.kind !== 'apply' && a.ref.kind, a.kind === 'merge' && a.patch]),
    [
      ['delete', 'Ingress', false],
      ['merge', 'Service', { spec: { selector: { 'pod-template-hash': 'v1hash' } } }],
    ],
  );
  const abort = rollout({ currentStepIndex: 2, currentStepState: 'StepPaused' });
  abort.metadata.annotations = { [ANNOTATIONS.abort]: T0.toISOString() };
  const aborted = decide(observed({ rollout: abort, canaryIngress: canaryIngress('10') }));
  assert.equal(aborted.status.conditions?.find((c) => c.type === 'Progressing')?.message, 'aborted by request');
  assert.deepEqual(
    aborted.events.find((e) => e.reason === 'RollingBack'),
    { type: 'Warning', reason: 'RollingBack', message: 'aborted by request' },
  );
  const stuck = {
    rollout: rollout({ currentStepIndex: 1, currentStepState: 'StepUpgrade', lastUpdateTime: T0.toISOString() }),
    pods: [...pods('v1hash', 5), ...pods('v2hash', 5, false, batch)],
  };
  assert.deepEqual(state(decide(observed(stuck, at(599)))), [1, 'StepUpgrade']);
  assert.match(
    decide(observed(stuck, at(601))).status.conditions!.find((c) => c.type === 'Progressing')!.message,
    /not Ready within progressDeadlineSeconds \(600 s\): 0\/5 Ready/,
  );
});

test('a routing step waits, with a Warning, while its Ingress is missing, and routes once it is back', () => {
  const earlier = new Date(T0.getTime() - 10_000).toISOString();
  const routing = rollout({ currentStepIndex: 2, currentStepState: 'StepTrafficRouting', lastUpdateTime: earlier });
  const missing = decide(observed({ rollout: routing, ingress: undefined }));
  assert.deepEqual(state(missing), [2, 'StepTrafficRouting'], 'the step does not go on as if it had routed');
  assert.deepEqual(missing.actions, []);
  const why =
    'Rollout is in step(2/3), and Ingress default/web not found: the step cannot route traffic until it is back';
  assert.equal(missing.status.message, why);
  assert.deepEqual(missing.events, [{ type: 'Warning', reason: 'RouteObjectMissing', message: why }]);
  // Said once: the next pass that finds it still missing sends no second event.
  const again = decide(observed({ rollout: { ...routing, status: missing.status }, ingress: undefined }));
  assert.deepEqual([state(again), again.events], [[2, 'StepTrafficRouting'], []]);
  // A pause that was reached holds too: its traffic is not there.
  const paused = rollout({ currentStepIndex: 2, currentStepState: 'StepPaused', lastUpdateTime: earlier });
  const held = decide(observed({ rollout: paused, ingress: undefined, canaryIngress: canaryIngress('10') }));
  assert.deepEqual(state(held), [2, 'StepPaused']);
  assert.match(held.status.message ?? '', /Ingress default\/web not found/);
  const back = decide(observed({ rollout: { ...routing, status: missing.status } }));
  assert.deepEqual(
    back.actions.map((a) => [a.kind, a.kind === 'apply' && a.object.metadata.name]),
    [['apply', 'web-canary']],
    'the canary Ingress is created once the Ingress is back',
  );
});

test('a release cancelled at step 2 ends keeping that step in its status, as OpenKruise does', () => {
  const cancelled = (finalisingStep: FinalisingStep) =>
    rollout(
      { currentStepIndex: 2, nextStepIndex: 3, currentStepState: 'StepPaused', finalisingStep },
      {},
      'Cancelling',
    );
  const d = decide(observed({ rollout: cancelled('END'), workload: deployment(V1) }));
  const sub = d.status.blueGreenStatus!;
  assert.deepEqual(
    [d.status.phase, sub.currentStepIndex, sub.currentStepState, sub.nextStepIndex, d.status.currentStepState],
    ['Healthy', 2, 'StepPaused', 3, 'StepPaused'],
  );
  assert.equal(d.status.message, 'Rollout progressing has been cancelled');
  const succeeded = decide(
    observed({ rollout: rollout({ currentStepIndex: 3, finalisingStep: 'END' }, {}, 'Finalising') }),
  );
  assert.deepEqual(
    [succeeded.status.blueGreenStatus?.currentStepState, succeeded.status.blueGreenStatus?.nextStepIndex],
    ['Completed', -1],
    'a release that succeeded is Completed',
  );
});

test('editing the steps mid-release recalculates the current step (OpenKruise recalculateCanaryStep)', () => {
  const r = rollout({
    currentStepIndex: 1,
    nextStepIndex: 2,
    currentStepState: 'StepPaused',
    canaryReplicas: 5,
    currentBatchReplicas: '100%',
    rolloutHash: 'stale',
  });
  r.spec.strategy.blueGreen!.steps = [
    { replicas: '40%', traffic: '0%' },
    { replicas: '100%', traffic: '50%' },
  ];
  const d = decide(observed({ rollout: r }));
  assert.deepEqual(state(d), [2, 'StepTrafficRouting'], "the 5 deployed pods are step 2's: go there and route");
});

test(
  'after a jump back from step 4 to 3, an edit of the weights keeps the release on step 3: the plan is ' +
    "recalculated from the pods the current step planned, not those running (OpenKruise's e2e Step Jump)",
  () => {
    const plan = (extra: number): RolloutStep[] =>
      [20, 40, 60, 80, 100].map((p) => ({
        replicas: `${p}%` as const,
        traffic: `${Math.min(100, p + extra)}%` as const,
      }));
    // Paused at step 4 (4 new pods), the user patches nextStepIndex back to 3.
    const atStep4 = rollout({
      currentStepIndex: 4,
      nextStepIndex: 3,
      currentStepState: 'StepPaused',
      canaryReplicas: 4,
      canaryReadyReplicas: 4,
      currentBatchReplicas: '80%',
      rolloutHash: planHash({ steps: plan(0) }),
    });
    atStep4.spec.strategy.blueGreen!.steps = plan(0);
    const four = { pods: [...pods('v1hash', 5), ...pods('v2hash', 4, true, batch)] };
    const jumped = decide(observed({ ...four, rollout: atStep4 }));
    assert.deepEqual(state(jumped), [3, 'StepTrafficRouting'], 'back on step 3; its pods are there (none go)');
    assert.equal(jumped.status.blueGreenStatus?.currentBatchReplicas, '60%');
    // Then the weights change (21%, 41%, ...): the plan hash differs, the step stays 3.
    const edited = { ...atStep4, status: jumped.status };
    edited.spec = { ...edited.spec, strategy: { blueGreen: { ...edited.spec.strategy.blueGreen!, steps: plan(1) } } };
    const d = decide(observed({ ...four, rollout: edited }, at(10)));
    assert.deepEqual(
      [d.status.blueGreenStatus?.currentStepIndex, d.status.blueGreenStatus?.nextStepIndex],
      [3, 4],
      'Kruise stays on step 3; recalculating from the 4 running pods would land on step 4',
    );
  },
);

test('a paused spec holds the release where it is', () => {
  const d = decide(
    observed({
      rollout: rollout(
        { currentStepIndex: 2, currentStepState: 'StepTrafficRouting', lastUpdateTime: at(-60).toISOString() },
        { strategy: { ...rollout().spec.strategy, paused: true } },
      ),
    }),
  );
  assert.deepEqual(d.actions, []);
  assert.equal(d.status.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Paused');
});

test('an invalid Rollout is reported, not acted on', () => {
  const r = rollout({ currentStepIndex: 1, currentStepState: 'StepUpgrade' });
  r.spec.strategy.blueGreen!.steps = [{ replicas: '150%' }];
  const d = decide(observed({ rollout: r }));
  assert.deepEqual(d.actions, []);
  assert.match(
    d.status.message!,
    /^invalid spec: strategy\.blueGreen\.steps\.0\.replicas: replicas percentage must be in \(0%, 100%\], got 150%/,
  );
});

test(
  'a hand-written builtin canary on a Deployment is judged in the style the reconciler runs it: a canary ' +
    'Deployment, no partition limit',
  () => {
    // Without enableExtraWorkloadForCanary OpenKruise would update the Deployment in place (partition style,
    // at most 50% of pods with traffic); the builtin reconciler always brings a canary Deployment up beside it.
    const canary = rollout(undefined, {
      strategy: {
        canary: {
          steps: [{ replicas: '60%', traffic: '60%' }, { replicas: '100%' }],
          trafficRoutings: [{ service: 'web', ingress: { name: 'web' } }],
        },
      },
    });
    const d = decide({
      now: T0,
      rollout: canary,
      workload: healthyDeployment(),
      replicaSets: [rs('v1hash', V1, 5)],
      canaryReplicaSets: [],
      pods: pods('v1hash', 5),
    });
    assert.equal(d.status.phase, 'Healthy', d.status.message);
    assert.ok(!d.events.some((e) => e.reason === 'InvalidSpec'));
  },
);

describeAnalysis();

/** Metric analysis at step 2 (10% of the traffic on the new version), its checks given as the pass takes them. */
function describeAnalysis(): void {
  const metric = { name: 'success', template: 'request-success-rate' as const, thresholdRange: { min: 99 } };
  const analysis = { metrics: [metric], intervalSeconds: 60, failureLimit: 0, inconclusiveLimit: 0 };
  const analyzing = (status: Partial<RolloutObject['status']> = {}, spec = analysis) => {
    const r = rollout({ currentStepIndex: 2, currentStepState: 'StepMetricsAnalysis' }, { analysis: spec });
    return { rollout: { ...r, status: { ...r.status, ...status } }, canaryIngress: canaryIngress('10') };
  };
  const check = (verdict: Verdict, value?: number): AnalysisCheck => ({
    time: at(60).toISOString(),
    step: 2,
    verdict,
    metrics: [
      { metric: 'success', ...(value !== undefined ? { value } : {}), verdict, message: `success: ${verdict}` },
    ],
  });

  test('analysis: the first check is due one interval after the traffic is in place, not before', () => {
    const early = observed(analyzing(), at(30));
    assert.equal(checkDue(early), false);
    const d = decide(early);
    assert.deepEqual([state(d), d.actions, d.requeueAfterMs], [[2, 'StepMetricsAnalysis'], [], 30_000]);
    assert.equal(checkDue(observed(analyzing(), at(60))), true);
  });

  test('analysis: a passed check goes on to the pause, recorded in status and as an Event', () => {
    const d = decide(observed({ ...analyzing(), analysisCheck: check('Passed', 99.9) }, at(60)));
    assert.deepEqual(state(d), [2, 'StepPaused']);
    assert.deepEqual(
      [d.status.analysis?.passed, d.status.analysis?.failed, d.status.analysis?.checks.length],
      [1, 0, 1],
    );
    assert.deepEqual(
      d.events.filter((e) => e.reason.startsWith('Analysis')).map((e) => [e.type, e.reason]),
      [['Normal', 'AnalysisPassed']],
    );
  });

  test('analysis: a failure past the limit rolls the release back at once, saying which metric and why', () => {
    const failed = decide(observed({ ...analyzing(), analysisCheck: check('Failed', 42) }, at(60)));
    assert.match(
      failed.status.analysis?.failure ?? '',
      /^success: Failed \(1 failed check at step 2, failureLimit 0\)/,
    );
    assert.equal(failed.requeueAfterMs, 0);
    assert.deepEqual(
      failed.events.map((e) => e.reason),
      ['AnalysisFailed'],
    );
    const next = decide(observed(analyzing(failed.status), at(60)));
    const progressing = next.status.conditions?.find((c) => c.type === 'Progressing');
    assert.deepEqual(
      [progressing?.reason, progressing?.message],
      ['Cancelling', `analysis failed: ${failed.status.analysis?.failure}`],
    );
    assert.deepEqual(
      next.actions.map((a) => a.why),
      ['delete Ingress web-canary: all traffic to the stable version'],
      'traffic goes back to the stable version first',
    );
  });

  test('analysis: a failure within the limit measures again; one past it rolls back', () => {
    const tolerant = { ...analysis, failureLimit: 1 };
    const once = decide(observed({ ...analyzing({}, tolerant), analysisCheck: check('Failed', 42) }, at(60)));
    assert.deepEqual(
      [state(once), once.requeueAfterMs, once.status.analysis?.failure],
      [[2, 'StepMetricsAnalysis'], 60_000, undefined],
    );
    assert.equal(checkDue(observed(analyzing(once.status, tolerant), at(119))), false);
    assert.equal(checkDue(observed(analyzing(once.status, tolerant), at(120))), true);
    const twice = decide(
      observed(
        { ...analyzing(once.status, tolerant), analysisCheck: { ...check('Failed', 40), time: at(120).toISOString() } },
        at(120),
      ),
    );
    assert.ok(twice.status.analysis?.failure);
  });

  test('analysis: inconclusive past its limit waits for a person, and measures no more', () => {
    const d = decide(observed({ ...analyzing(), analysisCheck: check('Inconclusive') }, at(60)));
    assert.deepEqual(state(d), [2, 'StepMetricsAnalysis']);
    assert.match(
      d.status.blueGreenStatus?.message ?? '',
      /analysis inconclusive: .*stepwise promote goes on, stepwise abort rolls back/,
    );
    assert.equal(d.requeueAfterMs, undefined);
    assert.equal(checkDue(observed(analyzing(d.status), at(600))), false);
    const later = decide(observed(analyzing(d.status), at(600)));
    assert.deepEqual(
      [state(later), later.actions, later.status.conditions?.find((c) => c.type === 'Progressing')?.reason],
      [[2, 'StepMetricsAnalysis'], [], 'InRolling'],
    );
  });

  test('analysis: a step not analyzed (everyStep false, or analyze: false) passes straight to its pause', () => {
    const some = { ...analysis, everyStep: false };
    assert.deepEqual(state(decide(observed(analyzing({}, some), at(1)))), [2, 'StepPaused']);
    const r = analyzing();
    const body = r.rollout.spec.strategy.blueGreen!;
    const skipping = { ...body, steps: body.steps.map((s, i) => (i === 1 ? { ...s, analyze: false } : s)) };
    const status = {
      ...r.rollout.status,
      blueGreenStatus: { ...r.rollout.status!.blueGreenStatus!, rolloutHash: planHash(skipping) },
    };
    const skipped = {
      ...r,
      rollout: { ...r.rollout, spec: { ...r.rollout.spec, strategy: { blueGreen: skipping } }, status },
    };
    assert.deepEqual(state(decide(observed(skipped, at(1)))), [2, 'StepPaused']);
  });

  test('analysis: a new step starts a fresh tally; the history keeps the last checks only', () => {
    let status: RolloutObject['status'] = {};
    for (let i = 0; i < 25; i++) {
      const tolerant = { ...analysis, checks: 100, inconclusiveLimit: 100 };
      const d = decide(observed({ ...analyzing(status, tolerant), analysisCheck: check('Passed', 100) }, at(60)));
      status = d.status;
    }
    assert.deepEqual([status.analysis?.passed, status.analysis?.checks.length], [25, ANALYSIS_HISTORY]);
    const r = rollout({ currentStepIndex: 3, currentStepState: 'StepMetricsAnalysis' }, { analysis });
    const step3 = decide(
      observed(
        {
          rollout: { ...r, status: { ...r.status, analysis: status.analysis } },
          canaryIngress: canaryIngress('100'),
          analysisCheck: { ...check('Passed', 100), step: 3 },
        },
        at(60),
      ),
    );
    assert.deepEqual([step3.status.analysis?.step, step3.status.analysis?.passed], [3, 1]);
  });
}
