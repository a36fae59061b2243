import { LineCounter, parse, parseAllDocuments, isMap, isScalar, isSeq, isAlias, type Node, type Scalar } from 'yaml';
import type { SourceLocation, SpecIssue } from './errors.js';

/** The tag that marks a value as replaceable by a later layer (CUE's `*value` default marker). */
export const DEFAULT_TAG = '!default';

interface NodeBase {
  readonly location: SourceLocation;
  /** True when tagged `!default`: a later layer may replace it. */
  readonly isDefault: boolean;
}
export interface ScalarNode extends NodeBase {
  readonly kind: 'scalar';
  readonly value: string | number | boolean | null;
}
export interface MapNode extends NodeBase {
  readonly kind: 'map';
  readonly entries: ReadonlyMap<string, SourceNode>;
  /** Where each key is written: the place to point at for a whole-field problem. */
  readonly keyLocations: ReadonlyMap<string, SourceLocation>;
}
export interface SeqNode extends NodeBase {
  readonly kind: 'seq';
  readonly items: readonly SourceNode[];
}
/** A YAML value that remembers where it was written, so every error can point at a file, line and column. */
export type SourceNode = ScalarNode | MapNode | SeqNode;

/** A parsed YAML document with its location. */
export interface SourceDocument {
  readonly file: string;
  readonly root: SourceNode;
}

/**
 * Parses every document of a (possibly multi-document) YAML text, keeping source positions.
 * Syntax errors are returned as issues rather than thrown, so a caller can report all files at once.
 */
export function parseSource(text: string, file: string): { documents: SourceDocument[]; issues: SpecIssue[] } {
  const lines = new LineCounter();
  const at = (offset: number): SourceLocation => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const documents: SourceDocument[] = [];
  const issues: SpecIssue[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines, prettyErrors: false })) {
    for (const e of doc.errors) {
      issues.push({
        location: at(e.pos[0]),
        path: '',
        message: `YAML syntax: ${firstLine(e.message)}`,
        severity: 'error',
      });
    }
    for (const w of doc.warnings) {
      if (w.code === 'TAG_RESOLVE_FAILED' && w.message.includes(DEFAULT_TAG)) continue;
      issues.push({ location: at(w.pos[0]), path: '', message: `YAML: ${firstLine(w.message)}`, severity: 'warning' });
    }
    if (doc.errors.length > 0 || doc.contents === null) continue;
    const root = convert(doc.contents as Node, at, issues);
    if (root) documents.push({ file, root });
  }
  return { documents, issues };
}

function convert(node: Node, at: (offset: number) => SourceLocation, issues: SpecIssue[]): SourceNode | undefined {
  const location = at(node.range?.[0] ?? 0);
  const isDefault = node.tag === DEFAULT_TAG;
  if (isAlias(node)) {
    issues.push({
      location,
      path: '',
      message: 'YAML aliases are not supported in app specs; repeat the value or use a layer',
      severity: 'error',
    });
    return undefined;
  }
  if (isMap(node)) {
    const entries = new Map<string, SourceNode>();
    const keyLocations = new Map<string, SourceLocation>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      const keyLocation = at((pair.key as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0);
      if (key === undefined) {
        issues.push({ location: keyLocation, path: '', message: 'map keys must be plain strings', severity: 'error' });
        continue;
      }
      const value =
        pair.value === null
          ? { kind: 'scalar' as const, value: null, location: keyLocation, isDefault: false }
          : convert(pair.value as Node, at, issues);
      if (value) {
        entries.set(key, value);
        keyLocations.set(key, keyLocation);
      }
    }
    return { kind: 'map', entries, keyLocations, location, isDefault };
  }
  if (isSeq(node)) {
    const items: SourceNode[] = [];
    for (const item of node.items) {
      const converted = convert(item as Node, at, issues);
      if (converted) items.push(converted);
    }
    return { kind: 'seq', items, location, isDefault };
  }
  const scalar = node as Scalar;
  let value = scalar.value as ScalarNode['value'];
  // An unresolved custom tag leaves plain scalars as strings; resolve them as the core schema would.
  if (isDefault && scalar.type === 'PLAIN' && typeof value === 'string') value = parse(value) as ScalarNode['value'];
  return { kind: 'scalar', value, location, isDefault };
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}

/** Where a field is written: its value, and its key when it has one. */
export interface FieldLocation {
  readonly value: SourceLocation;
  readonly key?: SourceLocation;
}

/**
 * Converts a source tree to plain JSON, recording where every field is written by JSON pointer. A map or
 * list value is located at its key, where the reader sees the field begin.
 */
export function toPlain(
  node: SourceNode,
  locations: Map<string, FieldLocation>,
  pointer = '',
  key?: SourceLocation,
): unknown {
  locations.set(pointer, { value: key && node.kind !== 'scalar' ? key : node.location, ...(key ? { key } : {}) });
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map((item, i) => toPlain(item, locations, `${pointer}/${i}`));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, value] of node.entries)
        out[k] = toPlain(value, locations, `${pointer}/${escapePointer(k)}`, node.keyLocations.get(k));
      return out;
    }
  }
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
