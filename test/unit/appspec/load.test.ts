import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatIssue } from '../../../src/appspec/errors.js';
import { loadApps, type SourceText } from '../../../src/appspec/load.js';
import { ROOT } from '../../support/paths.js';

const read = (file: string): SourceText => ({ file, text: readFileSync(`${ROOT}${file}`, 'utf8') });
const errors = (sources: SourceText[]) =>
  loadApps(sources)
    .issues.filter((i) => i.severity === 'error')
    .map(formatIssue);

const app = (rollout: string, extra = '') => `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  workload:
    image: web:1
    replicas: 10
    readinessProbe: {tcpSocket: {port: http}}${extra}
  rollout:
${rollout}
`;
const ingress = '\n  route:\n    ingress: {host: web.example.com}';

test('every example loads without errors or warnings', () => {
  for (const file of ['examples/blue-green.yaml', 'examples/canary-gateway.yaml', 'examples/ab-test.yaml']) {
    const { apps, issues } = loadApps([read(file)]);
    assert.deepEqual(issues, [], file);
    assert.equal(apps.length, 1);
  }
});

test('layers unify: a later layer replaces !default values and adds fields; schema defaults fill the rest', () => {
  const { apps, issues } = loadApps([read('examples/layers/base.yaml'), read('examples/layers/prod.yaml')]);
  assert.deepEqual(issues, []);
  const { app: a, files } = apps[0]!;
  assert.deepEqual(files, ['examples/layers/base.yaml', 'examples/layers/prod.yaml']);
  assert.equal(a.namespace, 'production');
  assert.equal(a.workload.replicas, 10);
  assert.equal(a.workload.image, 'ghcr.io/example/api:1.8.0', 'from the base only');
  assert.equal(a.route?.kind === 'ingress' && a.route.host, 'api.example.com');
  assert.deepEqual(
    a.rollout.steps.map((s) => s.traffic),
    ['10%', '20%', '30%', '40%', '50%'],
  );
  assert.deepEqual(a.rollout.steps[0]!.pause, {}, 'prod asks for manual approval over the base default');
  assert.equal(a.service.port, 80);
  assert.equal(a.rollout.gracePeriodSeconds, 3);
  assert.equal(a.rollout.engine, 'builtin');
});

test('two different concrete values are a conflict naming both locations', () => {
  const base = {
    file: 'base.yaml',
    text: app('    strategy: canary\n    steps: [{replicas: 1, traffic: 10%}]', ingress),
  };
  const overlay = {
    file: 'prod.yaml',
    text: 'apiVersion: stepwise.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  workload:\n    replicas: 3\n',
  };
  assert.deepEqual(errors([base, overlay]), [
    'prod.yaml:6:15: spec.workload.replicas: conflicting values 3 and 10 (at base.yaml:8:15); tag one of them ' +
      '!default to let the other win',
  ]);
});

test('!default: a concrete value wins in either order, and a later default replaces an earlier one', () => {
  const layer = (replicas: string) => ({
    file: `${replicas}.yaml`,
    text:
      `apiVersion: stepwise.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  workload:\n    replicas: ` +
      `${replicas}\n`,
  });
  const base = {
    file: 'base.yaml',
    text: app('    strategy: canary\n    steps: [{replicas: 1}]').replace('replicas: 10', 'replicas: !default 10'),
  };
  const replicas = (sources: SourceText[]) => loadApps(sources).apps[0]!.app.workload.replicas;
  assert.equal(replicas([base, layer('4')]), 4);
  assert.equal(replicas([layer('4'), base]), 4);
  assert.equal(replicas([base, layer('!default 6'), layer('!default 7')]), 7);
  assert.equal(replicas([base, layer('!default 6'), layer('5')]), 5);
});

test('lists unify as values: equal lists agree, different ones conflict', () => {
  const steps = (s: string) => ({
    file: `${s.length}.yaml`,
    text: `apiVersion: stepwise.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  rollout:\n    steps: ${s}\n`,
  });
  const base = { file: 'base.yaml', text: app('    strategy: canary\n    steps: [{replicas: 1}]') };
  assert.deepEqual(errors([base, steps('[{replicas: 1}]')]), []);
  assert.match(
    errors([base, steps('[{replicas: 2}, {replicas: 3}]')])[0]!,
    /spec\.rollout\.steps: conflicting values a list of 2 and a list of 1/,
  );
});

test('several apps in one multi-document file', () => {
  const api = app('    strategy: canary\n    steps: [{replicas: 2}]').replace('name: web', 'name: api');
  const two = `${app('    strategy: canary\n    steps: [{replicas: 1}]')}---\n${api}`;
  assert.deepEqual(
    loadApps([{ file: 'two.yaml', text: two }]).apps.map((a) => a.app.name),
    ['web', 'api'],
  );
});

test('schema errors name file, line, column and field, all at once, with a hint for typos', () => {
  const text = app(
    '    strategy: canry\n    steps:\n      - {replicas: 1, traffic: 10}\n      - {replicas: "30", pause: ' +
      '{duratoin: 5}}',
    ingress,
  ).replace('    image: web:1\n', '    image: web:1\n    replcas: 2\n');
  assert.deepEqual(errors([{ file: 'app.yaml', text }]), [
    'app.yaml:8:5: spec.workload.replcas: unknown field "replcas"; did you mean "replicas"?',
    'app.yaml:14:15: spec.rollout.strategy: must be one of: "canary", "blueGreen", "abTest", got "canry"',
    'app.yaml:16:32: spec.rollout.steps[0].traffic: must be a string, got number 10',
    'app.yaml:17:20: spec.rollout.steps[1].replicas: must be a count or a whole percentage like "20%" (a number in ' +
      'quotes needs a % sign), got "30"',
    'app.yaml:17:34: spec.rollout.steps[1].pause.duratoin: unknown field "duratoin"; did you mean "duration"?',
  ]);
});

test('CPU and memory follow the Kubernetes quantity grammar, checked where they are written', () => {
  const resources = (cpu: string, memory: string) => `\n    resources: {requests: {cpu: ${cpu}, memory: ${memory}}}`;
  assert.deepEqual(
    errors([
      { file: 'app.yaml', text: app('    strategy: canary\n    steps: [{replicas: 1}]', resources('"1.2.3"', 'lots')) },
    ]),
    [
      'app.yaml:10:33: spec.workload.resources.requests.cpu: must be a Kubernetes quantity such as 250m, 0.5, 1Gi ' +
        'or 512Mi, got "1.2.3"',
      'app.yaml:10:50: spec.workload.resources.requests.memory: must be a Kubernetes quantity such as 250m, 0.5, ' +
        '1Gi or 512Mi, got "lots"',
    ],
  );
  for (const [cpu, memory] of [
    ['250m', '128Mi'],
    ['0.5', '1Gi'],
    ['2', '1e9'],
    ['.5', '512M'],
  ]) {
    assert.deepEqual(
      errors([
        { file: 'app.yaml', text: app('    strategy: canary\n    steps: [{replicas: 1}]', resources(cpu!, memory!)) },
      ]),
      [],
    );
  }
});

test('YAML syntax errors, duplicate keys among them, are located', () => {
  assert.match(errors([{ file: 'bad.yaml', text: 'apiVersion: [\n' }])[0]!, /^bad\.yaml:\d+:\d+: YAML syntax/);
  assert.deepEqual(
    errors([
      {
        file: 'dup.yaml',
        text: app('    strategy: canary\n    steps: [{replicas: 1}]').replace(
          '    replicas: 10\n',
          '    replicas: 10\n    replicas: 11\n',
        ),
      },
    ]),
    ['dup.yaml:9:5: spec.workload.replicas: duplicate key (first written at 8:5)'],
  );
});

const rule = (rollout: string, extra = ingress) =>
  errors([{ file: 'a.yaml', text: app(rollout, extra) }]).map((e) => e.replace(/^a\.yaml:\d+:\d+: /, ''));

test('step rules: count, percentages, monotonic replicas, traffic ranges', () => {
  assert.deepEqual(rule('    strategy: canary\n    steps: []'), ['spec.rollout.steps: at least one step is required']);
  const many = Array.from({ length: 51 }, (_, i) => `{replicas: ${i + 1}}`).join(', ');
  assert.deepEqual(rule(`    strategy: canary\n    steps: [${many}]`), [
    'spec.rollout.steps[50]: at most 50 steps are allowed, got 51',
  ]);
  assert.deepEqual(
    rule(
      '    strategy: canary\n    steps: [{replicas: 50%, traffic: 0%}, {replicas: 40%, traffic: 101%}, {replicas: 0%}]',
    ),
    [
      'spec.rollout.steps[0].traffic: traffic must be in (0%, 100%], got 0%; 0% is only meaningful for blueGreen ' +
        '(omit traffic to keep all of it on the stable version)',
      'spec.rollout.steps[1].traffic: traffic must be in (0%, 100%], got 101%',
      'spec.rollout.steps[1].replicas: replicas must not decrease: 40% after 50% in the step before',
      'spec.rollout.steps[2].replicas: replicas percentage must be in (0%, 100%], got 0%',
      'spec.rollout.steps[2].replicas: replicas must not decrease: 0% after 40% in the step before',
    ],
  );
  assert.deepEqual(
    rule(
      '    strategy: blueGreen\n    steps: [{replicas: 100%, traffic: 0%}, {replicas: 3, traffic: 50%}, {replicas: 2}]',
    ),
    ['spec.rollout.steps[2].replicas: replicas must not decrease: 2 after 3 in the step before'],
  );
});

test('strategy rules: workload kind, route, abTest matches, StatefulSet partition limit, shorthand', () => {
  assert.deepEqual(
    rule(
      '    strategy: blueGreen\n    steps: [{replicas: 100%}]',
      `${ingress}\n    kind: StatefulSet`.replace(
        '\n  route:\n    ingress: {host: web.example.com}\n    kind',
        '\n    kind',
      ),
    ),
    ['spec.workload.kind: blueGreen needs a Deployment; a StatefulSet can only be released with the canary strategy'],
  );
  assert.deepEqual(rule('    strategy: canary\n    steps: [{replicas: 1, traffic: 10%}]', ''), [
    'spec.rollout.steps[0].traffic: shifting traffic needs a route (an ingress or a gateway)',
  ]);
  assert.deepEqual(rule('    strategy: abTest\n    steps: [{replicas: 1}]'), [
    'spec.rollout.steps[0]: abTest steps route by matches: add headers, a cookie, query parameters or a path',
  ]);
  assert.deepEqual(
    rule(
      '    strategy: canary\n    steps: [{replicas: 60%, traffic: 60%}]',
      '\n    kind: StatefulSet\n  route:\n    ingress: {}',
    ),
    [
      'spec.rollout.steps[0].replicas: a step that routes traffic while updating in place may update at most 50% of ' +
        'pods, got 60% (the stable Service needs pods left to select)',
    ],
  );
  assert.deepEqual(rule('    strategy: canary\n    steps: [{replicas: 1}]\n    stepWeight: 10'), [
    'spec.rollout.stepWeight: use either explicit steps or the stepWeight shorthand, not both',
  ]);
  assert.deepEqual(rule('    strategy: blueGreen\n    stepWeights: [10, 5]'), [
    'spec.rollout.stepWeights: the weight shorthand expands to canary steps; strategy blueGreen needs explicit steps',
    'spec.rollout.stepWeights: stepWeights must increase',
  ]);
  assert.deepEqual(rule('    strategy: canary\n    maxWeight: 50'), [
    'spec.rollout.maxWeight: maxWeight goes with stepWeight',
  ]);
  assert.deepEqual(rule('    strategy: canary'), [
    'spec.rollout: steps are required (or the stepWeight/stepWeights shorthand)',
  ]);
});

test('route rules: one route only, what ingress-nginx can express, canary name length', () => {
  assert.deepEqual(
    rule(
      '    strategy: canary\n    steps: [{replicas: 1}]',
      '\n  route:\n    ingress: {}\n    gateway: {parentRefs: [{name: gw}]}',
    ),
    ['spec.route.gateway: choose one traffic route: ingress or gateway, not both'],
  );
  assert.deepEqual(
    rule(
      '    strategy: abTest\n    steps:\n      - replicas: 1\n        matches:\n          - {headers: [{name: a, ' +
        'value: "1"}, {name: b, value: "2"}], cookie: c}\n          - {headers: [{name: d, value: "4"}], path: ' +
        '{value: /x}}',
    ),
    [
      'spec.rollout.steps[0].matches[0].headers: ingress-nginx can match only one header per step ' +
        '(canary-by-header); use a gateway route to AND several',
      'spec.rollout.steps[0].matches[0].cookie: ingress-nginx ORs header and cookie matches; put them in separate ' +
        'match entries',
      'spec.rollout.steps[0].matches[1].path: ingress-nginx canary annotations cannot route by path; use a gateway ' +
        'route',
      'spec.rollout.steps[0].matches: ingress-nginx can match only one header per step, got 2 header matches; use a ' +
        'gateway route',
    ],
  );
  assert.deepEqual(
    rule(
      '    strategy: abTest\n    steps:\n      - replicas: 1\n        matches:\n          - {headers: [{name: a, ' +
        'value: "1"}, {name: b, value: "2"}], cookie: c, path: {value: /x}, queryParams: [{name: q, value: v}]}',
      '\n  route:\n    gateway: {parentRefs: [{name: gw}]}',
    ),
    [],
  );
  const long = 'x'.repeat(57);
  assert.deepEqual(
    rule('    strategy: canary\n    steps: [{replicas: 1}]', `\n  service: {name: ${long}}\n  route:\n    ingress: {}`),
    [
      `spec.service.name: service name "${long}" is too long for its canary Service "${long}-canary" (63 characters ` +
        `at most)`,
    ],
  );
});

test('a spec without a readiness probe loads, with a warning', () => {
  const { apps, issues } = loadApps([
    {
      file: 'a.yaml',
      text: app('    strategy: canary\n    steps: [{replicas: 1}]').replace(
        '\n    readinessProbe: {tcpSocket: {port: http}}',
        '',
      ),
    },
  ]);
  assert.equal(apps.length, 1);
  assert.deepEqual(issues.map(formatIssue), [
    'a.yaml:6:3: warning: spec.workload: no readinessProbe: pods count as Ready as soon as they start, so a step ' +
      'may send traffic to a version that is not serving yet',
  ]);
});
