/**
 * YAML for Kubernetes objects: block mappings and sequences of plain JSON data, which is all an object is. A
 * general YAML library builds a document tree to print one; this writes the text directly (about ten times
 * faster at 1000 apps). Strings come out plain only when no YAML reader could take them for anything else:
 * kubectl and most Kubernetes tools read YAML 1.1, where an unquoted `on`, `yes`, `0x1F` or `12:30` is a boolean
 * or a number, so every such string, and every one that merely might be, is written double-quoted (JSON's escapes
 * are YAML's), and the text reads back the same under YAML 1.1 and 1.2.
 */

/** Plain scalars need nothing but these; and no plain scalar starts with a digit, sign or dot (numbers do). */
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./%@+=,-]*(:[A-Za-z0-9_./%@+=,-]+)*$/;
/** YAML 1.1 booleans and nulls, and YAML 1.2 ones (a subset), which a plain scalar must not be. */
const RESERVED = /^(y|yes|n|no|true|false|on|off|null)$/i;

function scalar(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return value === null ? 'null' : String(value);
  return PLAIN.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isEmpty = (v: unknown) => (Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0);

/** Lines of `value` at `indent`; a collection's entries start on lines of their own. */
function lines(value: unknown, indent: string, out: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if ((Array.isArray(item) || isObject(item)) && !isEmpty(item)) {
        const nested: string[] = [];
        lines(item, `${indent}  `, nested);
        // The first line of the item goes on the dash's line.
        out.push(`${indent}- ${(nested[0] ?? '').slice(indent.length + 2)}`, ...nested.slice(1));
      } else out.push(...withBlock(`${indent}- `, item, `${indent}  `));
    }
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    if ((Array.isArray(v) || isObject(v)) && !isEmpty(v)) {
      out.push(`${indent}${scalar(key)}:`);
      lines(v, `${indent}  `, out);
    } else out.push(...withBlock(`${indent}${scalar(key)}: `, v, `${indent}  `));
  }
}

/** Text a literal block carries as it is: printable characters, tabs and line breaks (YAML 1.1 knows more). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
const LITERAL = /^(?![ \t\n])[^\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029\ufeff]*$/;

/**
 * A multi-line string as a literal block (`|`, or `|-` without a final line break) whose lines sit at `indent`, so
 * it reads as written (a CUE template, a script); undefined when only a quoted string can carry it exactly: a
 * leading space (the block would need an indentation indicator), several final line breaks, control characters.
 */
function literalBlock(value: unknown, indent: string): string[] | undefined {
  if (typeof value !== 'string' || !value.includes('\n') || !LITERAL.test(value)) return undefined;
  if (value.endsWith('\n\n')) return undefined;
  const body = value.endsWith('\n') ? value.slice(0, -1) : value;
  const content = body.split('\n').map((line) => (line === '' ? '' : `${indent}${line}`));
  return [value.endsWith('\n') ? '|' : '|-', ...content];
}

/** A scalar, or an empty collection, on the line of its key or dash. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  return scalar(value as string | number | boolean | null);
}

/** A value's lines after `head` (a key or a dash): a literal block below it, or the value on its line. */
function withBlock(head: string, value: unknown, indent: string): string[] {
  const block = literalBlock(value, indent);
  return block ? [`${head}${block[0]}`, ...block.slice(1)] : [`${head}${inline(value)}`];
}

/** One object as a YAML document (without the `---` separator). */
export function yamlDocument(object: unknown): string {
  const out: string[] = [];
  if (Array.isArray(object) || isObject(object)) lines(object, '', out);
  else out.push(inline(object));
  return `${out.join('\n')}\n`;
}
