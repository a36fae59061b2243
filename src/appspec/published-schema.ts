import { readFileSync } from 'node:fs';

let published: Record<string, unknown> | undefined;

/**
 * The app spec's JSON Schema as plain JSON, written at build time from its one source (`schema.ts`) beside this
 * module: what `stepwise schema` prints and the builtin CRD takes its step schema from, without loading TypeBox.
 */
export function publishedSchema(): Record<string, unknown> {
  const file = new URL('./app.schema.json', import.meta.url);
  published ??= JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return published;
}
