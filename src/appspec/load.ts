import type { ErrorObject } from 'ajv';
import { joinPath, SpecError, type SourceLocation, type SpecIssue } from './errors.js';
import { normalize, type NormalizedApp } from './normalize.js';
import { validateApp, type RuleViolation } from './rules.js';
import validators from './schema-validator.cjs';
import {
  DNS_1035_LABEL_PATTERN,
  DNS_LABEL_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
  ENV_NAME_PATTERN,
  HOSTNAME_PATTERN,
  HTTP_TOKEN_PATTERN,
  IMAGE_PATTERN,
  LABEL_VALUE_PATTERN,
  PERCENT_PATTERN,
  PORT_NAME_PATTERN,
  QUALIFIED_NAME_PATTERN,
  QUANTITY_PATTERN,
  TRAFFIC_PATTERN,
} from './values.js';
import { escapePointer, parseSource, toPlain, type FieldLocation, unescapePointer } from './source.js';
import type { AppSpec, KruiseAnalysisSpec } from './types.js';
import { unifyDocuments } from './unify.js';

export interface SourceText {
  file: string;
  text: string;
}

export interface LoadedApp {
  app: NormalizedApp;
  /** The unified spec with schema defaults applied. */
  spec: AppSpec;
  /** Layers that contributed, in order. */
  files: readonly string[];
}

export interface LoadResult {
  apps: LoadedApp[];
  /** Errors and warnings of every file, in file order. Any error means `apps` must not be used. */
  issues: SpecIssue[];
}

/**
 * Loads app specs from YAML layers: parse every document, unify documents of the same app across files
 * (in the order given), check the schema and the semantic rules, and normalize. Pure: the caller reads files.
 */
export function loadApps(sources: readonly SourceText[]): LoadResult {
  const issues: SpecIssue[] = [];
  const documents = sources.flatMap((s) => {
    const parsed = parseSource(s.text, s.file);
    issues.push(...parsed.issues);
    return parsed.documents;
  });
  const unified = unifyDocuments(documents, issues);
  const apps: LoadedApp[] = [];
  for (const doc of unified) {
    const locations = new Map<string, FieldLocation>();
    const plain = toPlain(doc.root, locations);
    const checked = checkDocument(plain, (pointer, atKey) => locate(locations, pointer, atKey));
    issues.push(...checked.issues);
    if (checked.app) apps.push({ app: checked.app, spec: plain as AppSpec, files: doc.files });
  }
  if (apps.length === 0 && !issues.some((i) => i.severity === 'error')) {
    const message = 'no app documents found (an app spec has apiVersion, kind: App, metadata and spec)';
    for (const { file } of sources) issues.push({ location: { file }, path: '', message, severity: 'error' });
  }
  return { apps, issues };
}

/**
 * Validates and normalizes an app spec written in TypeScript (the constructs' front end). Throws a
 * `SpecError` listing every problem, located at `origin` since there is no YAML position.
 */
export function validateAppSpec(spec: AppSpec, origin = '<typescript>'): NormalizedApp {
  const copy = structuredClone(spec);
  const { app, issues } = checkDocument(copy, () => ({ file: origin }));
  if (!app) throw new SpecError(issues);
  return app;
}

function checkDocument(
  plain: unknown,
  locate: (pointer: string, atKey: boolean) => SourceLocation | undefined,
): { app?: NormalizedApp; issues: SpecIssue[] } {
  const toIssue = (v: RuleViolation): SpecIssue => ({
    location: locate(v.pointer, v.atKey ?? false),
    path: pointerToPath(v.pointer),
    message: v.message,
    severity: v.severity ?? 'error',
  });
  if (!validators.validateApp(plain)) {
    const rejected = validators.validateApp.errors ?? [];
    // Ajv follows a refused map key with a summary error of its own: the key's error says it better.
    const schemaErrors = dedupe(rejected.filter((e) => e.keyword !== 'propertyNames').map(schemaViolation));
    // Report the rule violations too, so one run shows every error, but never on a value the schema refused: the
    // rules see the document without them. One missing what they need makes them throw, and then the schema
    // errors already say what is wrong.
    let rules: RuleViolation[] = [];
    try {
      const { spec, removed } = withoutRejected(plain, rejected);
      // Rules within the object that held a refused value would judge it as missing: those wait for the fix.
      const holders = removed.map((pointer) => pointer.slice(0, pointer.lastIndexOf('/')));
      const judgesRefused = (r: RuleViolation) => holders.some((h) => r.pointer === h || r.pointer.startsWith(`${h}/`));
      rules = validateApp(spec).filter((r) => r.severity !== 'warning' && !judgesRefused(r));
    } catch {
      rules = [];
    }
    return { issues: [...schemaErrors, ...rules].map(toIssue) };
  }
  const violations = validateApp(plain as AppSpec).map(toIssue);
  if (violations.some((v) => v.severity === 'error')) return { issues: violations };
  return { app: normalize(plain as AppSpec), issues: violations };
}

/**
 * A copy of the document without the values the schema rejected (a missing field is not a rejected value), and
 * where they were. A list loses no single item: the whole list goes, since its items are read by position.
 */
function withoutRejected(plain: unknown, rejected: readonly ErrorObject[]): { spec: AppSpec; removed: string[] } {
  const copy = structuredClone(plain) as Record<string, unknown>;
  const removed: string[] = [];
  for (const e of rejected) {
    if (e.keyword === 'required') continue;
    const key = e.propertyName ?? (e.params as { additionalProperty?: string }).additionalProperty;
    const pointer = key === undefined ? e.instancePath : `${e.instancePath}/${escapePointer(key)}`;
    removed.push(removeAt(copy, pointer));
  }
  return { spec: copy as unknown as AppSpec, removed };
}

/** Removes the value at a JSON pointer, or the list holding it; returns the pointer of what was removed. */
function removeAt(root: Record<string, unknown>, pointer: string): string {
  const segments = pointer.split('/').slice(1).map(unescapePointer);
  const parents: unknown[] = [root];
  for (const s of segments.slice(0, -1)) parents.push((parents.at(-1) as Record<string, unknown> | undefined)?.[s]);
  let depth = segments.length - 1;
  while (depth > 0 && Array.isArray(parents[depth])) depth--;
  const holder = parents[depth];
  if (depth >= 0 && holder !== null && typeof holder === 'object')
    delete (holder as Record<string, unknown>)[segments[depth] as string];
  return `/${segments
    .slice(0, depth + 1)
    .map(escapePointer)
    .join('/')}`;
}

const PATTERN_MEANINGS: Record<string, string> = {
  [PERCENT_PATTERN]: 'must be a count or a whole percentage like "20%" (a number in quotes needs a % sign)',
  [TRAFFIC_PATTERN]: 'must be a whole percentage like "20%"',
  [HTTP_TOKEN_PATTERN]: "must be an HTTP token: letters, digits and !#$%&'*+-.^_`|~",
  [DNS_LABEL_PATTERN]:
    'must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit',
  [DNS_1035_LABEL_PATTERN]:
    'must be a DNS label that starts with a letter (it names a Service): lowercase letters, digits and "-"',
  [DNS_SUBDOMAIN_PATTERN]:
    'must be a DNS subdomain: lowercase letters, digits, "-" and ".", each part starting and ending with a ' +
    'letter or digit',
  [HOSTNAME_PATTERN]: 'must be a lowercase host name such as app.example.com (a leading "*." is allowed)',
  [QUALIFIED_NAME_PATTERN]:
    'must be an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" and ".", starting and ending ' +
    'with a letter or digit',
  [LABEL_VALUE_PATTERN]:
    'must be a label value: at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
  [PORT_NAME_PATTERN]:
    'must be a port number or a port name: at most 15 lowercase letters, digits and single "-", ' +
    'with at least one letter',
  [IMAGE_PATTERN]: 'must not begin or end with whitespace',
  [ENV_NAME_PATTERN]: 'must be printable ASCII characters other than "="',
  '^/': 'must start with "/"',
  [QUANTITY_PATTERN]: 'must be a Kubernetes quantity such as 250m, 0.5, 1Gi or 512Mi',
};

/** `, got <value>` for a scalar the schema refused. */
const gotValue = (data: unknown) => (data !== undefined && typeof data !== 'object' ? `, got ${quoted(data)}` : '');

function schemaViolation(e: ErrorObject): RuleViolation {
  const p = e.params as Record<string, unknown>;
  if (e.propertyName !== undefined) {
    // A map key the schema refused (label and annotation keys): located at the key itself.
    const meaning = e.keyword === 'pattern' ? PATTERN_MEANINGS[String(p.pattern)] : `${e.message ?? 'is invalid'}`;
    return {
      pointer: `${e.instancePath}/${escapePointer(e.propertyName)}`,
      atKey: true,
      message: `the key ${JSON.stringify(e.propertyName)} ${meaning ?? `must match ${String(p.pattern)}`}`,
    };
  }
  switch (e.keyword) {
    case 'required':
      return { pointer: e.instancePath, message: `missing required field "${String(p.missingProperty)}"` };
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(key, known);
      const hint = guess ? `; did you mean "${guess}"?` : known.length ? `; expected one of: ${known.join(', ')}` : '';
      return {
        pointer: `${e.instancePath}/${key}`,
        atKey: true,
        message: `unknown field ${JSON.stringify(key)}${hint}`,
      };
    }
    case 'enum':
      return {
        pointer: e.instancePath,
        message:
          `must be one of: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ` +
          `${quoted(e.data)}`,
      };
    case 'const':
      return {
        pointer: e.instancePath,
        message: `must be ${JSON.stringify(p.allowedValue)}, got ${quoted(e.data)}`,
      };
    case 'type': {
      const types = String(p.type).split(',');
      return {
        pointer: e.instancePath,
        message: `must be ${types.map(article).join(' or ')}, got ${describeValue(e.data)}`,
      };
    }
    case 'pattern':
      return {
        pointer: e.instancePath,
        message:
          `${PATTERN_MEANINGS[String(p.pattern)] ?? `must match ${String(p.pattern)}`}, got ` + `${quoted(e.data)}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { pointer: e.instancePath, message: `${rangeWording(e.keyword, Number(p.limit))}, got ${e.data}` };
    case 'minLength':
    case 'maxLength':
      return {
        pointer: e.instancePath,
        message:
          `must be at ${e.keyword === 'minLength' ? 'least' : 'most'} ${plural(Number(p.limit), 'character')} ` +
          `long, got ${plural(String(e.data).length, 'character')}`,
      };
    case 'minItems':
    case 'maxItems':
      return {
        pointer: e.instancePath,
        message:
          `must have at ${e.keyword === 'minItems' ? 'least' : 'most'} ${plural(Number(p.limit), 'item')}, got ` +
          `${(e.data as unknown[]).length}`,
      };
    case 'minProperties':
      return { pointer: e.instancePath, message: 'must not be empty' };
    default:
      return {
        pointer: e.instancePath,
        message: `${e.message ?? 'is invalid'}${gotValue(e.data)}`,
      };
  }
}

function rangeWording(keyword: string, limit: number): string {
  switch (keyword) {
    case 'minimum':
      return `must be at least ${limit}`;
    case 'maximum':
      return `must be at most ${limit}`;
    case 'exclusiveMinimum':
      return `must be more than ${limit}`;
    default:
      return `must be less than ${limit}`;
  }
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function article(type: string): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : `${typeof v} ${quoted(v)}`;
}

/** The known name within edit distance 2, for "did you mean" hints. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** One problem per field: the schema's first says what is wrong (an empty value breaks its pattern too). */
function dedupe(violations: RuleViolation[]): RuleViolation[] {
  const seen = new Set<string>();
  return violations.filter((v) => {
    const key = `${v.pointer}\0${v.atKey ?? false}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A value as JSON, shortened to 60 characters with its length when longer: enough to recognize it. */
function quoted(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return `${value} (a number too large to read)`;
  const json = JSON.stringify(value);
  if (json.length <= 60) return json;
  const length = typeof value === 'string' ? ` (${value.length} characters)` : '';
  return `${json.slice(0, 57)}…${length}`;
}

/** Where the field at `pointer` is written, or its nearest ancestor when the field itself is absent. */
function locate(
  locations: ReadonlyMap<string, FieldLocation>,
  pointer: string,
  atKey: boolean,
): SourceLocation | undefined {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const loc = locations.get(p);
    if (loc) return (atKey && loc.key) || loc.value;
    if (p === '') return undefined;
  }
}

export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return joinPath(
    pointer
      .slice(1)
      .split('/')
      .map((s) => {
        const key = unescapePointer(s);
        return /^[0-9]+$/.test(key) ? Number(key) : key;
      }),
  );
}

/**
 * The value of a Kruise Rollout's analysis annotation (`KRUISE_ANALYSIS_ANNOTATION`), read and checked against its
 * schema (defaults filled in): the spec, or every problem, each naming its field.
 */
export function readKruiseAnalysis(text: string): { spec: KruiseAnalysisSpec } | { problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { problems: [`not JSON: ${(e as Error).message}`] };
  }
  const validate = validators.validateKruiseAnalysis;
  if (validate(value)) return { spec: value as KruiseAnalysisSpec };
  const violations = dedupe((validate.errors ?? []).filter((e) => e.keyword !== 'propertyNames').map(schemaViolation));
  return { problems: violations.map((v) => `${pointerToPath(v.pointer) || '(the value)'}: ${v.message}`) };
}
