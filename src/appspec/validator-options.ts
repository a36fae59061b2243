/** How the app spec's schema is checked: every error at once, schema defaults filled in, values kept for messages. */
export const VALIDATOR_OPTIONS = {
  allErrors: true,
  useDefaults: true,
  allowUnionTypes: true,
  verbose: true,
  strict: true,
} as const;
