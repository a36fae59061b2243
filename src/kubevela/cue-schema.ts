/**
 * JSON Schema (the app spec's, as published) to CUE, for the KubeVela trait's `parameter`: types, enums,
 * defaults, ranges, lengths, item and field counts and patterns, so a bad parameter fails in `vela` as it would in
 * `stepwise validate`'s schema step. Patterns with lookaround, which Go's RE2 cannot run, are left out and listed.
 */

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  $ref?: string;
}

export interface CueSchema {
  /** The CUE for the schema, on one or more lines indented by tabs. */
  readonly text: string;
  /** Packages the text uses. */
  readonly imports: ReadonlySet<string>;
  /** Patterns left out because RE2 cannot run them. */
  readonly skippedPatterns: ReadonlySet<string>;
}

const DEF_PREFIX = '#/$defs/';

/** A JSON Schema as a CUE expression; `$ref`s become references to definitions named `#<name>`. */
export function toCue(schema: JsonSchema): CueSchema {
  const out = { imports: new Set<string>(), skippedPatterns: new Set<string>() };
  return { text: expression(schema, out, 0), ...out };
}

type Collect = { imports: Set<string>; skippedPatterns: Set<string> };

const literal = (value: unknown) => JSON.stringify(value);
const tabs = (depth: number) => '\t'.repeat(depth);

function expression(s: JsonSchema, c: Collect, depth: number): string {
  if (s.$ref) {
    if (!s.$ref.startsWith(DEF_PREFIX)) throw new Error(`unsupported $ref ${s.$ref}`);
    return `#${s.$ref.slice(DEF_PREFIX.length)}`;
  }
  if (s.const !== undefined) return literal(s.const);
  if (s.enum) return s.enum.map((v) => (v === s.default ? `*${literal(v)}` : literal(v))).join(' | ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const alternatives = types.map((t) => typed(t, s, c, depth));
  const body = alternatives.length > 1 ? alternatives.map((a) => `(${a})`).join(' | ') : (alternatives[0] ?? '_');
  return s.default !== undefined && typeof s.default !== 'object' ? `*${literal(s.default)} | ${body}` : body;
}

function typed(type: string, s: JsonSchema, c: Collect, depth: number): string {
  switch (type) {
    case 'string':
      return constrained('string', [
        s.minLength !== undefined && use(c, 'strings', `strings.MinRunes(${s.minLength})`),
        s.maxLength !== undefined && use(c, 'strings', `strings.MaxRunes(${s.maxLength})`),
        s.pattern !== undefined && pattern(s.pattern, c),
      ]);
    case 'integer':
    case 'number':
      return constrained(type === 'integer' ? 'int' : 'number', [
        s.minimum !== undefined && `>=${s.minimum}`,
        s.maximum !== undefined && `<=${s.maximum}`,
      ]);
    case 'boolean':
      return 'bool';
    case 'array':
      return constrained(`[...${s.items ? expression(s.items, c, depth) : '_'}]`, [
        s.minItems !== undefined && use(c, 'list', `list.MinItems(${s.minItems})`),
        s.maxItems !== undefined && use(c, 'list', `list.MaxItems(${s.maxItems})`),
      ]);
    case 'object':
      return constrained(object(s, c, depth), [
        s.minProperties !== undefined && use(c, 'struct', `struct.MinFields(${s.minProperties})`),
      ]);
    default:
      throw new Error(`unsupported JSON Schema type ${type}`);
  }
}

function constrained(base: string, constraints: (string | false)[]): string {
  return [base, ...constraints.filter((x): x is string => x !== false)].join(' & ');
}

function use(c: Collect, pkg: string, call: string): string {
  c.imports.add(pkg);
  return call;
}

/** A pattern for RE2; JSON Schema's (ECMAScript) lookarounds have no RE2 form. */
function pattern(p: string, c: Collect): string | false {
  if (/\(\?[=!<]/.test(p)) {
    c.skippedPatterns.add(p);
    return false;
  }
  return `=~${literal(p)}`;
}

/** A struct: closed when the schema allows no other fields; a field with a default is always present. */
function object(s: JsonSchema, c: Collect, depth: number): string {
  const required = new Set(s.required ?? []);
  const lines: string[] = [];
  for (const [name, field] of Object.entries(s.properties ?? {})) {
    if (field.description) lines.push(`${tabs(depth + 1)}// +usage=${field.description.replace(/\s+/g, ' ')}`);
    const optional = !required.has(name) && field.default === undefined ? '?' : '';
    lines.push(`${tabs(depth + 1)}${label(name)}${optional}: ${expression(field, c, depth + 1)}`);
  }
  const extra = s.additionalProperties;
  if (typeof extra === 'object') lines.push(`${tabs(depth + 1)}[string]: ${expression(extra, c, depth + 1)}`);
  const struct = lines.length ? `{\n${lines.join('\n')}\n${tabs(depth)}}` : '{}';
  return extra === false ? `close(${struct})` : struct;
}

const label = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : literal(name));
