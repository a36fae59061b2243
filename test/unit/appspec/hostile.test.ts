/**
 * Input that once crashed, hung or misled Stepwise: each case ends in a located error (or is accepted, where
 * Kubernetes accepts it), promptly. Run through the CLI with a deadline where a regression would hang.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatIssue } from '../../../src/appspec/errors.js';
import { loadApps } from '../../../src/appspec/load.js';
import { stepwise } from '../../support/cli.js';
import { ROOT } from '../../support/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'stepwise-hostile-'));
/** `stepwise validate` of `text` written to `name`, killed after 20 s. */
function validate(text: string, name = 'spec.yaml') {
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, ...stepwise(['validate', '-f', file], { timeoutMs: 20_000 }) };
}
const errors = (text: string, file = 'spec.yaml') =>
  loadApps([{ file, text }])
    .issues.filter((i) => i.severity === 'error')
    .map(formatIssue);

const app = (rollout: string) => `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  workload: {image: web:1, replicas: 2, readinessProbe: {tcpSocket: {port: http}}}
  route: {ingress: {host: web.example.com}}
  rollout: ${rollout}
`;

test('a step weight the schema refuses never reaches the rules: 0 and negative values are located errors', () => {
  for (const weight of [0, -5]) {
    const r = validate(app(`{strategy: canary, stepWeight: ${weight}}`));
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^${r.file}:7:\\d+: spec\\.rollout\\.stepWeight: must be at least 1, got ${weight}$`, 'm'),
    );
  }
  // Rules elsewhere in the document still report in the same run; those beside the refused value wait for its fix.
  const text = app('{strategy: canary, stepWeight: 0, maxWeight: 50}')
    .replace('replicas: 2', 'replicas: 2, kind: x')
    .replace(
      'route: {ingress: {host: web.example.com}}',
      'route: {ingress: {host: a.b}, gateway: {parentRefs: [{name: g}]}}',
    );
  assert.deepEqual(errors(text), [
    'spec.yaml:5:47: spec.workload.kind: must be one of: "Deployment", "StatefulSet", got "x"',
    'spec.yaml:7:43: spec.rollout.stepWeight: must be at least 1, got 0',
    'spec.yaml:6:33: spec.route.gateway: choose one traffic route: ingress or gateway, not both',
  ]);
});

test('nesting beyond the limit is a located error, never a JavaScript stack overflow', () => {
  for (const [name, text] of [
    ['block.yaml', `${'- '.repeat(3000)}x\n`],
    ['flow.yaml', `${'['.repeat(850)}${']'.repeat(850)}\n`],
    ['maps.yaml', `${Array.from({ length: 100 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')} x\n`],
  ] as const) {
    const r = validate(text, name);
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^${r.file}:\\d+:\\d+: .*nested more than 64 levels deep`, 'm'));
    assert.doesNotMatch(r.stderr, /call stack|RangeError|at .*\.js/);
  }
});

test('a file of nothing but syntax errors: the first hundred listed, then reading stops', () => {
  const r = validate(']\n'.repeat(125_000), 'errors.yaml');
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.filter((l) => l.includes(': YAML syntax: ')).length, 100);
  assert.equal(lines.at(-2), `${r.file}: reading stopped after 100 YAML syntax errors`);
  assert.equal(lines.at(-1), 'stepwise: 101 errors');
});

test('input limits: a file over 1 MiB and a map of over 1000 keys are refused at once, naming the file', () => {
  const huge = validate(']\n'.repeat(5 * 1024 * 1024), 'huge.yaml');
  assert.equal(huge.status, 1);
  assert.match(
    huge.stderr,
    new RegExp(`^stepwise: ${huge.file}: is 10485760 bytes; an app spec file may have at most 1048576$`, 'm'),
  );
  const labels = (n: number) => Array.from({ length: n }, (_, i) => `    k${i}: v`).join('\n');
  const spec = (n: number) =>
    app('{strategy: canary, steps: [{replicas: 1}]}').replace(
      'metadata: {name: web}',
      `metadata:\n  name: web\n  labels:\n${labels(n)}`,
    );
  assert.deepEqual(errors(spec(25_000)), [
    'spec.yaml:6:5: metadata.labels: has 25000 keys; a map may have at most 1000',
  ]);
  assert.deepEqual(errors(spec(1000)), [], 'up to the limit is fine');
});

test('a duplicate key is located at the second one, naming the field and the first', () => {
  const text = app('{strategy: canary, steps: [{replicas: 1}]}').replace('{name: web}', '{name: web, name: api}');
  assert.deepEqual(errors(text), ['spec.yaml:3:23: metadata.name: duplicate key (first written at 3:12)']);
});

test('`__proto__` is a field like any other: reported unknown, never applied', () => {
  const text = app('{strategy: canary, steps: [{replicas: 1}]}')
    .replace('replicas: 2,', 'replicas: 2, __proto__: {port: 1},')
    .replace('{host: web.example.com}', '{host: web.example.com, __proto__: {className: x}}');
  const found = errors(text);
  assert.deepEqual(
    found.map((e) => e.replace(/; expected one of: .*/, '')),
    [
      'spec.yaml:5:41: spec.workload.__proto__: unknown field "__proto__"',
      'spec.yaml:6:44: spec.route.ingress.__proto__: unknown field "__proto__"',
    ],
  );
});

test('control characters from the input are escaped: no colour codes, no forged lines', () => {
  const text = app('{strategy: canary, steps: [{replicas: 1}]}').replace(
    'spec:\n',
    'spec:\n  "\\e[31mRED\\nfake.yaml:1:1: ok": 1\n',
  );
  const r = validate(text, 'control.yaml');
  assert.equal(r.status, 1);
  assert.ok(!r.stderr.includes('\u001b'), 'no escape character reaches the terminal');
  assert.doesNotMatch(r.stderr, /^fake\.yaml/m);
  assert.match(r.stderr, /unknown field "\\u001b\[31mRED\\nfake\.yaml:1:1: ok"/);
});

test('valid input is accepted: a trailing ---, comments-only documents, CR line endings', () => {
  const spec = app('{strategy: canary, steps: [{replicas: 1}]}');
  assert.deepEqual(errors(`${spec}---\n`), []);
  assert.deepEqual(errors(`# header\n---\n${spec}---\n# trailer\n`), []);
  assert.deepEqual(errors(spec.replaceAll('\n', '\r')), []);
  assert.deepEqual(errors(spec.replaceAll('\n', '\r\n')), []);
  assert.deepEqual(errors('', 'empty.yaml'), [
    'empty.yaml: no app documents found (an app spec has apiVersion, kind: App, metadata and spec)',
  ]);
});

test('files as a person names them: a missing one in words, a directory read like kubectl -f DIR', () => {
  const missing = stepwise(['validate', '-f', 'no/such.yaml']);
  assert.match(missing.stderr, /^stepwise: no\/such\.yaml: cannot read: no such file or directory$/m);
  const specs = mkdtempSync(join(tmpdir(), 'stepwise-specs-'));
  writeFileSync(
    join(specs, 'b.yaml'),
    app('{strategy: canary, steps: [{replicas: 1}]}').replace('name: web', 'name: b'),
  );
  writeFileSync(
    join(specs, 'a.yml'),
    app('{strategy: canary, steps: [{replicas: 1}]}').replace('name: web', 'name: a'),
  );
  writeFileSync(join(specs, 'notes.txt'), 'not a spec');
  const r = stepwise(['validate', '-f', specs]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]),
    ['default/a', 'default/b'],
  );
  const empty = mkdtempSync(join(tmpdir(), 'stepwise-none-'));
  assert.match(stepwise(['validate', '-f', empty]).stderr, /a directory with no \.yaml, \.yml or \.json files/);
});

/** An app using every field that reaches an object, each with a value Kubernetes accepts. */
const full = `apiVersion: stepwise.dev/v1alpha1
kind: App
metadata:
  name: web
  labels: {team: platform}
  annotations: {example.com/owner: "Platform team"}
spec:
  workload:
    image: web:1
    replicas: 4
    portName: http
    env: {LOG_LEVEL: info}
    resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: "1", memory: 128Mi}}
    readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 2}
  service: {name: web, targetPort: http}
  route:
    ingress: {host: web.example.com, className: nginx}
  rollout:
    strategy: canary
    gracePeriodSeconds: 3
    steps: [{replicas: 1, traffic: 10%, pause: {duration: 60}}, {replicas: 100%, traffic: 100%}]
`;
const gateway = (route: string) => full.replace('    ingress: {host: web.example.com, className: nginx}', route);

test('values Kubernetes would refuse are located errors, checked by its own rules before synth', () => {
  assert.deepEqual(errors(full), [], 'the valid app loads');
  const cases: [string, string, RegExp][] = [
    [
      'a label value with a space',
      full.replace('team: platform', 'team: "a b"'),
      /5:\d+: metadata\.labels\.team: must be a label value/,
    ],
    [
      'a label key with "!"',
      full.replace('team: platform', '"bad key!": x'),
      /5:\d+: metadata\.labels\.bad key!: the key "bad key!" must be/,
    ],
    [
      'a 1025-character label value',
      full.replace('team: platform', `team: ${'a'.repeat(1025)}`),
      /metadata\.labels\.team: must be a label value/,
    ],
    ['a non-ASCII label key', full.replace('team: platform', 'Ω: x'), /metadata\.labels\.Ω: the key "Ω" must be/],
    [
      'a Service name starting with a digit',
      full.replace('{name: web, targetPort', '{name: 1web, targetPort'),
      /spec\.service\.name: must be a DNS label that starts with a letter/,
    ],
    [
      'an app name starting with a digit',
      full.replace('  name: web\n', '  name: 1web\n'),
      /metadata\.name: must be a DNS label that starts with a letter/,
    ],
    [
      'replicas beyond int32',
      full.replace('replicas: 4', 'replicas: 3000000000'),
      /spec\.workload\.replicas: must be at most 2147483647, got 3000000000/,
    ],
    [
      'gracePeriodSeconds beyond int32',
      full.replace('gracePeriodSeconds: 3', 'gracePeriodSeconds: 9999999999'),
      /gracePeriodSeconds: must be at most 2147483647/,
    ],
    [
      'a pause beyond int32',
      full.replace('duration: 60', 'duration: 2147483648'),
      /steps\[0\]\.pause\.duration: must be at most 2147483647/,
    ],
    [
      'a negative targetPort',
      full.replace('targetPort: http', 'targetPort: -5'),
      /spec\.service\.targetPort: must be at least 1, got -5/,
    ],
    [
      'a port name without a letter',
      full.replace('portName: http', 'portName: "123"'),
      /spec\.workload\.portName: must be a port number or a port name/,
    ],
    [
      'an Ingress host starting with "-"',
      full.replace('host: web.example.com', 'host: -lead.example.com'),
      /route\.ingress\.host: must be a lowercase host name/,
    ],
    [
      'an Ingress host "*"',
      full.replace('host: web.example.com', 'host: "*"'),
      /route\.ingress\.host: must be a lowercase host name/,
    ],
    [
      'an Ingress class ".."',
      full.replace('className: nginx', 'className: ".."'),
      /route\.ingress\.className: must be a DNS subdomain/,
    ],
    [
      'a parentRef with an empty name',
      gateway('    gateway: {parentRefs: [{name: ""}]}'),
      /parentRefs\[0\]\.name: must be at least 1 character long, got 0 characters/,
    ],
    [
      'an empty hostname',
      gateway('    gateway: {parentRefs: [{name: gw}], hostnames: [""]}'),
      /hostnames\[0\]: must be at least 1 character long/,
    ],
    [
      'an upper-case hostname',
      gateway('    gateway: {parentRefs: [{name: gw}], hostnames: [Shop.Example.com]}'),
      /hostnames\[0\]: must be a lowercase host name/,
    ],
    [
      'an image with surrounding spaces',
      full.replace('image: web:1', 'image: " web:1 "'),
      /spec\.workload\.image: must not begin or end with whitespace/,
    ],
    [
      'an env name with "="',
      full.replace('LOG_LEVEL: info', '"A=B": x'),
      /env\.A=B: the key "A=B" must be printable ASCII characters other than "="/,
    ],
    ['a quantity "lots"', full.replace('cpu: 250m', 'cpu: lots'), /requests\.cpu: must be a Kubernetes quantity/],
    [
      'a quantity "5Mb"',
      full.replace('memory: 64Mi', 'memory: 5Mb'),
      /requests\.memory: must be a Kubernetes quantity/,
    ],
    [
      'a negative quantity',
      full.replace('memory: 128Mi', 'memory: -5Gi'),
      /limits\.memory: must be a Kubernetes quantity/,
    ],
    [
      'a request above its limit',
      full.replace('cpu: 250m', 'cpu: "2"'),
      /requests\.cpu: the cpu request 2 is above its limit 1/,
    ],
    [
      'an unknown probe field',
      full.replace('periodSeconds: 2', 'periodSeconds: 2, perodSeconds: 3'),
      /readinessProbe\.perodSeconds: unknown field "perodSeconds"; did you mean "periodSeconds"\?/,
    ],
    [
      'a step weight over 100',
      full.replace(/ {4}steps: .*\n/, '    stepWeights: [5, 150]\n'),
      /stepWeights\[1\]: must be at most 100, got 150/,
    ],
    [
      'a fraction of a percent of traffic',
      full.replace('traffic: 10%', 'traffic: 10.5%'),
      /steps\[0\]\.traffic: must be a whole percentage like "20%", got "10\.5%"/,
    ],
    [
      'a fraction of a percent of pods',
      full.replace('replicas: 100%', 'replicas: 10.5%'),
      /steps\[1\]\.replicas: must be a count or a whole percentage/,
    ],
    [
      'a probe without a handler',
      full.replace('{httpGet: {path: /ready, port: http}, periodSeconds: 2}', '{periodSeconds: 2}'),
      /14:5: spec\.workload\.readinessProbe: a probe needs one handler: httpGet, tcpSocket, exec, grpc/,
    ],
    [
      'a probe with two handlers',
      full.replace('periodSeconds: 2}', 'tcpSocket: {port: http}}'),
      /spec\.workload\.readinessProbe: a probe has one handler, got httpGet and tcpSocket/,
    ],
    [
      'annotations over 256 KiB',
      full.replace('"Platform team"', 'a'.repeat(300 * 1024)),
      /metadata\.annotations: annotations of 3072\d\d bytes in all; Kubernetes allows 262144/,
    ],
  ];
  for (const [what, text, expected] of cases) {
    const found = errors(text);
    assert.equal(found.length, 1, `${what}: ${found.join('\n')}`);
    assert.match(found[0]!, /^spec\.yaml:\d+:\d+: /, `${what}: located`);
    assert.match(found[0]!, expected, what);
  }
});

test('messages a person can act on: no JavaScript values, no fields that do not exist, no repeats', () => {
  const base = app('{strategy: canary, stepWeight: 25}').replace('  route: {ingress: {host: web.example.com}}\n', '');
  assert.deepEqual(errors(base.replace('replicas: 2', 'replicas: 1e309')), [
    'spec.yaml:5:38: spec.workload.replicas: must be an integer, got number Infinity (a number too large to read)',
    'spec.yaml:6:43: spec.rollout.stepWeight: shifting traffic needs a route (an ingress or a gateway)',
  ]);
  assert.deepEqual(errors(base), [
    'spec.yaml:6:43: spec.rollout.stepWeight: shifting traffic needs a route (an ingress or a gateway)',
  ]);
  const overlay = readFileSync(`${ROOT}examples/layers/prod.yaml`, 'utf8');
  assert.deepEqual(errors(overlay, 'prod.yaml'), [
    'prod.yaml:9:3: spec.workload: missing required field "image"',
    'prod.yaml:14:3: spec.rollout: missing required field "strategy"',
  ]);
  const aliased = app('{strategy: canary, steps: [{replicas: 1}]}')
    .replace('workload: {', 'workload: &w {')
    .replace('  route:', '  service: *w\n  route:');
  assert.deepEqual(errors(aliased), [
    'spec.yaml:6:12: spec.service: YAML aliases are not supported in app specs; repeat the value or use a layer',
  ]);
});

test('init names the option a bad value came from, not a line of a file it never wrote', () => {
  const r = stepwise(['init', 'MyApp', '--output-file', join(dir, 'never.yaml')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^the app name: must be a DNS label that starts with a letter .*, got "MyApp"$/m);
  assert.doesNotMatch(r.stderr, /never\.yaml:\d/);
});

test("a layer's bad value gets the same checks, located in the layer that wrote it", () => {
  const base = { file: 'base.yaml', text: readFileSync(`${ROOT}examples/layers/base.yaml`, 'utf8') };
  const prod = readFileSync(`${ROOT}examples/layers/prod.yaml`, 'utf8');
  const bad = { file: 'prod.yaml', text: prod.replace('host: api.example.com', 'host: API.example.com') };
  const found = loadApps([base, bad])
    .issues.filter((i) => i.severity === 'error')
    .map(formatIssue);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /^prod\.yaml:\d+:\d+: spec\.route\.ingress\.host: must be a lowercase host name/);
});
