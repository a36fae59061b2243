import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { ANNOTATIONS, type Workload } from '../../src/reconciler/observed.js';
import type { RolloutObject } from '../../src/reconciler/types.js';
import { renewedCertificates } from '../../src/webhook/certificates.js';
import { webhookConfiguration } from '../../src/webhook/configuration.js';
import { jsonPatch } from '../../src/webhook/json-patch.js';
import { review, type AdmissionRequestBody } from '../../src/webhook/review.js';

test('jsonPatch turns one object into another key by key, escaping keys as RFC 6901 says', () => {
  const from = {
    spec: { paused: false, replicas: 5 },
    metadata: { annotations: { 'a/b': '1', 'c~d': '2' } },
    list: [1, 2],
  };
  const to = { spec: { paused: true, replicas: 5 }, metadata: { annotations: { 'a/b': '1', e: '3' } }, list: [1, 3] };
  assert.deepEqual(jsonPatch(from, to), [
    { op: 'replace', path: '/spec/paused', value: true },
    { op: 'remove', path: '/metadata/annotations/c~0d' },
    { op: 'add', path: '/metadata/annotations/e', value: '3' },
    { op: 'replace', path: '/list', value: [1, 3] },
  ]);
  assert.deepEqual(jsonPatch({ 'a/b': 1 }, { 'a/b': 2 }), [{ op: 'replace', path: '/a~1b', value: 2 }]);
  assert.deepEqual(jsonPatch(to, structuredClone(to)), []);
});

const DAY = 86_400_000;
const T0 = new Date('2026-06-01T00:00:00Z');
const later = (days: number) => new Date(T0.getTime() + days * DAY);

test(
  'certificates: issued once, kept while fresh, the serving one renewed at two thirds of its life or for new ' +
    'names, the CA too',
  () => {
    const options = { namespace: 'x', hosts: ['127.0.0.1', 'stepwise-controller.x.svc'], now: T0 };
    const first = renewedCertificates(undefined, options);
    const serving = new X509Certificate(first.serving.certPem);
    assert.equal(serving.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(serving.checkHost('stepwise-controller.x.svc'), 'stepwise-controller.x.svc');
    assert.ok(serving.verify(new X509Certificate(first.ca.certPem).publicKey));
    assert.equal(first.serving.caBundle, first.ca.certPem);

    assert.equal(renewedCertificates(first, { ...options, now: later(200) }), first, 'fresh: nothing changes');
    const renewed = renewedCertificates(first, { ...options, now: later(250) });
    assert.notEqual(renewed.serving.certPem, first.serving.certPem, 'past two thirds of 365 days');
    assert.equal(renewed.ca, first.ca, 'by the same CA, so the bundle the API server trusts stays');
    const moreNames = renewedCertificates(first, { ...options, hosts: [...options.hosts, 'localhost'] });
    assert.equal(new X509Certificate(moreNames.serving.certPem).checkHost('localhost'), 'localhost');

    const rotated = renewedCertificates(first, { ...options, now: later(2500) });
    assert.notEqual(rotated.ca.certPem, first.ca.certPem, "past two thirds of the CA's 3650 days");
    assert.deepEqual(rotated.bundle, [rotated.ca.certPem, first.ca.certPem], 'the old CA is trusted until it expires');
    assert.ok(new X509Certificate(rotated.serving.certPem).verify(new X509Certificate(rotated.ca.certPem).publicKey));
    const expiredOld = renewedCertificates(rotated, { ...options, now: later(3700 + 2500) });
    assert.ok(!expiredOld.bundle.includes(first.ca.certPem), 'an expired CA leaves the bundle');
  },
);

test(
  'the webhook configuration: governed objects only, fail closed unless asked, scoped to the changes admission ' +
    'decides on',
  () => {
    const config = webhookConfiguration({ endpoint: { url: 'https://127.0.0.1:9443/' } }) as unknown as {
      webhooks: Record<string, any>[];
    };
    assert.deepEqual(
      config.webhooks.map((w) => w.name),
      ['workloads.admission.stepwise.dev', 'services.admission.stepwise.dev', 'httproutes.admission.stepwise.dev'],
    );
    for (const w of config.webhooks) {
      assert.equal(w.clientConfig.url, 'https://127.0.0.1:9443/admit');
      assert.equal(w.failurePolicy, 'Fail');
      assert.deepEqual(w.objectSelector, {
        matchExpressions: [{ key: 'stepwise.dev/rollout-name', operator: 'Exists' }],
      });
      assert.deepEqual(
        w.rules.map((r: { operations: string[] }) => r.operations),
        [['UPDATE']],
      );
    }
    assert.match(
      config.webhooks[0]!.matchConditions[0].expression,
      /^object\.spec\.template != oldObject\.spec\.template \|\| object\.spec\.\?paused != oldObject\.spec\.\?paused/,
    );
    const open = webhookConfiguration({
      endpoint: { service: { namespace: 'sys', name: 'stepwise-controller' } },
      failOpen: true,
      namespace: 'shop',
    }) as unknown as { webhooks: Record<string, any>[] };
    assert.deepEqual(open.webhooks[0]!.clientConfig, {
      service: { namespace: 'sys', name: 'stepwise-controller', path: '/admit', port: 443 },
    });
    assert.equal(open.webhooks[0]!.failurePolicy, 'Ignore');
    assert.deepEqual(open.webhooks[0]!.namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } });
  },
);

const rollout: RolloutObject = {
  apiVersion: 'stepwise.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    strategy: {
      blueGreen: { steps: [{ replicas: '100%' }], trafficRoutings: [{ service: 'web', ingress: { name: 'web' } }] },
    },
  },
};
const deployment = (image: string, annotations: Record<string, string> = {}): Workload => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { 'stepwise.dev/rollout-name': 'web' }, annotations },
  spec: {
    replicas: 5,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
  },
});
const lookup = {
  rollout: async (namespace: string, name: string) => (namespace === 'shop' && name === 'web' ? rollout : undefined),
  stableVersion: async () => ({ revision: 'v1hash' }),
};
const request = (
  object: Workload,
  oldObject: Workload,
  extra: Partial<AdmissionRequestBody> = {},
): AdmissionRequestBody => ({ uid: 'u1', operation: 'UPDATE', namespace: 'shop', object, oldObject, ...extra });
const decodePatch = (b64?: string) => JSON.parse(Buffer.from(b64 ?? 'W10=', 'base64').toString());

test('a review answers with the JSON patch of the admission decision, or a refusal saying how to proceed', async () => {
  const started = await review(request(deployment('app:2'), deployment('app:1')), lookup);
  assert.equal(started.allowed, true);
  assert.equal(started.patchType, 'JSONPatch');
  assert.deepEqual(decodePatch(started.patch), [
    { op: 'add', path: '/metadata/labels/stepwise.dev~1stable-revision', value: 'v1hash' },
    { op: 'add', path: '/metadata/annotations/stepwise.dev~1in-progressing', value: '{"rolloutName":"web"}' },
    { op: 'add', path: '/spec/paused', value: true },
  ]);
  assert.match(
    started.warnings![0]!,
    /^stepwise: Deployment\/shop\/web is a new version: Rollout web releases it step by step$/,
  );

  const releasing = deployment('app:2', { [ANNOTATIONS.inProgressing]: '{"rolloutName":"web"}' });
  const refused = await review(request(deployment('app:3'), releasing), lookup);
  assert.deepEqual([refused.allowed, refused.status?.code], [false, 403]);
  assert.match(refused.status!.message, /a release is in progress; finish it \(stepwise promote web -n shop --full\)/);
});

test(
  "a review lets through what is not its business: the reconciler's own writes, creations, objects of " + 'no Rollout',
  async () => {
    const own = await review(
      request(deployment('app:2'), deployment('app:1'), { options: { fieldManager: 'stepwise-reconciler' } }),
      lookup,
    );
    assert.deepEqual(own, { uid: 'u1', allowed: true });
    assert.deepEqual(await review(request(deployment('app:2'), deployment('app:1'), { operation: 'CREATE' }), lookup), {
      uid: 'u1',
      allowed: true,
    });
    const orphan = deployment('app:2');
    orphan.metadata.labels = { 'stepwise.dev/rollout-name': 'gone' };
    assert.deepEqual(await review(request(orphan, { ...deployment('app:1'), metadata: orphan.metadata }), lookup), {
      uid: 'u1',
      allowed: true,
    });
  },
);
