import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitWorkload, AdmissionError } from '../../src/reconciler/admit.js';
import { ANNOTATIONS, LABELS, templateHash, type Workload } from '../../src/reconciler/observed.js';

/** A Deployment as the API server stores it: with its defaulted strategy and progress deadline. */
function deployment(image: string, extra: { spec?: Partial<Workload['spec']>; annotations?: Record<string, string>; labels?: Record<string, string> } = {}): Workload {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', annotations: { ...extra.annotations }, labels: { app: 'web', ...extra.labels } },
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
const admit = (image: string, live: Workload | undefined, stable = 'v1hash') =>
  admitWorkload({ desired: desired(image), defaulted: deployment(image), ...(live ? { live } : {}), rolloutName: 'web', stableRevision: stable, stableTemplateHash: templateHash(deployment('app:1').spec.template) });

test('the first apply, or an unchanged template, writes the rendered object itself and starts nothing', () => {
  for (const live of [undefined, deployment('app:1')]) {
    const want = desired('app:1');
    const a = admitWorkload({ desired: want, defaulted: deployment('app:1'), ...(live ? { live } : {}), rolloutName: 'web' });
    assert.deepEqual([a.release, a.rollback], [false, false]);
    // The very object: `stepwise apply` then compares it with its first dry run instead of dry-running it again.
    assert.equal(a.object, want);
  }
});

test('a new template starts a release in the same write: paused, marked in-progressing, stable revision labelled', () => {
  const a = admit('app:2', deployment('app:1'));
  assert.deepEqual([a.release, a.rollback], [true, false]);
  assert.equal(a.object.spec.paused, true);
  assert.deepEqual(JSON.parse(a.object.metadata.annotations![ANNOTATIONS.inProgressing]!), { rolloutName: 'web' });
  assert.equal(a.object.metadata.labels![LABELS.stableRevision], 'v1hash');
  assert.deepEqual(a.object.spec.template, desired('app:2').spec.template);
});

test('a StatefulSet release holds every pod with its partition instead of pausing', () => {
  const live = { ...deployment('app:1'), kind: 'StatefulSet' };
  const want = { ...desired('app:2'), kind: 'StatefulSet' };
  const a = admitWorkload({ desired: want, defaulted: { ...deployment('app:2'), kind: 'StatefulSet' }, live, rolloutName: 'web' });
  assert.equal(a.release, true);
  assert.deepEqual(a.object.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 5 } });
  assert.equal(a.object.spec.paused, undefined);
});

test('a new rollout-id label starts a release even with the same template', () => {
  const want = desired('app:1');
  want.metadata.labels![LABELS.rolloutId] = 'r2';
  const a = admitWorkload({ desired: want, defaulted: deployment('app:1'), live: deployment('app:1'), rolloutName: 'web' });
  assert.equal(a.release, true);
});

test('during a release: the Rollout\'s control fields are carried over, fields at the applied value are not taken over', () => {
  const live = deployment('app:2', {
    spec: { paused: false, minReadySeconds: 2147483646, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } } },
    annotations: { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}', [ANNOTATIONS.originalStrategy]: '{"maxSurge":"25%"}' },
    labels: { [LABELS.stableRevision]: 'v1hash' },
  });
  const a = admit('app:2', live);
  assert.deepEqual([a.release, a.rollback], [false, false]);
  assert.equal(a.object.spec.minReadySeconds, 2147483646);
  assert.deepEqual(a.object.spec.strategy, live.spec.strategy);
  assert.equal(a.object.spec.paused, false);
  assert.equal(a.object.spec.progressDeadlineSeconds, undefined, 'still the default: left to whoever owns it');
  assert.equal(a.object.metadata.annotations![ANNOTATIONS.originalStrategy], '{"maxSurge":"25%"}');
  assert.equal(a.object.metadata.labels![LABELS.stableRevision], 'v1hash');
});

test('during a release a third version is refused; the stable version rolls the release back', () => {
  const live = deployment('app:2', { spec: { paused: true }, annotations: { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}' } });
  assert.throws(() => admit('app:3', live), (e: Error) => e instanceof AdmissionError && /a release is in progress; promote it, abort it or undo it/.test(e.message));
  const back = admit('app:1', live);
  assert.deepEqual([back.release, back.rollback], [false, true]);
  assert.equal(back.object.spec.paused, true, 'still held until the Rollout has rolled back');
});
