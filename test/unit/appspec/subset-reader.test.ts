import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isScalar, parseDocument } from 'yaml';
import { INPUT_LIMITS, parseGeneral, parseSource } from '../../../src/appspec/source.js';
import { readSubset, resolvePlain } from '../../../src/appspec/subset-reader.js';
import { ROOT } from '../../support/paths.js';

/**
 * The subset reader must give exactly what the general parser gives for every text it accepts (values, locations of
 * every value and key, `!default` marks), and leave everything else to it. Compared on the shipped examples and on
 * generated documents that mix the subset with what lies just outside it.
 */

const read = (text: string) => readSubset(text, 'f.yaml', INPUT_LIMITS);

function assertSameAsGeneral(text: string): void {
  const fast = read(text);
  assert.ok(fast, `the subset reader should accept:\n${text}`);
  assert.deepEqual({ documents: fast, issues: [] }, parseGeneral(text, 'f.yaml'), text);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));
}

test('every example is read by the subset reader, as the general parser reads it', () => {
  const files = yamlFiles(join(ROOT, 'examples'));
  assert.ok(files.length >= 5);
  for (const file of files) assertSameAsGeneral(readFileSync(file, 'utf8'));
});

test('text beyond the subset, and every problem, is left to the general parser', () => {
  const outside = {
    anchor: 'a: &x 1\nb: *x\n',
    'block scalar': 'a: |\n  text\n',
    'folded scalar': 'a: >\n  text\n',
    'plain scalar over two lines': 'a: one\n  two\n',
    'quoted scalar over two lines': 'a: "one\n  two"\n',
    'flow map over two lines': 'a: {x: 1,\n  y: 2}\n',
    tab: 'a:\tb\n',
    'carriage return': 'a: b\r\nc: d\r\n',
    'other tag': 'a: !!str 1\n',
    'tagged empty value': 'a: !default\nb: 1\n',
    directive: '%YAML 1.2\n---\na: 1\n',
    'document end': 'a: 1\n...\n',
    'explicit key': '? a\n: 1\n',
    'list on a list item': '- - a\n',
    'map on a value line': 'a: b: c\n',
    'duplicate key': 'a: 1\na: 2\n',
    'duplicate flow key': 'a: {x: 1, x: 2}\n',
    'trailing comma': 'a: [1, 2,]\n',
    'YAML-only escape': 'a: "\\x41"\n',
    'unclosed quote': 'a: "b\n',
    'deeper line after a scalar': 'a: 1\n  b: 2\n',
    'root indented': '  a: 1\n',
    'root scalar': 'just text\n',
    'too deep': `a: ${'['.repeat(INPUT_LIMITS.depth + 1)}${']'.repeat(INPUT_LIMITS.depth + 1)}\n`,
    'too many keys': `a: {${Array.from({ length: INPUT_LIMITS.keys + 1 }, (_, i) => `k${i}: 1`).join(', ')}}\n`,
    'byte-order mark': '\ufeffa: 1\n',
  };
  for (const [what, text] of Object.entries(outside)) {
    assert.equal(read(text), undefined, what);
    assert.deepEqual(parseSource(text, 'f.yaml'), parseGeneral(text, 'f.yaml'), what);
  }
});

test('plain scalars resolve as the general parser resolves them (YAML 1.2 core schema)', () => {
  const big = ['12345678901234567890', '0x1FFFFFFFFFFFFFFFF', '1e400', '-0', '+0', '-0.0', '00', '0o', '0x', '0o8'];
  const other = ['', '+.inf', '+.Inf', '.NAN', 'NaN', 'Infinity', 'nULL', 'tRUE', '1.', '1.e5', '.e5', '+', '-', '.'];
  let compared = 0;
  for (const source of [...SCALARS, ...big, ...other]) {
    const read = parseDocument(source).contents;
    // Only what the parser reads as a plain scalar (others are quoted, tagged or not scalars at all).
    if (source !== '' && !(isScalar(read) && read.type === 'PLAIN' && !read.tag)) continue;
    assert.deepEqual(resolvePlain(source), isScalar(read) ? read.value : null, JSON.stringify(source));
    compared++;
  }
  assert.ok(compared > 50, `${compared}`);
});

/** A seeded generator (mulberry32), so a failure names a document that can be made again. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scalars as written, including ones the core schema reads as other types and ones just outside the subset. */
const SCALARS = [
  'web',
  'web:1',
  'registry.example.com/app:1.0.3',
  'http://x.example.com/a?b=c',
  '20%',
  '100m',
  '1',
  '-1',
  '+1',
  '012',
  '1.0',
  '.5',
  '1e3',
  '-1.5E-2',
  '0x1F',
  '0o17',
  '1_000',
  '.inf',
  '-.Inf',
  '.NaN',
  '~',
  'null',
  'Null',
  'true',
  'False',
  'TRUE',
  'yes',
  'on',
  'a#b',
  'a b  c',
  'a-b',
  '-x',
  'x:',
  ':x',
  '?x',
  '"quoted"',
  '"with \\"escapes\\" and \\u00e9"',
  '"a: b"',
  '"\\x41"',
  "'single'",
  "'it''s'",
  "'a # b'",
  '""',
  "''",
  '!default 3',
  '!default web',
  '!default "q"',
];
/** Scalars (and the starts of other nodes) outside the subset, or wrong. */
const OUTSIDE = ['"unclosed', '!other x', '&anchor x', '*alias', '|', '>-', '%x', '@x', '`x', 'a, b', 'a]', 'a: b'];
const KEYS = [
  'a',
  'b',
  'name',
  'image',
  'x y',
  'a#b',
  '-k',
  '1',
  '1.0',
  'null',
  'true',
  '"q k"',
  "'s k'",
  'k:x',
  '"a"',
];
const FLOW_SCALARS = SCALARS.filter((s) => !s.startsWith('!'));

function generator(next: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const chance = (p: number) => next() < p;
  const space = () => (chance(0.9) ? ' ' : pick(['  ', '   ']));
  const scalar = (inFlow: boolean) => (chance(0.03) ? pick(OUTSIDE) : pick(inFlow ? FLOW_SCALARS : SCALARS));
  let keys = 0;
  const key = () => (chance(0.3) ? pick(KEYS) : `key${keys++}`);
  const comment = () => (chance(0.15) ? `${space()}# ${pick(['note', 'a: b', '- x', "'"])}` : '');

  function flow(depth: number): string {
    if (depth > 2 || chance(0.4)) return scalar(true);
    const n = Math.floor(next() * 4);
    const items = Array.from({ length: n }, () =>
      chance(0.5) ? `${key()}:${space()}${flow(depth + 1)}` : flow(depth + 1),
    );
    const isMap = chance(0.6);
    const body = isMap ? items.map((i) => (i.includes(': ') ? i : `${i}: 1`)) : items;
    const sep = chance(0.95) ? `,${space()}` : ',';
    const trailing = chance(0.03) ? ',' : '';
    const inner = `${chance(0.2) ? ' ' : ''}${body.join(sep)}${trailing}${chance(0.2) ? ' ' : ''}`;
    return isMap ? `{${inner}}` : `[${inner}]`;
  }

  function inline(depth: number): string {
    return chance(0.3) ? flow(depth) : scalar(false);
  }

  /** Lines of a block map or list at `indent`. */
  function block(indent: number, depth: number): string[] {
    const pad = ' '.repeat(indent);
    const lines: string[] = [];
    const isList = depth > 0 && chance(0.35);
    const n = 1 + Math.floor(next() * 4);
    for (let i = 0; i < n; i++) {
      if (chance(0.08)) lines.push(chance(0.5) ? '' : `${' '.repeat(Math.floor(next() * 6))}# comment`);
      if (isList) lines.push(...listItem(pad, indent, depth));
      else lines.push(...entry(`${pad}${key()}:`, indent, depth));
    }
    return lines;
  }

  function listItem(pad: string, indent: number, depth: number): string[] {
    if (depth < 4 && chance(0.3)) {
      // A map starting on the item's line, its other keys under the first.
      const [first, ...rest] = block(indent + 2, depth + 1);
      return [`${pad}-${first?.slice(indent + 1) ?? ''}`, ...rest];
    }
    return entry(`${pad}-`, indent, depth);
  }

  /** A key's or list item's value: on its line, or below it. */
  function entry(head: string, indent: number, depth: number): string[] {
    if (depth < 4 && chance(0.3)) {
      const tag = chance(0.1) ? ' !default' : '';
      const below = chance(0.8) ? indent + pick([1, 2, 2, 2, 4]) : indent;
      return [`${head}${tag}${comment()}`, ...block(below, depth + 1)];
    }
    if (chance(0.08)) return [`${head}${chance(0.5) ? ' ' : ''}${comment()}`];
    return [`${head}${space()}${inline(depth)}${chance(0.05) ? ' ' : ''}${comment()}`];
  }

  return function documents(): string {
    const count = 1 + Math.floor(next() * 3);
    const docs = Array.from({ length: count }, () => block(0, 0).join('\n'));
    const start = chance(0.2) ? '---\n' : '';
    return `${start}${docs.join(pick(['\n---\n', '\n--- # next\n', '\n---\n\n']))}${chance(0.9) ? '\n' : ''}`;
  };
}

test('generated documents: whatever the subset reader accepts, it reads as the general parser does', () => {
  const seed = Number(process.env.SUBSET_SEED ?? 20261206);
  const documents = generator(random(seed));
  const counts = { accepted: 0, left: 0 };
  for (let i = 0; i < 4000; i++) {
    const text = documents();
    const fast = read(text);
    if (!fast) {
      counts.left++;
      continue;
    }
    counts.accepted++;
    assert.deepEqual(
      { documents: fast, issues: [] },
      parseGeneral(text, 'f.yaml'),
      `document ${i} of seed ${seed}:\n${text}`,
    );
  }
  // Both paths must be exercised for the comparison to mean anything.
  assert.ok(counts.accepted > 800 && counts.left > 800, JSON.stringify(counts));
});

test('a file of many documents is read by the subset reader, lines counted across them', () => {
  const app = readFileSync(join(ROOT, 'examples/canary-gateway.yaml'), 'utf8');
  assertSameAsGeneral(Array.from({ length: 50 }, () => app).join('---\n'));
});
