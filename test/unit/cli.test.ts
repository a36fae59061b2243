import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { appSchema } from '../../src/appspec/schema.js';
import { stepwise } from '../support/cli.js';
import { ROOT } from '../support/paths.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'stepwise-cli-'));
const docs = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS());
const invalid =
  'apiVersion: stepwise.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  workload: {image: web:1, replicas: ' +
  '3}\n  rollout:\n    strategy: canary\n    steps: [{replicas: 2}, {replicas: 1, traffic: 10%}]\n';

test('the quickstart: synth prints the blue-green manifests', () => {
  const r = stepwise(['synth', '-f', 'examples/blue-green.yaml']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    docs(r.stdout).map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'Deployment/echoserver',
      'Service/echoserver-service',
      'Service/echoserver-service-canary',
      'Ingress/echoserver-ingress',
      'Rollout/echoserver',
    ],
  );
});

test('synth --output-dir DIR writes one file per app, says what it did, and leaves no stale file; --engine', () => {
  const dir = join(tmp(), 'out');
  const synth = (...files: string[]) =>
    stepwise(['synth', ...files.flatMap((f) => ['-f', f]), '--output-dir', dir, '--engine', 'kruise']);
  let r = synth('examples/blue-green.yaml', 'examples/canary-gateway.yaml');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ['echoserver.k8s.yaml', 'storefront.k8s.yaml']);
  assert.deepEqual(r.stderr.split('\n').filter(Boolean), [
    `wrote ${dir}/echoserver.k8s.yaml`,
    `wrote ${dir}/storefront.k8s.yaml`,
  ]);
  const rollout = docs(readFileSync(join(dir, 'storefront.k8s.yaml'), 'utf8')).find((o) => o.kind === 'Rollout');
  assert.equal(rollout.apiVersion, 'rollouts.kruise.io/v1beta1');
  // A later run with one app: the other app's file is stale; files synth did not write are left alone.
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  r = synth('examples/canary-gateway.yaml');
  assert.deepEqual(r.stderr.split('\n').filter(Boolean), [
    `removed ${dir}/echoserver.k8s.yaml (no app renders it now)`,
    `unchanged ${dir}/storefront.k8s.yaml`,
  ]);
  assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'storefront.k8s.yaml']);
});

test('-o is a format everywhere: synth -o json prints a v1 List; a closed pipe ends output quietly', () => {
  const list = JSON.parse(stepwise(['synth', '-f', 'examples/blue-green.yaml', '-o', 'json']).stdout);
  assert.deepEqual([list.apiVersion, list.kind, list.items.length], ['v1', 'List', 5]);
  // Far more than a pipe holds, so stepwise is still writing when head has gone.
  const blueGreen = readFileSync(`${ROOT}examples/blue-green.yaml`, 'utf8');
  const apps = Array.from({ length: 200 }, (_, i) => blueGreen.replace('name: echoserver', `name: echo${i}`));
  const command = `"${process.execPath}" bin/stepwise.js synth -f - | head -c 1`;
  const piped = spawnSync('sh', ['-c', command], { cwd: ROOT, encoding: 'utf8', input: apps.join('---\n') });
  assert.equal(piped.stderr, '', 'no EPIPE stack trace');
});

test('an invalid spec fails with FILE:LINE:COL: field: message, exit 1, and nothing written', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.yaml'), invalid);
  const out = join(dir, 'out');
  for (const command of [['validate'], ['synth', '--output-dir', out], ['plan']]) {
    const r = stepwise([...command, '-f', 'bad.yaml'], { cwd: dir });
    assert.equal(r.status, 1, command.join(' '));
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^bad\.yaml:8:51: spec\.rollout\.steps\[1\]\.traffic: shifting traffic needs a route \(an ingress or a gateway/m,
    );
    assert.match(
      r.stderr,
      /^bad\.yaml:8:39: spec\.rollout\.steps\[1\]\.replicas: replicas must not decrease: 1 after 2 in the step/m,
    );
    // validate never writes, so it does not say it did not.
    const summary = command[0] === 'validate' ? 'stepwise: 2 errors' : 'stepwise: 2 errors; nothing was written';
    assert.match(r.stderr, new RegExp(`^${summary}$`, 'm'));
  }
  assert.equal(existsSync(out), false);
});

test('layers from several files, and stdin', () => {
  const r = stepwise(['validate', '-f', 'examples/layers/base.yaml', '-f', '-'], {
    input: readFileSync(`${ROOT}examples/layers/prod.yaml`, 'utf8'),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^production\/api: valid \(canary, 5 steps, engine builtin; from examples\/layers\/base\.yaml \+ -\)$/m,
  );
});

test('plan: a table per app with the peak extra capacity, or JSON', () => {
  const table = stepwise(['plan', '-f', 'examples/blue-green.yaml']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^STEP {2}REPLICAS {2}NEW PODS {2}OLD PODS {2}TRAFFIC {2}MATCHES {2}PAUSE$/m);
  assert.match(table.stdout, /^2\/3 {3}100% {6}5 {9}5 {9}10% {6}- {8}approval$/m);
  assert.match(table.stdout, /^peak: 5 extra pods, requesting 500m CPU and 320Mi memory$/m);
  const json = JSON.parse(stepwise(['plan', '-f', 'examples/ab-test.yaml', '-o', 'json']).stdout);
  assert.deepEqual(
    json[0].steps.map((s: any) => s.canaryPods),
    [1, 2],
  );
});

test('schema prints the published JSON Schema; crd prints the builtin Rollout CRD', () => {
  // The schema as JSON: what editors and Ajv see (TypeBox's own metadata is not part of it).
  const published = JSON.parse(JSON.stringify(appSchema));
  assert.deepEqual(JSON.parse(stepwise(['schema']).stdout), published);
  assert.deepEqual(
    JSON.parse(readFileSync(`${ROOT}schema/app.schema.json`, 'utf8')),
    published,
    'schema/app.schema.json is stale: npm run schema:write',
  );
  const crd = parse(stepwise(['crd']).stdout);
  assert.equal(crd.kind, 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, 'rollouts.stepwise.dev');
});

test('init scaffolds a valid spec for every strategy and route, and never overwrites without --force', () => {
  const dir = tmp();
  for (const strategy of ['canary', 'blueGreen', 'abTest']) {
    for (const route of ['ingress', 'gateway']) {
      const file = `${strategy}-${route}.yaml`;
      const r = stepwise(['init', 'web', '-s', strategy, '--route', route, '--output-file', file], { cwd: dir });
      assert.equal(r.status, 0, `${file}: ${r.stderr}`);
      const v = stepwise(['validate', '-f', file], { cwd: dir });
      assert.equal(v.status, 0, `${file}: ${v.stderr}`);
      assert.equal(v.stderr, '', 'no warnings either');
    }
  }
  const again = stepwise(['init', 'web', '--output-file', 'canary-ingress.yaml'], { cwd: dir });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /canary-ingress\.yaml exists; pass --force to overwrite it/);
});

test('every command has --help with examples; unknown commands and options fail', () => {
  for (const command of ['validate', 'synth', 'plan', 'init', 'schema', 'crd']) {
    const r = stepwise([command, '--help']);
    assert.equal(r.status, 0, command);
    assert.match(r.stdout, /Examples:/, command);
  }
  const unknown = stepwise(['deploy']);
  assert.equal(unknown.status, 1);
  assert.equal(
    unknown.stderr,
    'stepwise: unknown command "deploy". Did you mean apply?\nsee `stepwise --help`\n',
    'the cause, not the whole help',
  );
  for (const flag of ['-h', '--help']) assert.match(stepwise([flag]).stdout, /^stepwise <command> \[options\]/);
  for (const args of [['-V'], ['--version'], ['version']])
    assert.match(stepwise(args).stdout, /^(stepwise )?\d+\.\d+\.\d+\n$/);
  assert.match(stepwise(['completion']).stdout, /stepwise-completions/);
  const typo = stepwise(['synth', '-f', 'examples/blue-green.yaml', '--engin', 'kruise']);
  assert.equal(typo.status, 1);
  assert.match(typo.stderr, /Unknown arguments?: engin/);
  const missing = stepwise(['synth']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /give at least one app spec with -f FILE/);
  const unreadable = stepwise(['validate', '-f', 'no/such.yaml']);
  assert.equal(unreadable.status, 1);
  assert.match(unreadable.stderr, /^stepwise: no\/such\.yaml: cannot read: no such file or directory$/m);
});

test('cluster commands without a kubeconfig say so in one line', () => {
  const home = tmp();
  const r = spawnSync(process.execPath, [`${ROOT}bin/stepwise.js`, 'status', 'web'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: home },
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'stepwise: no cluster in the kubeconfig: set KUBECONFIG or pass --kubeconfig\n');
});

test('examples carry a yaml-language-server modeline pointing at the published schema', () => {
  for (const f of ['blue-green.yaml', 'canary-gateway.yaml', 'ab-test.yaml']) {
    assert.match(
      readFileSync(`${ROOT}examples/${f}`, 'utf8'),
      /^# yaml-language-server: \$schema=\.\.\/schema\/app\.schema\.json$/m,
      f,
    );
  }
});

test('every option of every command says what it does in --help, and usage lines show -f FILE', () => {
  const commands = ['validate', 'synth', 'plan', 'init', 'install', 'apply', 'run', 'controller', 'status', 'promote'];
  for (const command of [...commands, 'abort', 'undo', 'schema', 'crd']) {
    const help = stepwise([command, '--help']).stdout;
    const options = help.split('\n').filter((l) => /^ {2}(-\w, )?--[\w-]+ /.test(l) || /^ {6}--[\w-]+ /.test(l));
    const bare = options.filter((l) => /^\s+(-\w, )?--[\w-]+\s+\[/.test(l));
    assert.deepEqual(bare, [], `${command}: options without a description`);
  }
  for (const command of ['validate', 'synth', 'plan', 'apply']) {
    assert.match(stepwise([command, '--help']).stdout, new RegExp(`^stepwise ${command} -f FILE\\.\\.\\.`, 'm'));
  }
});

test('install --dry-run prints the manifests without a cluster', () => {
  const r = spawnSync(
    process.execPath,
    [`${ROOT}bin/stepwise.js`, 'install', '--dry-run', '--webhook-url', 'https://127.0.0.1:9443'],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: tmp() },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const kinds = docs(r.stdout).map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  assert.ok(kinds.includes('CustomResourceDefinition//rollouts.stepwise.dev'), kinds.join(' '));
  assert.ok(kinds.includes('ServiceAccount/default/stepwise-reconciler'), kinds.join(' '));
  assert.ok(kinds.includes('MutatingWebhookConfiguration//stepwise-admission'), kinds.join(' '));
});
