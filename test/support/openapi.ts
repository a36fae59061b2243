import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

type Schema = Record<string, any>;

/**
 * A CRD's structural OpenAPI v3 schema as JSON Schema for ajv. Objects that list their properties reject
 * unknown fields: the API server would silently prune them, so a field the CRD lacks is a bug to catch here.
 */
export function toJsonSchema(s: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable' || k === 'format') continue;
    if (k === 'properties')
      out.properties = Object.fromEntries(Object.entries(v as Schema).map(([p, sub]) => [p, toJsonSchema(sub)]));
    else if (k === 'items' || k === 'additionalProperties') out[k] = typeof v === 'object' ? toJsonSchema(v) : v;
    else if (k === 'anyOf' || k === 'allOf' || k === 'oneOf') out[k] = (v as Schema[]).map(toJsonSchema);
    else out[k] = v;
  }
  if (s['x-kubernetes-int-or-string']) {
    delete out.type;
    if (!out.anyOf) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (s.nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (
    out.type === 'object' &&
    out.properties &&
    !s['x-kubernetes-preserve-unknown-fields'] &&
    out.additionalProperties === undefined
  )
    out.additionalProperties = false;
  return out;
}

/** A validator for one version of a CRD given as YAML text (or object). */
export function crdValidator(crd: string | Schema, version: string): ValidateFunction {
  const doc =
    typeof crd === 'string'
      ? parseAllDocuments(crd)
          .map((d) => d.toJS())
          .find((d) => d?.kind === 'CustomResourceDefinition')
      : crd;
  const v = doc.spec.versions.find((x: Schema) => x.name === version);
  if (!v) throw new Error(`CRD ${doc.metadata.name} has no version ${version}`);
  const schema = toJsonSchema(v.schema.openAPIV3Schema);
  // metadata is validated by the API server itself, not by the CRD schema.
  schema.properties.metadata = { type: 'object' };
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}
