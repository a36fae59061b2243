import type { ErrorObject } from 'ajv';

/** A JSON Schema compiled at build time (tools/generate-schema.ts). */
interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
/** The app spec's schema. */
export declare const validateApp: Validator;
/** The schema of a Kruise Rollout's `stepwise.dev/analysis` annotation. */
export declare const validateKruiseAnalysis: Validator;
