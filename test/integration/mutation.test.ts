/**
 * A seeded mutation run over the examples: wrong types, out-of-range numbers, unicode and control characters,
 * invalid names, unknown and `__proto__` keys, deletions, deep nesting, duplicate keys and aliases. Every case must
 * end in located errors, or in objects the real API server accepts on a server-side dry run (both engines). A case
 * that throws, or takes longer than a person would wait, fails the run; so does output the API server refuses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { type Document, isMap, isSeq, parseDocument, type Node, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { formatIssue } from '../../src/appspec/errors.js';
import { loadApps, type SourceText } from '../../src/appspec/load.js';
import { KubeApiError } from '../../src/k8s/client.js';
import { renderApp } from '../../src/render/app.js';
import { createNamespace, useCluster } from '../support/kube.js';
import { ROOT } from '../support/paths.js';

const env = useCluster();

// MUTATION_SEED and MUTATION_CASES run other cases while exploring; CI runs these.
const SEED = Number(process.env.MUTATION_SEED ?? 20261127);
const CASES = Number(process.env.MUTATION_CASES ?? 300);
/** A case slower than this counts as a hang: far beyond any spec a person writes. */
const HANG_MS = 5000;

/** mulberry32: a small seeded generator, so a failing case can be replayed by its number. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXAMPLES: SourceText[][] = [
  ['examples/blue-green.yaml'],
  ['examples/canary-gateway.yaml'],
  ['examples/ab-test.yaml'],
  ['examples/layers/base.yaml', 'examples/layers/prod.yaml'],
].map((files) => files.map((file) => ({ file, text: readFileSync(`${ROOT}${file}`, 'utf8') })));

/** Replacement values for a leaf: each a kind of mistake the run found or a reader makes. */
const VALUES: unknown[] = [
  0,
  -1,
  1.5,
  2147483648,
  Number.POSITIVE_INFINITY,
  '',
  ' x ',
  'a b',
  'Ω',
  '1web',
  '-lead',
  'UPPER',
  'x.',
  '10.5%',
  '-5%',
  '150%',
  'lots',
  '-5Gi',
  'a'.repeat(300),
  '\u001b[31mred',
  'line\nbreak',
  '*',
  '..',
  'A=B',
  true,
  null,
  [],
  {},
  ['x'],
  { __proto__: null, nested: 1 },
];
const KEYS = ['__proto__', 'bad key!', 'Ω', 'unknownField', 'a'.repeat(100), 'x/y/z'];

/** The nodes of a document that hold a value, with how to replace or remove each. */
function slots(doc: Document) {
  const out: { replace: (v: unknown) => void; remove: () => void; node: Node }[] = [];
  const visit = (parent: YAMLMap | YAMLSeq) => {
    parent.items.forEach((item, i) => {
      const isPair = isMap(parent);
      const child = (isPair ? (item as { value: Node | null }).value : item) as Node | null;
      if (!child) return;
      out.push({
        node: child,
        replace: (v) => {
          const created = doc.createNode(v);
          if (isPair) (item as { value: unknown }).value = created;
          else parent.items[i] = created as never;
        },
        remove: () => parent.items.splice(i, 1),
      });
      if (isMap(child) || isSeq(child)) visit(child);
    });
  };
  const root = doc.contents;
  if (isMap(root) || isSeq(root)) visit(root);
  return out;
}

/** One mutation of one example's last layer, as text. */
function mutate(next: () => number, sources: SourceText[]): { what: string; sources: SourceText[] } {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const target = sources.at(-1)!;
  const text = target.text;
  const kind = next();
  const withText = (what: string, mutated: string) => ({
    what,
    sources: [...sources.slice(0, -1), { file: target.file, text: mutated }],
  });
  if (kind < 0.08) {
    const at = Math.floor(next() * text.length);
    const inserted = pick(['\u0000', '\u001b', '\r', '\t', '"', '[', '{', '&a ', '*a ', ': ', '- ', '---\n']);
    return withText(`insert ${JSON.stringify(inserted)} at ${at}`, text.slice(0, at) + inserted + text.slice(at));
  }
  if (kind < 0.12) return withText('truncate', text.slice(0, Math.floor(next() * text.length)));
  if (kind < 0.14) return withText('nest 200 deep', `${text}extra: ${'['.repeat(200)}${']'.repeat(200)}\n`);
  if (kind < 0.16) {
    const line = pick(text.split('\n').filter((l) => /^\s+\w+:/.test(l)));
    return withText(`duplicate ${line.trim()}`, text.replace(line, `${line}\n${line}`));
  }
  const doc = parseDocument(text);
  const all = slots(doc);
  const slot = pick(all);
  const path = String((slot.node as Scalar).range?.[0]);
  if (kind < 0.75) {
    const value = pick(VALUES);
    slot.replace(value);
    return withText(`at offset ${path}: ${JSON.stringify(value)?.slice(0, 40)}`, doc.toString());
  }
  if (kind < 0.85) {
    slot.remove();
    return withText(`remove the value at offset ${path}`, doc.toString());
  }
  const maps = all.map((s) => s.node).filter((n): n is YAMLMap => isMap(n));
  const map = pick(maps);
  const key = pick(KEYS);
  map.set(doc.createNode(key), doc.createNode(pick(VALUES)));
  return withText(`add key ${JSON.stringify(key)}`, doc.toString());
}

interface Outcome {
  readonly case: number;
  readonly what: string;
  readonly detail: string;
}

test(`${CASES} seeded mutations of the examples: located errors, or objects the API server accepts`, async () => {
  const { client } = env;
  const next = random(SEED);
  const outcomes = { error: 0, valid: 0, crash: [] as Outcome[], hang: [] as Outcome[], unlocated: [] as Outcome[] };
  const refused: Outcome[] = [];
  const namespaces = new Set<string>();
  for (let n = 0; n < CASES; n++) {
    const { what, sources } = mutate(next, EXAMPLES[n % EXAMPLES.length]!);
    const started = performance.now();
    let result: ReturnType<typeof loadApps>;
    try {
      result = loadApps(sources);
      for (const { app } of result.apps) for (const engine of ['builtin', 'kruise'] as const) renderApp(app, engine);
    } catch (e) {
      outcomes.crash.push({ case: n, what, detail: (e as Error).stack ?? String(e) });
      continue;
    }
    if (performance.now() - started > HANG_MS) outcomes.hang.push({ case: n, what, detail: '' });
    const errors = result.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) {
      outcomes.error++;
      const unlocated = errors.filter((i) => !i.location?.file);
      if (unlocated.length) outcomes.unlocated.push({ case: n, what, detail: unlocated.map(formatIssue).join('\n') });
      continue;
    }
    outcomes.valid++;
    for (const { app } of result.apps) {
      if (!namespaces.has(app.namespace)) {
        await createNamespace(client, app.namespace);
        namespaces.add(app.namespace);
      }
      for (const engine of ['builtin', 'kruise'] as const) {
        for (const object of renderApp(app, engine)) {
          await client.apply(object, { dryRun: true, force: true }).catch((e: unknown) => {
            if (!(e instanceof KubeApiError) || e.status >= 500) throw e;
            refused.push({ case: n, what, detail: `${engine} ${object.kind}/${object.metadata.name}: ${e.message}` });
          });
        }
      }
    }
  }
  const line = (o: Outcome) => `case ${o.case} (${o.what}): ${o.detail}`;
  process.stderr.write(
    `mutation run, seed ${SEED}: ${CASES} cases: ${outcomes.error} located errors, ${outcomes.valid} valid and ` +
      `accepted by the API server; crashes ${outcomes.crash.length}, hangs ${outcomes.hang.length}, unlocated ` +
      `${outcomes.unlocated.length}, refused by the API server ${refused.length}\n`,
  );
  assert.deepEqual(outcomes.crash.map(line), [], 'crashes');
  assert.deepEqual(outcomes.hang.map(line), [], `cases over ${HANG_MS} ms`);
  assert.deepEqual(outcomes.unlocated.map(line), [], 'errors without a file');
  assert.deepEqual(refused.map(line), [], 'accepted by Stepwise, refused by Kubernetes');
  assert.ok(outcomes.valid > 0 && outcomes.error > 0, 'the run exercised both outcomes');
});
