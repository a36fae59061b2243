import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { HELM4_FILENAME_ANNOTATION, PostRenderError, postRender } from '../../src/helm/post-render.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { controllerChart } from '../../src/install/chart.js';
import { ROOT } from '../support/paths.js';
import { attachRollout } from '../../src/render/attach.js';
import { ROLLOUT_NAME_LABEL } from '../../src/render/labels.js';
import { canaryService } from '../../src/traffic/service.js';

const deployment = (annotation: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    stepwise.dev/rollout: ${JSON.stringify(annotation)}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: web, image: "example/web:1"}]}
`;
const service = `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`;
const ingress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - host: web.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`;
const untouched = `# kept as written
apiVersion: v1
kind: ConfigMap
metadata: {name: settings,   annotations: {"helm.sh/hook": post-install}}
data: {greeting:   "hello"}   # odd spacing
`;
const BLUE_GREEN = '{strategy: blueGreen, steps: [{replicas: 100%, traffic: 0%}, {replicas: 100%, traffic: 100%}]}';

/** A stream as `helm template` (Helm 3) writes it: `---` and a `# Source:` comment before each document. */
const helm3 = (docs: Record<string, string>) =>
  Object.entries(docs)
    .map(([file, text]) => `---\n# Source: web/templates/${file}\n${text}`)
    .join('');

const objects = (stream: string) =>
  parseAllDocuments(stream)
    .map((d) => d.toJS() as KubeObject)
    .filter(Boolean);

test('Helm 3: documents it does not change pass byte for byte; the release is the one the core renders', () => {
  const input = helm3({
    'deployment.yaml': deployment(BLUE_GREEN),
    'service.yaml': service,
    'ingress.yaml': ingress,
    'settings.yaml': untouched,
  });
  const output = postRender(input);
  assert.ok(output.startsWith(input.slice(0, input.indexOf('---\n# Source: web/templates/deployment.yaml'))));
  assert.ok(
    output.includes(`---\n# Source: web/templates/settings.yaml\n${untouched}`),
    'the ConfigMap, byte for byte',
  );
  const [workload, svc, route, settings, ...added] = objects(output);
  const [original] = objects(input);
  const expected = attachRollout(
    { workload: original as KubeObject, service: objects(input)[1], route: objects(input)[2] },
    {
      strategy: 'blueGreen',
      steps: [
        { replicas: '100%', traffic: '0%' },
        { replicas: '100%', traffic: '100%' },
      ],
    },
    { where: 'web/templates/deployment.yaml' },
  );
  assert.deepEqual(added, [expected.rollout, canaryService({ ...(svc as KubeObject) }, 'pod-template-hash')]);
  for (const governed of [workload, svc, route]) assert.equal(governed?.metadata.labels?.[ROLLOUT_NAME_LABEL], 'web');
  assert.equal(settings?.kind, 'ConfigMap');
  assert.match(output, /---\n# Source: stepwise\/rollout-web\.yaml\n/);
});

test('Helm 4: each new document is filed with the workload it releases', () => {
  // Helm 4 writes no `# Source:` comments: each document names its template in an annotation.
  const filed = (text: string, file: string) =>
    text.replace(
      /^metadata: \{name: (\w+)\}$/m,
      `metadata: {name: $1, annotations: {${HELM4_FILENAME_ANNOTATION}: ${file}}}`,
    );
  const workload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    ${HELM4_FILENAME_ANNOTATION}: web/templates/deployment.yaml
    stepwise.dev/rollout: "{strategy: canary, steps: [{replicas: 1, traffic: 10%}, {replicas: 100%}]}"
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: web:1}]}}
`;
  const input = [
    workload,
    filed(service, 'web/templates/service.yaml'),
    filed(ingress.replace('metadata: {name: web}', 'metadata: {name: web}'), 'web/templates/ingress.yaml'),
  ]
    .map((t) => `---\n${t}`)
    .join('');
  const added = objects(postRender(input)).slice(3);
  assert.deepEqual(
    added.map((o) => [o.kind, o.metadata.annotations?.[HELM4_FILENAME_ANNOTATION]]),
    [
      ['Rollout', 'web/templates/deployment.yaml'],
      ['Service', 'web/templates/deployment.yaml'],
    ],
  );
  assert.throws(
    () => postRender(input.replace('replicas: 1,', 'replicas: 0%,')),
    /web\/templates\/deployment\.yaml: steps\[0\]\.replicas: /,
  );
});

test('a workload named in the config file is released without touching the chart; unknown names fail', () => {
  const plain = helm3({
    'deployment.yaml': deployment('fast').replace(/ {2}annotations:\n.*\n/, ''),
    'service.yaml': service,
    'ingress.yaml': ingress,
  });
  const config = {
    rollouts: { fast: { strategy: 'canary' as const, stepWeights: [20, 50] } },
    workloads: { web: { rollout: 'fast' } },
  };
  const kinds = objects(postRender(plain, config, 'helm.yaml')).map((o) => o.kind);
  assert.deepEqual(kinds, ['Deployment', 'Service', 'Ingress', 'Rollout', 'Service']);
  assert.throws(
    () => postRender(helm3({ 'deployment.yaml': deployment('slow') }), config, 'helm.yaml'),
    new PostRenderError(
      'web/templates/deployment.yaml: metadata.annotations["stepwise.dev/rollout"]: no rollout named "slow" in ' +
        'helm.yaml (it defines fast)',
    ),
  );
});

test('bad input fails naming the template, line and field, before anything is written', () => {
  assert.throws(
    () => postRender(helm3({ 'service.yaml': service, 'broken.yaml': 'kind: [\n' })),
    /web\/templates\/broken\.yaml \(line 10 of the manifests\): /,
  );
  assert.throws(
    () => postRender(helm3({ 'deployment.yaml': deployment('{strategy: canary, steps: [{replicas: 0%}]}') })),
    /web\/templates\/deployment\.yaml: steps\[0\]\.replicas: /,
  );
  assert.throws(() => postRender(helm3({ 'deployment.yaml': deployment('{strategy: [') })), /not a YAML mapping/);
  assert.throws(() => postRender('---\n- a\n- b\n'), /document 1 \(line 1 of the manifests\): not a Kubernetes object/);
});

test('charts/stepwise is what `stepwise install --helm-chart` writes (refresh it with that command)', () => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  for (const [file, text] of Object.entries(controllerChart(version)))
    assert.equal(
      readFileSync(`${ROOT}charts/stepwise/${file}`, 'utf8'),
      text,
      `stale ${file}: run \`stepwise install --helm-chart charts/stepwise\``,
    );
});
