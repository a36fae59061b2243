import { publishedSchema } from '../appspec/published-schema.js';
import { ROLLOUT_DEFAULTS } from '../appspec/values.js';
import { BUILTIN_API_VERSION, BUILTIN_GROUP } from './builtin.js';

type Schema = Record<string, unknown>;

/** Step states and phases, with OpenKruise's exact strings. */
export const STEP_STATES = [
  'BeforeStepUpgrade',
  'StepUpgrade',
  'StepTrafficRouting',
  'StepMetricsAnalysis',
  'StepPaused',
  'StepReady',
  'Completed',
] as const;
export const PHASES = ['Initial', 'Healthy', 'Progressing', 'Terminating', 'Disabling', 'Disabled'] as const;

const intOrString: Schema = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };

/**
 * Rewrites a JSON Schema into a Kubernetes structural schema: `$ref`s inlined, int-or-string unions as
 * `x-kubernetes-int-or-string`, `const` as a one-value enum, and keywords the API server rejects dropped
 * (unknown fields are pruned anyway, which is what `additionalProperties: false` says; a map keeps its values').
 */
export function toStructural(schema: Schema): Schema {
  if (typeof schema.$ref === 'string') {
    const defs = publishedSchema().$defs as Record<string, Schema>;
    const target = defs[schema.$ref.replace('#/$defs/', '')];
    if (!target) throw new Error(`no $defs entry for ${schema.$ref}`);
    return toStructural(target);
  }
  const types = schema.type;
  if (Array.isArray(types)) {
    if (types.includes('integer') && types.includes('string'))
      return { ...(schema.description ? { description: schema.description } : {}), ...intOrString };
    throw new Error(`no structural form for type ${JSON.stringify(types)}`);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (['$schema', '$id', 'title', '$defs'].includes(key)) continue;
    // `false` is what pruning does anyway; a schema for the values (a map) is kept, or its entries would be pruned.
    if (key === 'additionalProperties') {
      if (typeof value === 'object') out.additionalProperties = toStructural(value as Schema);
    } else if (key === 'const') out.enum = [value];
    else if (key === 'properties')
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, toStructural(v)]),
      );
    else if (key === 'items') out.items = toStructural(value as Schema);
    else out[key] = value;
  }
  if (out.type === undefined && out.enum)
    out.type = typeof (out.enum as unknown[])[0] === 'number' ? 'integer' : 'string';
  return out;
}

const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer' };

const strategyBody: Schema = {
  type: 'object',
  required: ['steps'],
  properties: {
    steps: { type: 'array', minItems: 1, maxItems: 50, items: { $ref: '#/$defs/step' } },
    trafficRoutings: {
      type: 'array',
      maxItems: 1,
      items: {
        type: 'object',
        required: ['service'],
        properties: {
          service: { type: 'string', minLength: 1 },
          gracePeriodSeconds: { type: 'integer', minimum: 0, default: ROLLOUT_DEFAULTS.gracePeriodSeconds },
          ingress: {
            type: 'object',
            required: ['name'],
            properties: { classType: { type: 'string', default: 'nginx' }, name: str },
          },
          gateway: { type: 'object', required: ['httpRouteName'], properties: { httpRouteName: str } },
        },
      },
    },
    failureThreshold: { type: ['integer', 'string'] },
    enableExtraWorkloadForCanary: { type: 'boolean' },
  },
};

/** The builtin Rollout's spec schema, sharing the step definitions of the app spec. */
export const rolloutSpecSchema: Schema = {
  type: 'object',
  required: ['workloadRef', 'strategy'],
  properties: {
    workloadRef: {
      type: 'object',
      required: ['apiVersion', 'kind', 'name'],
      properties: { apiVersion: str, kind: { enum: ['Deployment', 'StatefulSet'] }, name: str },
    },
    strategy: {
      type: 'object',
      minProperties: 1,
      maxProperties: 2,
      properties: { canary: strategyBody, blueGreen: strategyBody, paused: { type: 'boolean', default: false } },
    },
    disabled: { type: 'boolean', default: false },
    progressDeadlineSeconds: { type: 'integer', minimum: 1, default: ROLLOUT_DEFAULTS.progressDeadlineSeconds },
    analysis: { $ref: '#/$defs/analysis' },
  },
};

/** The fields of a release's progress both strategies store (OpenKruise's CommonStatus). */
const commonStatus = {
  observedWorkloadGeneration: int,
  observedRolloutID: str,
  rolloutHash: str,
  stableRevision: str,
  podTemplateHash: str,
  currentBatchReplicas: intOrString,
  currentStepIndex: int,
  nextStepIndex: int,
  currentStepState: { enum: [...STEP_STATES] },
  finalisingStep: str,
  lastUpdateTime: { type: 'string', format: 'date-time' },
  message: str,
};
const canaryStatus: Schema = {
  type: 'object',
  properties: { ...commonStatus, canaryRevision: str, canaryReplicas: int, canaryReadyReplicas: int },
};
const blueGreenStatus: Schema = {
  type: 'object',
  properties: { ...commonStatus, updatedRevision: str, updatedReplicas: int, updatedReadyReplicas: int },
};

/** The checks of a release's analysis: the latest ones (bounded), and the tally of the current step. */
const analysisStatus: Schema = {
  type: 'object',
  properties: {
    revision: str,
    step: int,
    passed: int,
    failed: int,
    inconclusive: int,
    halted: str,
    failure: str,
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          time: { type: 'string', format: 'date-time' },
          step: int,
          verdict: { enum: ['Passed', 'Failed', 'Inconclusive'] },
          metrics: {
            type: 'array',
            items: {
              type: 'object',
              properties: { metric: str, value: { type: 'number' }, verdict: str, message: str },
            },
          },
        },
      },
    },
  },
};

export const rolloutStatusSchema: Schema = {
  type: 'object',
  properties: {
    observedGeneration: int,
    phase: { enum: [...PHASES] },
    message: str,
    currentStepIndex: int,
    currentStepState: str,
    conditions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: { type: str, status: str, reason: str, message: str, lastUpdateTime: str, lastTransitionTime: str },
      },
    },
    stableTemplateHash: str,
    canaryStatus,
    blueGreenStatus,
    analysis: analysisStatus,
  },
};

/** The CustomResourceDefinition of `stepwise.dev/v1alpha1` Rollout, with a status subresource and kubectl columns. */
export function builtinRolloutCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `rollouts.${BUILTIN_GROUP}` },
    spec: {
      group: BUILTIN_GROUP,
      names: {
        kind: 'Rollout',
        listKind: 'RolloutList',
        plural: 'rollouts',
        singular: 'rollout',
        categories: ['stepwise'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: BUILTIN_API_VERSION.split('/')[1],
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'STATUS', type: 'string', jsonPath: '.status.phase', description: 'The rollout phase' },
            {
              name: 'STEP',
              type: 'integer',
              jsonPath: '.status.currentStepIndex',
              description: 'The current step (1-based)',
            },
            {
              name: 'STATE',
              type: 'string',
              jsonPath: '.status.currentStepState',
              description: 'The state of the current step',
            },
            { name: 'MESSAGE', type: 'string', jsonPath: '.status.message', description: 'What the rollout is doing' },
            { name: 'AGE', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: toStructural({
              type: 'object',
              description: 'A progressive release of one workload, executed step by step by the Stepwise reconciler.',
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                spec: rolloutSpecSchema,
                status: rolloutStatusSchema,
              },
            }),
          },
        },
      ],
    },
  };
}
