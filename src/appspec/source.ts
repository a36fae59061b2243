import type { CST, Document, LineCounter, Node, Scalar, YAMLMap } from 'yaml';
import { joinPath, type SourceLocation, type SpecIssue } from './errors.js';
import { DEFAULT_TAG, readSubset, resolvePlain } from './subset-reader.js';
import { yaml } from './yaml-library.js';

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
 * What an app spec file may hold. Specs are small (an app is about 600 bytes); the limits keep a hostile or
 * mistaken file from costing more than a moment, and each is reported naming the file. Documented in the README.
 */
export const INPUT_LIMITS = {
  /** Bytes per file: a thousand apps fit in a tenth of it. */
  bytes: 1024 * 1024,
  /** Nesting of maps and lists; an app spec needs fewer than 10. */
  depth: 64,
  /** Keys in one map (labels, env, annotations). */
  keys: 1000,
  /** Problems reported per file; more are counted, not listed. */
  issues: 100,
} as const;

export interface ParsedSource {
  readonly documents: SourceDocument[];
  readonly issues: SpecIssue[];
}

/**
 * Parses every document of a (possibly multi-document) YAML text, keeping source positions: with the subset reader
 * when the text is written as app specs are, else with the general parser, which also reports every problem.
 * Syntax errors are returned as issues rather than thrown, so a caller can report all files at once.
 */
export function parseSource(text: string, file: string): ParsedSource {
  const bytes = Buffer.byteLength(text);
  if (bytes > INPUT_LIMITS.bytes) {
    const message = `is ${bytes} bytes; an app spec file may have at most ${INPUT_LIMITS.bytes}`;
    return { documents: [], issues: [{ location: { file }, path: '', message, severity: 'error' }] };
  }
  // Line breaks as YAML defines them (CR, LF, CRLF); the parser knows only the last two.
  const lf = text.replace(/\r(?!\n)/g, '\n');
  const documents = readSubset(lf, file, INPUT_LIMITS);
  return documents ? { documents, issues: [] } : parseGeneral(lf, file);
}

/** `parseSource` with `yaml`'s general parser. */
export function parseGeneral(text: string, file: string): ParsedSource {
  const issues = new IssueList(file);
  const lines = new (yaml().LineCounter)();
  const at = (offset: number): SourceLocation => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const documents: SourceDocument[] = [];
  const reading = { syntaxErrors: 0 };
  let parsed: Document.Parsed[];
  try {
    parsed = readDocuments(text, lines, reading);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    issues.add({ file }, '', TOO_DEEP);
    return { documents: [], issues: issues.all() };
  }
  issues.stoppedReading = reading.syntaxErrors > INPUT_LIMITS.issues;
  for (const doc of parsed) {
    for (const e of doc.errors) issues.add(at(e.pos[0]), '', `YAML syntax: ${syntaxMessage(e.message)}`);
    for (const w of doc.warnings) {
      if (w.code === 'TAG_RESOLVE_FAILED' && w.message.includes(DEFAULT_TAG)) continue;
      issues.add(at(w.pos[0]), '', `YAML: ${firstLine(w.message)}`, 'warning');
    }
    // An empty document (a trailing `---`, a comment) holds no app, as kubectl skips it.
    if (
      doc.errors.length > 0 ||
      doc.contents === null ||
      (yaml().isScalar(doc.contents) && doc.contents.value === null)
    )
      continue;
    const root = convert(doc.contents as Node, { at, issues }, [], 0);
    if (root) documents.push({ file, root });
  }
  return { documents, issues: issues.all() };
}

/**
 * The YAML documents of a text, read as a stream that stops after `INPUT_LIMITS.issues` syntax errors (a file of
 * nothing but errors would otherwise cost seconds a megabyte). Errors are made without stack traces: the parser
 * makes one per problem, and the trace costs most of it.
 */
function readDocuments(text: string, lines: LineCounter, reading: { syntaxErrors: number }): Document.Parsed[] {
  function* untilTooManyErrors(tokens: Generator<CST.Token>): Generator<CST.Token> {
    for (const token of tokens) {
      if (token.type === 'error' && ++reading.syntaxErrors > INPUT_LIMITS.issues) return;
      yield token;
    }
  }
  const traces = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // Duplicate keys are found by `convert` in linear time (the composer's own check is quadratic).
    const { Composer, Parser } = yaml();
    const composer = new Composer({ prettyErrors: false, uniqueKeys: false });
    const tokens = untilTooManyErrors(new Parser(lines.addNewLine).parse(text));
    return [...composer.compose(tokens, true, text.length)] as Document.Parsed[];
  } finally {
    Error.stackTraceLimit = traces;
  }
}

const TOO_DEEP = `nested more than ${INPUT_LIMITS.depth} levels deep; an app spec needs far fewer`;

/** The parser's own message, except a JavaScript stack overflow, which means the nesting is too deep. */
function syntaxMessage(message: string): string {
  return /call stack/i.test(message) ? TOO_DEEP : firstLine(message);
}

/** A file's issues, listed up to `INPUT_LIMITS.issues` and counted beyond. */
class IssueList {
  private readonly listed: SpecIssue[] = [];
  private unlisted = 0;
  /** Set when reading stopped early: said last. */
  stoppedReading = false;

  constructor(private readonly file: string) {}

  add(location: SourceLocation, path: string, message: string, severity: SpecIssue['severity'] = 'error'): void {
    if (this.listed.length < INPUT_LIMITS.issues) this.listed.push({ location, path, message, severity });
    else this.unlisted++;
  }

  all(): SpecIssue[] {
    const notes: string[] = [];
    const n = this.unlisted;
    if (n > 0) notes.push(`${n} more problem${n === 1 ? '' : 's'} not listed (at most ${INPUT_LIMITS.issues} are)`);
    if (this.stoppedReading) notes.push(`reading stopped after ${INPUT_LIMITS.issues} YAML syntax errors`);
    const location = { file: this.file };
    return [...this.listed, ...notes.map((message) => ({ location, path: '', message, severity: 'error' as const }))];
  }
}

interface Converting {
  readonly at: (offset: number) => SourceLocation;
  readonly issues: IssueList;
}

function convert(node: Node, c: Converting, path: (string | number)[], depth: number): SourceNode | undefined {
  const location = c.at(node.range?.[0] ?? 0);
  const isDefault = node.tag === DEFAULT_TAG;
  if (depth > INPUT_LIMITS.depth) {
    c.issues.add(location, joinPath(path), TOO_DEEP);
    return undefined;
  }
  const { isAlias, isMap, isSeq } = yaml();
  if (isAlias(node)) {
    c.issues.add(
      location,
      joinPath(path),
      'YAML aliases are not supported in app specs; repeat the value or use a layer',
    );
    return undefined;
  }
  if (isMap(node)) return convertMap(node, c, path, depth, isDefault);
  if (isSeq(node)) {
    const items: SourceNode[] = [];
    node.items.forEach((item, i) => {
      const converted = convert(item as Node, c, [...path, i], depth + 1);
      if (converted) items.push(converted);
    });
    return { kind: 'seq', items, location, isDefault };
  }
  const scalar = node as Scalar;
  let value = scalar.value as ScalarNode['value'];
  // An unresolved custom tag leaves plain scalars as strings; resolve them as the core schema would.
  if (isDefault && scalar.type === 'PLAIN' && typeof value === 'string') value = resolvePlain(value);
  return { kind: 'scalar', value, location, isDefault };
}

function convertMap(
  node: YAMLMap,
  c: Converting,
  path: (string | number)[],
  depth: number,
  isDefault: boolean,
): MapNode | undefined {
  const location = c.at(node.range?.[0] ?? 0);
  if (node.items.length > INPUT_LIMITS.keys) {
    c.issues.add(
      location,
      joinPath(path),
      `has ${node.items.length} keys; a map may have at most ${INPUT_LIMITS.keys}`,
    );
    return undefined;
  }
  const entries = new Map<string, SourceNode>();
  const keyLocations = new Map<string, SourceLocation>();
  for (const pair of node.items) {
    const key = yaml().isScalar(pair.key) ? String(pair.key.value) : undefined;
    const keyLocation = c.at((pair.key as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0);
    if (key === undefined) {
      c.issues.add(keyLocation, joinPath(path), 'map keys must be plain strings');
      continue;
    }
    const first = keyLocations.get(key);
    if (first) {
      const firstAt = `${first.line}:${first.col}`;
      c.issues.add(keyLocation, joinPath([...path, key]), `duplicate key (first written at ${firstAt})`);
      continue;
    }
    keyLocations.set(key, keyLocation);
    const value =
      pair.value === null
        ? { kind: 'scalar' as const, value: null, location: keyLocation, isDefault: false }
        : convert(pair.value as Node, c, [...path, key], depth + 1);
    if (value) entries.set(key, value);
  }
  return { kind: 'map', entries, keyLocations, location, isDefault };
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
      for (const [k, value] of node.entries) {
        const plain = toPlain(value, locations, `${pointer}/${escapePointer(k)}`, node.keyLocations.get(k));
        // Defined, not assigned: a key `__proto__` is a field like any other (reported unknown), never a prototype.
        Object.defineProperty(out, k, { value: plain, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
