import type { RolloutSpec } from '../appspec/types.js';
import type { KubeObject } from '../k8s/objects.js';
import { attachRollout } from '../render/attach.js';
import { ROLLOUT_NAME_LABEL } from '../render/labels.js';
import { yamlDocument } from '../render/yaml.js';
import { yaml } from '../appspec/yaml-library.js';
import { canaryService, REVISION_LABEL } from '../traffic/service.js';

/** On a chart's Deployment or StatefulSet: a rollout block (`{strategy: …, steps: …}`) or a name in the config. */
export const ROLLOUT_ANNOTATION = 'stepwise.dev/rollout';
/** Helm 4 names each document's template in this annotation, and reads it back to group the output. */
export const HELM4_FILENAME_ANNOTATION = 'postrenderer.helm.sh/postrender-filename';

/** What `--config` holds: named rollout blocks, and workloads to release without touching the chart. */
export interface PostRenderConfig {
  rollouts?: Record<string, RolloutSpec>;
  /** By workload name: its rollout (a name in `rollouts`, or a block), and its Service and route if not found. */
  workloads?: Record<string, { rollout: string | RolloutSpec; service?: string; route?: string }>;
}

/** One document of the stream: its text as Helm wrote it, and the object it holds (none for an empty one). */
interface Document {
  text: string;
  /** The separator and comment lines before its content (`---`, `# Source: …`). */
  header: string;
  object?: KubeObject;
  /** Where it came from, for messages: the template named by Helm, else its position. */
  source: string;
  changed?: boolean;
}

/** A problem with the input: the message names the template (or document) and field. */
export class PostRenderError extends Error {}

/**
 * Helm's rendered manifests with releases attached: each Deployment or StatefulSet chosen by its
 * `stepwise.dev/rollout` annotation or by the config gets a Rollout (and, for the builtin engine with a route, a
 * canary Service), rendered by the same core as `stepwise synth`. Documents it does not change are passed on
 * byte for byte (Helm 3's `# Source:` comments, Helm 4's file annotations, hooks); the governed objects gain only
 * the label naming their Rollout. All or nothing: a problem throws before any output.
 */
export function postRender(stream: string, config: PostRenderConfig = {}, configFile = '--config'): string {
  const documents = splitDocuments(stream);
  const added: KubeObject[] = [];
  for (const workload of documents.filter((d) => isWorkload(d.object))) {
    const spec = rolloutFor(workload, config, configFile);
    if (!spec) continue;
    const object = workload.object as KubeObject;
    const chosen = config.workloads?.[object.metadata.name];
    const service = serviceFor(object, documents, chosen?.service, workload.source);
    const route = service && routeFor(service.object as KubeObject, documents, chosen?.route, workload.source);
    const attached = attachRollout({ workload: object, service: service?.object, route: route?.object }, spec, {
      where: workload.source,
    });
    if (attached.labelsGoverned) for (const d of [workload, service, route]) if (d) label(d, attached.model.name);
    const from = helm4Filename(object);
    added.push(withFilename(attached.rollout, from));
    if (attached.ownsCanaryService && service?.object)
      added.push(withFilename(canaryService(service.object, REVISION_LABEL[attached.model.workload.kind]), from));
  }
  const kept = documents.map((d) => (d.changed ? `${d.header}${yamlDocument(d.object)}` : d.text)).join('');
  // A stream whose last line has no newline: the documents added must not run on from it.
  const ends = kept === '' || kept.endsWith('\n') ? '' : '\n';
  return kept + ends + added.map((o) => `---\n${sourceComment(o)}${yamlDocument(o)}`).join('');
}

const isWorkload = (o: KubeObject | undefined) => o?.kind === 'Deployment' || o?.kind === 'StatefulSet';

/** The documents of a YAML stream, split at `---` lines, each with its exact text. */
function splitDocuments(stream: string): Document[] {
  const chunks: { text: string; line: number }[] = [];
  let line = 1;
  for (const piece of stream.split(/(?<=\n)(?=---(?:[ \t].*)?\r?\n|---$)/)) {
    chunks.push({ text: piece, line });
    line += piece.split('\n').length - 1;
  }
  return chunks.filter((c) => c.text !== '').map(({ text, line: at }, i) => parseChunk(text, at, i + 1));
}

function parseChunk(text: string, line: number, index: number): Document {
  const source = /^# Source: (.+)$/m.exec(text)?.[1]?.trim() ?? `document ${index}`;
  const where = (at: number) => `${source} (line ${at} of the manifests)`;
  const header = /^(?:(?:---[^\n]*|#[^\n]*|[ \t]*)\n)*/.exec(text)?.[0] ?? '';
  const parsed = yaml().parseDocument(text, { uniqueKeys: true });
  if (parsed.errors.length) {
    const error = parsed.errors[0];
    const at = line + (error?.linePos?.[0].line ?? 1) - 1;
    throw new PostRenderError(`${where(at)}: ${error?.message.split('\n')[0]}`);
  }
  const object = parsed.toJS() as KubeObject | null;
  if (object === null || object === undefined) return { text, header, source };
  if (typeof object !== 'object' || Array.isArray(object) || !object.kind || !object.metadata?.name)
    throw new PostRenderError(`${where(line)}: not a Kubernetes object (kind and metadata.name are required)`);
  const filename = helm4Filename(object);
  return { text, header, object, source: filename && !/^# Source:/m.test(text) ? filename : source };
}

/** The rollout block a workload is released with, if it is chosen; unknown names and bad blocks are errors. */
function rolloutFor(d: Document, config: PostRenderConfig, configFile: string): RolloutSpec | undefined {
  const object = d.object as KubeObject;
  const annotation = object.metadata.annotations?.[ROLLOUT_ANNOTATION];
  const chosen = annotation ?? config.workloads?.[object.metadata.name]?.rollout;
  if (chosen === undefined) return undefined;
  if (typeof chosen !== 'string') return chosen;
  const field = annotation !== undefined ? `metadata.annotations["${ROLLOUT_ANNOTATION}"]` : configFile;
  if (chosen.trim().startsWith('{')) {
    try {
      return yaml().parse(chosen) as RolloutSpec;
    } catch (e) {
      throw new PostRenderError(`${d.source}: ${field}: not a YAML mapping: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const named = config.rollouts?.[chosen];
  if (named) return named;
  const known = Object.keys(config.rollouts ?? {});
  throw new PostRenderError(
    `${d.source}: ${field}: no rollout named "${chosen}" in ${configFile}` +
      (known.length ? ` (it defines ${known.join(', ')})` : ' (pass one with --config, or give the block inline)'),
  );
}

const sameNamespace = (a: KubeObject, b: KubeObject) => (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');

/** The workload's Service: the one named, else the one whose selector its pods match (none is fine, two are not). */
function serviceFor(workload: KubeObject, documents: Document[], name: string | undefined, where: string) {
  const podLabels = ((workload.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template
    ?.metadata?.labels ?? {}) as Record<string, string>;
  const candidates = documents.filter((d) => {
    const o = d.object;
    if (o?.kind !== 'Service' || !sameNamespace(o, workload)) return false;
    if (name !== undefined) return o.metadata.name === name;
    const selector = Object.entries((o.spec as { selector?: Record<string, string> }).selector ?? {});
    return selector.length > 0 && selector.every(([k, v]) => podLabels[k] === v);
  });
  return one(candidates, name, `Service selecting ${workload.kind} ${workload.metadata.name}'s pods`, where);
}

/** The route to the Service: the one named, else the Ingress or HTTPRoute whose backend it is. */
function routeFor(service: KubeObject, documents: Document[], name: string | undefined, where: string) {
  const candidates = documents.filter((d) => {
    const o = d.object;
    if ((o?.kind !== 'Ingress' && o?.kind !== 'HTTPRoute') || !sameNamespace(o, service)) return false;
    return name !== undefined ? o.metadata.name === name : backends(o).includes(service.metadata.name);
  });
  return one(candidates, name, `Ingress or HTTPRoute routing to Service ${service.metadata.name}`, where);
}

/** The Service names an Ingress or HTTPRoute sends traffic to. */
function backends(route: KubeObject): string[] {
  const spec = route.spec as {
    defaultBackend?: { service?: { name?: string } };
    rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] }; backendRefs?: { name?: string }[] }[];
  };
  return [
    spec.defaultBackend?.service?.name,
    ...(spec.rules ?? []).flatMap((r) => [
      ...(r.http?.paths ?? []).map((p) => p.backend?.service?.name),
      ...(r.backendRefs ?? []).map((b) => b.name),
    ]),
  ].filter((n): n is string => n !== undefined);
}

function one(candidates: Document[], name: string | undefined, what: string, where: string): Document | undefined {
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0 && name === undefined) return undefined;
  if (candidates.length === 0)
    throw new PostRenderError(`${where}: no ${what.split(' ')[0]} named "${name}" in the chart`);
  const found = candidates.map((c) => c.source).join(', ');
  throw new PostRenderError(
    `${where}: ${candidates.length} candidates for the ${what} (${found}); name one in --config`,
  );
}

function label(d: Document, rollout: string): void {
  const object = d.object as KubeObject;
  if (object.metadata.labels?.[ROLLOUT_NAME_LABEL] === rollout) return;
  object.metadata.labels = { ...object.metadata.labels, [ROLLOUT_NAME_LABEL]: rollout };
  d.changed = true;
}

const helm4Filename = (o: KubeObject) => o.metadata.annotations?.[HELM4_FILENAME_ANNOTATION];

/** Under Helm 4, a new object is filed with the workload it releases. */
function withFilename(o: KubeObject, filename: string | undefined): KubeObject {
  if (!filename) return o;
  return {
    ...o,
    metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [HELM4_FILENAME_ANNOTATION]: filename } },
  };
}

/** Helm 3 reads `# Source:` comments; under Helm 4 the filename annotation says where a document belongs. */
const sourceComment = (o: KubeObject) =>
  helm4Filename(o) ? '' : `# Source: stepwise/${o.kind.toLowerCase()}-${o.metadata.name}.yaml\n`;
