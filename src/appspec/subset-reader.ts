import type { SourceLocation } from './errors.js';
import type { MapNode, ScalarNode, SeqNode, SourceDocument, SourceNode } from './source.js';

/** The tag that marks a value as replaceable by a later layer (CUE's `*value` default marker). */
export const DEFAULT_TAG = '!default';

/**
 * A plain scalar's value under YAML 1.2's core schema (the spec's tag resolution, and `yaml`'s default): null,
 * booleans, integers in base 10, 8 (0o) and 16 (0x), floats with infinities and NaN, else the string itself.
 */
export function resolvePlain(source: string): ScalarNode['value'] {
  if (source !== '' && !/^[-+.~0-9nNtTfF]/.test(source)) return source; // Most values: only a string can start so.
  if (/^(?:~|null|Null|NULL)?$/.test(source)) return null;
  if (/^(?:true|True|TRUE|false|False|FALSE)$/.test(source)) return source[0] === 't' || source[0] === 'T';
  if (/^[-+]?[0-9]+$/.test(source)) return Number.parseInt(source, 10);
  if (/^0o[0-7]+$/.test(source)) return Number.parseInt(source.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(source)) return Number.parseInt(source.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(source)) return Number.parseFloat(source);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(source)) return source[0] === '-' ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(source)) return Number.NaN;
  return source;
}

export interface SubsetLimits {
  /** Nesting of maps and lists. */
  readonly depth: number;
  /** Keys in one map. */
  readonly keys: number;
}

/**
 * Reads the part of YAML app specs are written in, about ten times faster than the general parser: block maps and
 * lists (a map may start on a list item's line), one-line flow collections and scalars (plain, single- and
 * double-quoted), comments, `---` between documents and the `!default` tag. Returns undefined on anything else
 * (anchors, block scalars, multi-line scalars, other tags, tabs, directives) and on every problem (a syntax error,
 * a duplicate key, a limit passed), so that the general parser reads the text and reports what it must. For text
 * it accepts, it gives exactly what the general path gives (a test compares them on generated documents).
 */
export function readSubset(text: string, file: string, limits: SubsetLimits): SourceDocument[] | undefined {
  // Tabs, carriage returns, a byte-order mark, control and YAML 1.1 line-break characters: left to the parser.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029\ufeff]/.test(text)) return undefined;
  try {
    return new SubsetReader(text, file, limits).documents();
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

/** Thrown by the subset reader when the text goes beyond the subset. */
class Unsupported extends Error {}

const unsupported = (): never => {
  throw new Unsupported();
};

/** A line with content: its number, where it starts, its indentation and where it ends (its line break or the end). */
interface Line {
  readonly number: number;
  readonly start: number;
  readonly indent: number;
  readonly end: number;
}

/** Characters that cannot start a plain scalar here ("-" can, followed by a non-space, as in -1). */
const INDICATORS = new Set('?:,[]{}#&*!|>\'"%@`');
const FLOW_ENDS = new Set(',[]{}');
/** YAML's limit on an implicit key. */
const MAX_KEY_LENGTH = 1024;

interface Key {
  readonly name: string;
  readonly location: SourceLocation;
  /** The offset of the ":" after it. */
  readonly colon: number;
}

class SubsetReader {
  /** Start of the next unread line, and its number. */
  private at = 0;
  private lineNumber = 1;
  /** Nesting of the values being read (the document's root is 0). */
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly limits: SubsetLimits,
  ) {}

  documents(): SourceDocument[] {
    const documents: SourceDocument[] = [];
    let line = this.peek();
    for (;;) {
      if (line && this.isDocumentStart(line)) {
        this.consume(line, line.start + 3);
        line = this.peek();
        if (!line || this.isDocumentStart(line)) continue; // An empty document.
      }
      if (!line) return documents;
      if (line.indent !== 0) unsupported();
      documents.push({ file: this.file, root: this.block(line) });
      line = this.peek();
      if (line && !this.isDocumentStart(line)) unsupported();
    }
  }

  /** The next line with content (skipping blank and comment lines), without consuming it. */
  private peek(): Line | undefined {
    const { text } = this;
    while (this.at < text.length) {
      let end = text.indexOf('\n', this.at);
      if (end < 0) end = text.length;
      let content = this.at;
      while (text.charCodeAt(content) === 32) content++;
      if (content < end && text[content] !== '#') {
        return { number: this.lineNumber, start: this.at, indent: content - this.at, end };
      }
      this.at = end + 1;
      this.lineNumber++;
    }
    return undefined;
  }

  /** Moves past a line whose content ends at `from`, which leaves only spaces and a comment. */
  private consume(line: Line, from: number): void {
    if (!this.atEnd(this.spaces(from), line)) unsupported();
    this.at = line.end + 1;
    this.lineNumber++;
  }

  private location(line: Line, at: number): SourceLocation {
    return { file: this.file, line: line.number, col: at - line.start + 1 };
  }

  private isDocumentStart(line: Line): boolean {
    return line.indent === 0 && this.text.startsWith('---', line.start) && this.endsWord(line.start + 3, line);
  }

  /** True at a space or the line's end. */
  private endsWord(at: number, line: Line): boolean {
    return at === line.end || this.text[at] === ' ';
  }

  private spaces(from: number): number {
    while (this.text.charCodeAt(from) === 32) from++;
    return from;
  }

  /** True at the end of a line's content: its end, or a comment. */
  private atEnd(at: number, line: Line): boolean {
    return at >= line.end || (this.text[at] === '#' && this.text[at - 1] === ' ');
  }

  /** Where a comment starts (the space before its "#") after `from` and before `end`, or `end`. */
  private commentStart(from: number, end: number): number {
    for (let i = from + 1; i < end; i++) if (this.text[i] === '#' && this.text[i - 1] === ' ') return i - 1;
    return end;
  }

  /** Enters a collection: its values are one level deeper. */
  private enter(): void {
    if (++this.depth > this.limits.depth) unsupported();
  }

  /** A block collection starting at a line's content. */
  private block(line: Line): SourceNode {
    const content = line.start + line.indent;
    return this.isListItem(content, line) ? this.list(line) : this.map(line, line.indent, content);
  }

  private isListItem(at: number, line: Line): boolean {
    return this.text[at] === '-' && this.endsWord(at + 1, line);
  }

  /** A block list whose dashes are at the indent of `first`; it ends at a line indented less or without a dash. */
  private list(first: Line): SeqNode {
    const { indent } = first;
    const location = this.location(first, first.start + indent);
    this.enter();
    const items: SourceNode[] = [];
    for (let line: Line | undefined = first; line && line.indent === indent; line = this.peek()) {
      const dash = line.start + indent;
      if (this.isDocumentStart(line) || !this.isListItem(dash, line)) break;
      const item = this.spaces(dash + 1);
      if (this.isListItem(item, line)) unsupported(); // A list on a list item's line.
      const isMap = !this.atEnd(item, line) && this.key(item, line) !== undefined;
      items.push(isMap ? this.map(line, item - line.start, item) : this.value(item, line, indent, false));
    }
    this.depth--;
    return { kind: 'seq', items, location, isDefault: false };
  }

  /**
   * A block map whose keys are at column `indent`, the first at `first` on `line` (its own line or a list item's).
   * It ends at a line indented less or at the end of the document.
   */
  private map(line: Line, indent: number, first: number): MapNode {
    const location = this.location(line, first);
    this.enter();
    const entries = new Map<string, SourceNode>();
    const keyLocations = new Map<string, SourceLocation>();
    let key = this.key(first, line) ?? unsupported();
    for (;;) {
      if (entries.has(key.name) || entries.size === this.limits.keys) unsupported();
      keyLocations.set(key.name, key.location);
      entries.set(key.name, this.value(this.spaces(key.colon + 1), line, indent, true));
      const next = this.peek();
      if (!next || next.indent < indent || this.isDocumentStart(next)) break;
      if (next.indent > indent) unsupported();
      line = next;
      key = this.key(line.start + indent, line) ?? unsupported();
    }
    this.depth--;
    return { kind: 'map', entries, keyLocations, location, isDefault: false };
  }

  /**
   * The value after a key's colon or a list item's dash, at `at` on `line`: a scalar or flow collection on the
   * line, or a block collection on the lines below (a map's value may be a list at the map's own indent).
   */
  private value(at: number, line: Line, indent: number, inMap: boolean): SourceNode {
    const isDefault = this.text.startsWith(DEFAULT_TAG, at) && this.endsWord(at + DEFAULT_TAG.length, line);
    if (isDefault) at = this.spaces(at + DEFAULT_TAG.length);
    let node: SourceNode;
    if (this.atEnd(at, line)) {
      this.consume(line, at);
      const next = this.peek();
      const below =
        next &&
        !this.isDocumentStart(next) &&
        (next.indent > indent || (inMap && next.indent === indent && this.isListItem(next.start + indent, next)));
      if (below) node = this.block(next);
      else if (isDefault) return unsupported();
      else return { kind: 'scalar', value: null, location: this.location(line, at), isDefault };
    } else {
      const inline = this.inline(at, line);
      this.consume(line, inline.end);
      const next = this.peek();
      if (next && next.indent > indent) unsupported(); // A scalar continued on the next line.
      node = inline.node;
    }
    return isDefault ? { ...node, isDefault } : node;
  }

  /** A key at `at` followed by ":" and a space or the line's end, or undefined when the line holds no key there. */
  private key(at: number, line: Line): Key | undefined {
    const { text } = this;
    let name: string;
    let colon: number;
    if (text[at] === '"' || text[at] === "'") {
      const quoted = this.quoted(at, line);
      name = quoted.value;
      colon = this.spaces(quoted.end);
    } else {
      if (!this.canStartPlain(at, line.end)) return undefined;
      const stop = this.commentStart(at, line.end);
      colon = at;
      do {
        colon = text.indexOf(':', colon + 1);
        if (colon < 0 || colon >= stop) return undefined;
      } while (!this.endsWord(colon + 1, line));
      if (colon - at > MAX_KEY_LENGTH) unsupported();
      let end = colon;
      while (text.charCodeAt(end - 1) === 32) end--;
      name = String(resolvePlain(text.slice(at, end)));
    }
    if (text[colon] !== ':' || !this.endsWord(colon + 1, line)) return undefined;
    return { name, location: this.location(line, at), colon };
  }

  private canStartPlain(at: number, end: number): boolean {
    const c = this.text[at];
    if (c === '-') return at + 1 < end && this.text[at + 1] !== ' ' && !FLOW_ENDS.has(this.text[at + 1]);
    return !INDICATORS.has(c);
  }

  /** A scalar or flow collection that ends on its line. */
  private inline(at: number, line: Line): { node: SourceNode; end: number } {
    const c = this.text[at];
    if (c === '{' || c === '[') return this.flow(at, line);
    if (c === '"' || c === "'") return this.quotedScalar(at, line);
    if (!this.canStartPlain(at, line.end)) unsupported();
    let end = this.commentStart(at, line.end);
    while (this.text.charCodeAt(end - 1) === 32) end--;
    const source = this.text.slice(at, end);
    // "a: b" on a value's line is a map where none may start; YAML rejects it.
    if (source.includes(': ') || source.endsWith(':')) unsupported();
    return { node: this.scalar(resolvePlain(source), line, at), end };
  }

  private scalar(value: ScalarNode['value'], line: Line, at: number): ScalarNode {
    return { kind: 'scalar', value, location: this.location(line, at), isDefault: false };
  }

  private quotedScalar(at: number, line: Line): { node: ScalarNode; end: number } {
    const { value, end } = this.quoted(at, line);
    return { node: this.scalar(value, line, at), end };
  }

  private quoted(at: number, line: Line): { value: string; end: number } {
    const { text } = this;
    const quote = text[at];
    let close = at;
    for (;;) {
      close = text.indexOf(quote, close + 1);
      if (close < 0 || close >= line.end) unsupported();
      if (quote === "'" && text[close + 1] === "'") close++;
      else if (quote === "'" || !escaped(text, close)) break;
    }
    const source = text.slice(at + 1, close);
    let value = source;
    if (quote === "'") value = source.replaceAll("''", "'");
    else if (source.includes('\\')) value = jsonString(source);
    return { value, end: close + 1 };
  }

  /** A flow collection (`{a: 1, b: [x, y]}`) that closes on its line. */
  private flow(at: number, line: Line): { node: SourceNode; end: number } {
    const location = this.location(line, at);
    this.enter();
    const isMap = this.text[at] === '{';
    const close = isMap ? '}' : ']';
    const entries = new Map<string, SourceNode>();
    const keyLocations = new Map<string, SourceLocation>();
    const items: SourceNode[] = [];
    let next = this.spaces(at + 1);
    while (this.text[next] !== close) {
      if (isMap) {
        const key = this.flowScalar(next, line, true);
        const name = String(key.node.value);
        if (this.text[key.end] !== ':' || this.text[key.end + 1] !== ' ') unsupported();
        if (entries.has(name) || entries.size === this.limits.keys) unsupported();
        const value = this.flowItem(this.spaces(key.end + 1), line);
        keyLocations.set(name, key.node.location);
        entries.set(name, value.node);
        next = this.spaces(value.end);
      } else {
        const item = this.flowItem(next, line);
        items.push(item.node);
        next = this.spaces(item.end);
      }
      if (this.text[next] === close) break;
      if (this.text[next] !== ',') unsupported();
      next = this.spaces(next + 1);
      if (this.text[next] === close) unsupported(); // A trailing comma.
    }
    this.depth--;
    const node: SourceNode = isMap
      ? { kind: 'map', entries, keyLocations, location, isDefault: false }
      : { kind: 'seq', items, location, isDefault: false };
    return { node, end: next + 1 };
  }

  /** A ":" that ends a flow key: before a space, a flow indicator or the line's end (else it is text: web:1). */
  private isFlowColon(at: number, line: Line): boolean {
    return this.text[at] === ':' && (this.endsWord(at + 1, line) || FLOW_ENDS.has(this.text[at + 1]));
  }

  private flowItem(at: number, line: Line): { node: SourceNode; end: number } {
    const c = this.text[at];
    return c === '{' || c === '[' ? this.flow(at, line) : this.flowScalar(at, line, false);
  }

  /** A scalar inside a flow collection; a plain one ends at a flow indicator (or, for a key, at its colon). */
  private flowScalar(at: number, line: Line, isKey: boolean): { node: ScalarNode; end: number } {
    const { text } = this;
    if (text[at] === '"' || text[at] === "'") return this.quotedScalar(at, line);
    if (!this.canStartPlain(at, line.end)) unsupported();
    let end = at;
    while (end < line.end && !FLOW_ENDS.has(text[end]) && !this.isFlowColon(end, line)) end++;
    if ((text[end] === ':' && !isKey) || this.commentStart(at, end) < end) unsupported();
    while (text.charCodeAt(end - 1) === 32) end--;
    return { node: this.scalar(resolvePlain(text.slice(at, end)), line, at), end };
  }
}

/** Whether the character at `at` follows an odd number of backslashes. */
function escaped(text: string, at: number): boolean {
  let n = 0;
  while (text[at - 1 - n] === '\\') n++;
  return n % 2 === 1;
}

/** A double-quoted scalar's escapes, where they mean what JSON's do; YAML's others are left to the parser. */
function jsonString(source: string): string {
  try {
    return JSON.parse(`"${source}"`) as string;
  } catch {
    return unsupported();
  }
}
