import { stringify } from 'yaml';
import { renderApp } from './render/app.js';
import type { NormalizedApp } from './spec/normalize.js';
import type { Engine } from './spec/types.js';
import type { KubeObject } from './traffic/objects.js';

/** Multi-document YAML for a list of objects, in order. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Renders one app to YAML with its own engine, or with `engine` when given (the CLI's `--engine`). */
export function synthApp(app: NormalizedApp, engine?: Engine): string {
  return toYaml(renderApp(app, engine));
}
