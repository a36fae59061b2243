import { yamlDocument } from './yaml.js';
import { renderApp } from './app.js';
import type { NormalizedApp } from '../appspec/normalize.js';
import type { Engine } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';

/** Multi-document YAML for a list of objects, in order, safe for YAML 1.1 readers such as kubectl (`yamlDocument`). */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map(yamlDocument).join('---\n');
}

/** A `v1 List` of the objects as JSON, as `kubectl get -o json` prints several (and `kubectl apply -f` takes). */
export function toJson(objects: readonly KubeObject[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}

/** Renders one app to YAML with its own engine, or with `engine` when given (the CLI's `--engine`). */
export function synthApp(app: NormalizedApp, engine?: Engine): string {
  return toYaml(renderApp(app, engine));
}
