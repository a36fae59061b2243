import { stringify } from 'yaml';
import { renderApp } from './app.js';
import type { NormalizedApp } from '../appspec/normalize.js';
import type { Engine } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';

/**
 * Multi-document YAML for a list of objects, in order. Written with the YAML 1.1 schema because kubectl and
 * most Kubernetes tools read YAML 1.1, where an unquoted `on`, `yes` or `12:30` is a boolean or a number:
 * every such string comes out quoted, and the text reads back the same under 1.1 and 1.2.
 */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
}

/** A `v1 List` of the objects as JSON, as `kubectl get -o json` prints several (and `kubectl apply -f` takes). */
export function toJson(objects: readonly KubeObject[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}

/** Renders one app to YAML with its own engine, or with `engine` when given (the CLI's `--engine`). */
export function synthApp(app: NormalizedApp, engine?: Engine): string {
  return toYaml(renderApp(app, engine));
}
