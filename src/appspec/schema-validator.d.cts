import type { ErrorObject } from 'ajv';

/** The app spec's JSON Schema, compiled at build time (tools/generate-validator.ts). */
declare function validate(data: unknown): boolean;
declare namespace validate {
  let errors: ErrorObject[] | null | undefined;
}
export = validate;
