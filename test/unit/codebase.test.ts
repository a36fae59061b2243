import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../support/paths.js';

/**
 * The layers of `src/`, lowest first. A module imports only from its own layer and the ones below it, so the
 * dependency direction is one way and the folders show it: Kubernetes plumbing, the app spec, the plan, the
 * pure object builders, metric analysis, the engines, rendering, the Helm post-renderer and the KubeVela trait over
 * it, then what acts on a cluster, and the CLI on top.
 */
const LAYERS = [
  'k8s',
  'appspec',
  'plan',
  'traffic',
  'analysis',
  'engines',
  'render',
  'helm',
  'kubevela',
  'reconciler',
  'apply',
  'webhook',
  'install',
  'cli',
];

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const layerOf = (file: string) => relative(`${ROOT}src`, file).split('/')[0]!;

test('every module of src/ imports only from its own layer and the layers below it', () => {
  const violations: string[] = [];
  for (const file of modules(`${ROOT}src`)) {
    const from = layerOf(file);
    if (from === 'index.ts') continue; // the library's entry point re-exports every layer
    assert.ok(LAYERS.includes(from), `${relative(ROOT, file)}: folder ${from} is in no layer`);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const to = layerOf(resolve(dirname(file), spec!));
      if (LAYERS.indexOf(to) > LAYERS.indexOf(from))
        violations.push(`${relative(ROOT, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('no line of code is longer than 120 characters (the formatter cannot break strings and comments)', () => {
  const trees = ['src', 'constructs', 'test', 'bench', 'tools', 'examples/cdk8s'];
  const long = trees
    .flatMap((tree) => modules(`${ROOT}${tree}`))
    .filter((file) => !file.includes('/constructs/imports/'))
    .flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.length > 120 ? [`${relative(ROOT, file)}:${i + 1}: ${line.length}`] : [])),
    );
  assert.deepEqual(long, []);
});
