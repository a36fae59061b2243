import { isDeepStrictEqual } from 'node:util';

export type JsonPatchOperation =
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const escapeKey = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** The RFC 6902 operations that turn `from` into `to`: objects key by key, anything else replaced whole. */
export function jsonPatch(from: unknown, to: unknown, path = ''): JsonPatchOperation[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (!isObject(from) || !isObject(to)) return [{ op: 'replace', path, value: to }];
  const ops: JsonPatchOperation[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to)) ops.push({ op: 'remove', path: `${path}/${escapeKey(key)}` });
  }
  for (const [key, value] of Object.entries(to)) {
    const at = `${path}/${escapeKey(key)}`;
    if (!(key in from)) ops.push({ op: 'add', path: at, value });
    else ops.push(...jsonPatch(from[key], value, at));
  }
  return ops;
}
