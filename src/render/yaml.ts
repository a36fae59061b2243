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
      } else out.push(`${indent}- ${inline(item)}`);
    }
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    if ((Array.isArray(v) || isObject(v)) && !isEmpty(v)) {
      out.push(`${indent}${scalar(key)}:`);
      lines(v, `${indent}  `, out);
    } else out.push(`${indent}${scalar(key)}: ${inline(v)}`);
  }
}

/** A scalar, or an empty collection, on the line of its key or dash. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  return scalar(value as string | number | boolean | null);
}

/** One object as a YAML document (without the `---` separator). */
export function yamlDocument(object: unknown): string {
  const out: string[] = [];
  if (Array.isArray(object) || isObject(object)) lines(object, '', out);
  else out.push(inline(object));
  return `${out.join('\n')}\n`;
}
