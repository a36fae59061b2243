import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admit, AdmissionError, type Governance } from '../../src/apply/admit.js';
import { ANNOTATIONS, LABELS, templateHash, type Workload } from '../../src/reconciler/observed.js';
import { desiredRouteRules } from '../../src/traffic/gateway.js';
import type { KubeObject } from '../../src/k8s/objects.js';

const governance: Governance = {
  rollout: { name: 'web', namespace: 'shop' },
  workload: { kind: 'Deployment', name: 'web' },
  stableService: 'web',
  httpRoute: 'web',
};

/** A Deployment as the API server stores it: with its defaulted strategy and progress deadline. */
function deployment(
  image: string,
  extra: {
    spec?: Partial<Workload['spec']>;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  } = {},
): Workload {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      annotations: { ...extra.annotations },
      labels: { app: 'web', ...extra.labels },
    },
    spec: {
      replicas: 5,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
      progressDeadlineSeconds: 600,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      ...extra.spec,
    },
  };
}
/** What `stepwise synth` renders: no defaulted fields. */
function desired(image: string): Workload {
  const d = deployment(image);
  delete d.spec.progressDeadlineSeconds;
  delete d.spec.strategy;
  return d;
}
const stable = { revision: 'v1hash', templateHash: templateHash(deployment('app:1').spec.template) };
const admitImage = (image: string, live: Workload | undefined) =>
  admit({ desired: desired(image), defaulted: deployment(image), ...(live ? { live } : {}) }, governance, stable);
const inProgress = { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}' };

test('the first write, an unchanged template, or an object no Rollout governs, passes as it was sent', () => {
  for (const live of [undefined, deployment('app:1')]) {
    const want = desired('app:1');
    const a = admit({ desired: want, defaulted: deployment('app:1'), ...(live ? { live } : {}) }, governance);
    assert.deepEqual([a.release, a.rollback], [false, false]);
    // The very object: `stepwise apply` then compares it with its first dry run instead of dry-running it again.
    assert.equal(a.object, want);
  }
  const want = desired('app:2');
  assert.equal(
    admit({ desired: want, defaulted: deployment('app:2'), live: deployment('app:1') }, undefined).object,
    want,
  );
  const other = { ...desired('app:2'), metadata: { ...desired('app:2').metadata, name: 'other' } };
  assert.equal(admit({ desired: other, defaulted: other, live: deployment('app:1') }, governance).object, other);
});

test('a new template starts a release in the same write: paused, in-progressing, stable revision labelled', () => {
  const a = admitImage('app:2', deployment('app:1'));
  assert.deepEqual([a.release, a.rollback], [true, false]);
  assert.equal((a.object as Workload).spec.paused, true);
  assert.deepEqual(JSON.parse(a.object.metadata.annotations![ANNOTATIONS.inProgressing]!), { rolloutName: 'web' });
  assert.equal(a.object.metadata.labels![LABELS.stableRevision], 'v1hash');
  assert.deepEqual((a.object as Workload).spec.template, desired('app:2').spec.template);
});

test('a StatefulSet release holds every pod with its partition instead of pausing', () => {
  const live = { ...deployment('app:1'), kind: 'StatefulSet' };
  const want = { ...desired('app:2'), kind: 'StatefulSet' };
  const a = admit(
    { desired: want, defaulted: { ...deployment('app:2'), kind: 'StatefulSet' }, live },
    { ...governance, workload: { kind: 'StatefulSet', name: 'web' } },
  );
  assert.equal(a.release, true);
  assert.deepEqual((a.object as Workload).spec.updateStrategy, {
    type: 'RollingUpdate',
    rollingUpdate: { partition: 5 },
  });
  assert.equal((a.object as Workload).spec.paused, undefined);
});

test('a new rollout-id label starts a release even with the same template', () => {
  const want = desired('app:1');
  want.metadata.labels![LABELS.rolloutId] = 'r2';
  const a = admit({ desired: want, defaulted: deployment('app:1'), live: deployment('app:1') }, governance);
  assert.equal(a.release, true);
});

test(
  "during a release: the Rollout's control fields are carried over, fields at the applied value are " +
    'not taken over',
  () => {
    const live = deployment('app:2', {
      spec: {
        paused: false,
        minReadySeconds: 2147483646,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } },
      },
      annotations: { ...inProgress, [ANNOTATIONS.originalStrategy]: '{"maxSurge":"25%"}' },
      labels: { [LABELS.stableRevision]: 'v1hash' },
    });
    const a = admitImage('app:2', live);
    const spec = (a.object as Workload).spec;
    assert.deepEqual([a.release, a.rollback], [false, false]);
    assert.equal(spec.minReadySeconds, 2147483646);
    assert.deepEqual(spec.strategy, live.spec.strategy);
    assert.equal(spec.paused, false);
    assert.equal(spec.progressDeadlineSeconds, undefined, 'still the default: left to whoever owns it');
    assert.equal(a.object.metadata.annotations![ANNOTATIONS.originalStrategy], '{"maxSurge":"25%"}');
    assert.equal(a.object.metadata.labels![LABELS.stableRevision], 'v1hash');
  },
);

test(
  'during a release a third version is refused with the commands that end the release; the stable version rolls ' +
    'it back',
  () => {
    const live = deployment('app:2', { spec: { paused: true }, annotations: inProgress });
    assert.throws(
      () => admitImage('app:3', live),
      (e: Error) =>
        e instanceof AdmissionError &&
        e.message ===
          'Deployment/shop/web: a release is in progress; finish it (stepwise promote web -n shop --full), roll it ' +
            'back ' +
            '(stepwise abort web -n shop) or put the old template back (stepwise undo web -n shop) before applying ' +
            'another version',
    );
    const back = admitImage('app:1', live);
    assert.deepEqual([back.release, back.rollback], [false, true]);
    assert.equal((back.object as Workload).spec.paused, true, 'still held until the Rollout has rolled back');
  },
);

test(
  'the stable version applied mid-release is held in the same write, so traffic leaves the new pods before they ' +
    'go: a Deployment paused, a StatefulSet partitioned at its replicas',
  () => {
    // A blue-green Deployment runs unpaused, surging its new pods beside the old ones.
    const blueGreen = deployment('app:2', {
      spec: { paused: false, minReadySeconds: 2147483646 },
      annotations: inProgress,
    });
    const back = admitImage('app:1', blueGreen);
    assert.deepEqual([back.release, back.rollback], [false, true]);
    assert.equal((back.object as Workload).spec.paused, true);
    assert.equal((back.object as Workload).spec.minReadySeconds, 2147483646, 'the control fields stay');

    const statefulSet = (image: string, partition?: number): Workload => {
      const d = deployment(image, partition === undefined ? {} : { annotations: inProgress });
      delete d.spec.strategy;
      delete d.spec.progressDeadlineSeconds;
      const updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: partition ?? 0 } };
      return { ...d, kind: 'StatefulSet', spec: { ...d.spec, updateStrategy } };
    };
    const sts = { ...governance, workload: { kind: 'StatefulSet', name: 'web' } };
    const live = statefulSet('app:2', 3);
    const a = admit({ desired: statefulSet('app:1'), defaulted: statefulSet('app:1'), live }, sts, {
      templateHash: templateHash(statefulSet('app:1').spec.template),
    });
    assert.deepEqual([a.release, a.rollback], [false, true]);
    assert.deepEqual((a.object as Workload).spec.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { partition: 5 },
    });
  },
);

function service(name: string, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: { selector, ports: [{ port: 80 }] },
  };
}

test(
  "a Service pinned by a release keeps its pin through a re-apply; the rest of it is the writer's; unpinned " +
    'Services pass',
  () => {
    for (const name of ['web', 'web-canary']) {
      const pinned = service(name, { app: 'web', 'pod-template-hash': 'v1hash' });
      const reapplied = service(name, { app: 'web' });
      (reapplied.spec as { ports: unknown }).ports = [{ port: 8080 }];
      const a = admit({ desired: reapplied, defaulted: reapplied, live: pinned }, governance);
      assert.deepEqual((a.object.spec as { selector: unknown }).selector, {
        app: 'web',
        'pod-template-hash': 'v1hash',
      });
      assert.deepEqual((a.object.spec as { ports: unknown }).ports, [{ port: 8080 }], "the writer's ports");
      assert.throws(
        () =>
          admit(
            { desired: service(name, { app: 'other' }), defaulted: service(name, { app: 'other' }), live: pinned },
            governance,
          ),
        (e: Error) =>
          e instanceof AdmissionError &&
          /^Service\/shop\/.*: its selector changed while a release pins it to one version; finish it/.test(e.message),
      );
    }
    const free = service('web', { app: 'other' });
    assert.equal(
      admit({ desired: free, defaulted: free, live: service('web', { app: 'web' }) }, governance).object,
      free,
    );
    const foreign = service('db', { app: 'db' });
    assert.equal(
      admit(
        { desired: foreign, defaulted: foreign, live: service('db', { app: 'db', 'pod-template-hash': 'x' }) },
        governance,
      ).object,
      foreign,
    );
  },
);

test(
  'an HTTPRoute a release routes through keeps its canary backends and rules; its own rules may not change ' +
    'meanwhile',
  () => {
    const declared = [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ kind: 'Service', name: 'web', port: 80, weight: 1 }],
      },
    ];
    const route = (rules: unknown): KubeObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { rules },
    });
    for (const intent of [{ weight: 10 }, { matches: [{ headers: [{ name: 'x-canary', value: 'yes' }] }] }]) {
      const live = route(desiredRouteRules(declared, 'web', 'web-canary', intent));
      const a = admit({ desired: route(declared), defaulted: route(declared), live }, governance);
      assert.deepEqual(a.object.spec, live.spec, `carried over (${JSON.stringify(intent)})`);
      const edited = [{ ...declared[0]!, matches: [{ path: { type: 'PathPrefix', value: '/shop' } }] }];
      assert.throws(
        () => admit({ desired: route(edited), defaulted: route(edited), live }, governance),
        (e: Error) =>
          e instanceof AdmissionError &&
          /^HTTPRoute\/shop\/web: its rules changed while a release routes traffic through them/.test(e.message),
      );
    }
    const edited = route([{ ...declared[0]!, matches: [{ path: { type: 'PathPrefix', value: '/shop' } }] }]);
    assert.equal(
      admit({ desired: edited, defaulted: edited, live: route(declared) }, governance).object,
      edited,
      'no release: any change passes',
    );
  },
);
