/**
 * The JSON Schema (2020-12) of the app spec. It is the contract published to editors (`stepwise schema`,
 * `schema/app.schema.json`) and the source of the builtin Rollout CRD's step schema (`stepwise crd`), so the
 * shapes shared with the Rollout live in `$defs`. Union types are used instead of `oneOf` so that a bad value
 * yields one precise message rather than one per branch.
 */
export const SCHEMA_ID = 'https://stepwise.dev/schemas/v1alpha1/app.schema.json';

type Schema = Record<string, unknown>;

const stringMap: Schema = { type: 'object', additionalProperties: { type: 'string' } };
const dnsName: Schema = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };
/** Header and query-parameter names as HTTP defines tokens (the same rule as Gateway API and OpenKruise). */
export const HTTP_TOKEN_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$";
const percent: Schema = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?%$' };

export const defs: Record<string, Schema> = {
  replicas: {
    description: 'A pod count (3) or a percentage of the workload replicas ("20%").',
    type: ['integer', 'string'],
    minimum: 1,
    pattern: '^[0-9]+(\\.[0-9]+)?%$',
  },
  traffic: { ...percent, description: 'Share of traffic for the new version, e.g. "10%".' },
  pause: {
    description: '{} waits for approval; {duration: N} continues after N seconds.',
    type: 'object',
    additionalProperties: false,
    properties: { duration: { type: 'integer', minimum: 0 } },
  },
  stringMatch: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'value'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 256, pattern: HTTP_TOKEN_PATTERN },
      value: { type: 'string', minLength: 1, maxLength: 4096 },
      type: { enum: ['Exact', 'RegularExpression'], default: 'Exact' },
    },
  },
  match: {
    description: 'Requests matching every field of one entry go to the new version.',
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      headers: { type: 'array', minItems: 1, maxItems: 16, items: { $ref: '#/$defs/stringMatch' } },
      cookie: { type: 'string', minLength: 1, maxLength: 256, pattern: HTTP_TOKEN_PATTERN },
      queryParams: { type: 'array', minItems: 1, maxItems: 16, items: { $ref: '#/$defs/stringMatch' } },
      path: {
        type: 'object',
        additionalProperties: false,
        required: ['value'],
        properties: {
          type: { enum: ['Exact', 'PathPrefix', 'RegularExpression'], default: 'PathPrefix' },
          value: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^/' },
        },
      },
    },
  },
  step: {
    type: 'object',
    additionalProperties: false,
    required: ['replicas'],
    properties: {
      replicas: { $ref: '#/$defs/replicas' },
      traffic: { $ref: '#/$defs/traffic' },
      matches: { type: 'array', minItems: 1, maxItems: 16, items: { $ref: '#/$defs/match' } },
      pause: { $ref: '#/$defs/pause' },
    },
  },
};

const workload: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    kind: { enum: ['Deployment', 'StatefulSet'], default: 'Deployment' },
    image: { type: 'string', minLength: 1 },
    replicas: { type: 'integer', minimum: 0, default: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 8080 },
    portName: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 15, default: 'http' },
    env: {
      description: 'A map of names to values, or a list of Kubernetes EnvVar objects.',
      type: ['object', 'array'],
      additionalProperties: { type: 'string' },
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          value: { type: 'string' },
          valueFrom: { type: 'object' },
        },
      },
    },
    command: { type: 'array', items: { type: 'string' } },
    args: { type: 'array', items: { type: 'string' } },
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['requests', 'limits'].map((k) => [
          k,
          {
            type: 'object',
            additionalProperties: false,
            properties: { cpu: { type: ['string', 'number'] }, memory: { type: 'string' } },
          },
        ]),
      ),
    },
    readinessProbe: { type: 'object', description: 'A Kubernetes Probe.' },
    livenessProbe: { type: 'object', description: 'A Kubernetes Probe.' },
    podLabels: stringMap,
    podAnnotations: stringMap,
  },
};

const route: Schema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ingress: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: dnsName,
        className: { type: 'string', default: 'nginx' },
        host: { type: 'string' },
        path: { type: 'string', pattern: '^/', default: '/' },
        pathType: { enum: ['Prefix', 'Exact', 'ImplementationSpecific'], default: 'Prefix' },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['secretName'],
          properties: { secretName: { type: 'string' } },
        },
        annotations: stringMap,
      },
    },
    gateway: {
      type: 'object',
      additionalProperties: false,
      required: ['parentRefs'],
      properties: {
        name: dnsName,
        parentRefs: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string' }, namespace: { type: 'string' }, sectionName: { type: 'string' } },
          },
        },
        hostnames: { type: 'array', items: { type: 'string' } },
        path: { type: 'string', pattern: '^/', default: '/' },
        pathType: { enum: ['PathPrefix', 'Exact'], default: 'PathPrefix' },
      },
    },
  },
};

const rollout: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['strategy'],
  properties: {
    strategy: { enum: ['canary', 'blueGreen', 'abTest'] },
    engine: { enum: ['builtin', 'kruise'], default: 'builtin' },
    steps: { type: 'array', items: { $ref: '#/$defs/step' } },
    stepWeight: { type: 'integer', minimum: 1, maximum: 100 },
    maxWeight: { type: 'integer', minimum: 1, maximum: 100 },
    stepWeights: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
    pause: { $ref: '#/$defs/pause' },
    gracePeriodSeconds: { type: 'integer', minimum: 0, default: 3 },
    failureThreshold: { type: ['integer', 'string'], minimum: 0, pattern: '^[0-9]+(\\.[0-9]+)?%$' },
    progressDeadlineSeconds: { type: 'integer', minimum: 1, default: 600 },
  },
};

/** The app spec schema. */
export const appSchema: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: SCHEMA_ID,
  title: 'Stepwise App',
  description: 'One app and how a new version of it is released (stepwise.dev/v1alpha1).',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'stepwise.dev/v1alpha1' },
    kind: { const: 'App' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: dnsName,
        namespace: { ...dnsName, default: 'default' },
        labels: stringMap,
        annotations: stringMap,
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['workload', 'rollout'],
      properties: {
        workload,
        service: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            name: dnsName,
            port: { type: 'integer', minimum: 1, maximum: 65535, default: 80 },
            targetPort: { type: ['integer', 'string'] },
          },
        },
        route,
        rollout,
      },
    },
  },
  $defs: defs,
};
