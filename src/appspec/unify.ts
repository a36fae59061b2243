import { formatLocation, joinPath, type SpecIssue } from './errors.js';
import type { MapNode, SourceDocument, SourceNode } from './source.js';

/**
 * Unifies two layers of the same value, CUE style:
 * - maps merge key by key;
 * - a `!default` value gives way to a concrete one from any layer, and to a later `!default`;
 * - two different concrete values are a conflict, reported with both locations.
 * Lists are values, not maps: they unify only when equal, unless one is a `!default`.
 */
export function unify(
  earlier: SourceNode,
  later: SourceNode,
  path: (string | number)[],
  issues: SpecIssue[],
): SourceNode {
  if (earlier.isDefault && !later.isDefault) return later;
  if (!earlier.isDefault && later.isDefault) return earlier;
  if (earlier.isDefault && later.isDefault) {
    return earlier.kind === 'map' && later.kind === 'map' ? mergeMaps(earlier, later, path, issues, true) : later;
  }
  if (earlier.kind === 'map' && later.kind === 'map') return mergeMaps(earlier, later, path, issues, false);
  if (!sameValue(earlier, later)) {
    issues.push({
      location: later.location,
      path: joinPath(path),
      message:
        `conflicting values ${describe(later)} and ${describe(earlier)} (at ` +
        `${formatLocation(earlier.location)}); tag one of them !default to let the other win`,
      severity: 'error',
    });
  }
  return earlier;
}

function mergeMaps(
  a: MapNode,
  b: MapNode,
  path: (string | number)[],
  issues: SpecIssue[],
  isDefault: boolean,
): MapNode {
  const entries = new Map(a.entries);
  const keyLocations = new Map(a.keyLocations);
  for (const [key, value] of b.entries) {
    const existing = entries.get(key);
    entries.set(key, existing ? unify(existing, value, [...path, key], issues) : value);
    const location = b.keyLocations.get(key);
    if (!existing && location) keyLocations.set(key, location);
  }
  return { kind: 'map', entries, keyLocations, location: a.location, isDefault };
}

function sameValue(a: SourceNode, b: SourceNode): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.value === b.value;
  if (a.kind === 'seq' && b.kind === 'seq')
    return a.items.length === b.items.length && a.items.every((item, i) => sameValue(item, b.items[i]));
  if (a.kind === 'map' && b.kind === 'map') {
    return (
      a.entries.size === b.entries.size &&
      [...a.entries].every(([k, v]) => {
        const other = b.entries.get(k);
        return other !== undefined && sameValue(v, other);
      })
    );
  }
  return false;
}

function describe(node: SourceNode): string {
  if (node.kind === 'scalar') return JSON.stringify(node.value);
  return node.kind === 'seq' ? `a list of ${node.items.length}` : 'a map';
}

/** The name an app document is unified under: its `metadata.name`. */
export function documentName(root: SourceNode): string | undefined {
  if (root.kind !== 'map') return undefined;
  const metadata = root.entries.get('metadata');
  if (metadata?.kind !== 'map') return undefined;
  const name = metadata.entries.get('name');
  return name?.kind === 'scalar' && typeof name.value === 'string' ? name.value : undefined;
}

/** A unified app document: one per distinct `metadata.name`, in order of first appearance. */
export interface UnifiedDocument {
  readonly name: string;
  readonly root: SourceNode;
  /** Files that contributed, in layer order. */
  readonly files: readonly string[];
}

/** Groups documents by app name across all layers (files in command-line order) and unifies each group. */
export function unifyDocuments(documents: readonly SourceDocument[], issues: SpecIssue[]): UnifiedDocument[] {
  const byName = new Map<string, { root: SourceNode; files: string[] }>();
  for (const doc of documents) {
    const name = documentName(doc.root);
    if (name === undefined) {
      issues.push({
        location: doc.root.location,
        path: 'metadata.name',
        message: 'every app document needs metadata.name (a string); layers are matched by it',
        severity: 'error',
      });
      continue;
    }
    const existing = byName.get(name);
    if (!existing) byName.set(name, { root: doc.root, files: [doc.file] });
    else {
      existing.root = unify(existing.root, doc.root, [], issues);
      if (!existing.files.includes(doc.file)) existing.files.push(doc.file);
    }
  }
  return [...byName].map(([name, { root, files }]) => ({ name, root, files }));
}
