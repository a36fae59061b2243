/**
 * Analysis of Kruise-run releases, the pure parts: what the kruise engine writes (the annotation, manual pauses at
 * analyzed steps), how the annotation is read, and what a pass decides at each point of Kruise's state machine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Verdict } from '../../src/analysis/metrics.js';
import { loadApps, readKruiseAnalysis } from '../../src/appspec/load.js';
import type { KruiseAnalysisSpec } from '../../src/appspec/types.js';
import { KRUISE_ANALYSIS_ANNOTATION, KRUISE_ANALYSIS_STATUS_ANNOTATION } from '../../src/appspec/values.js';
import { analyzedView, decideKruiseAnalysis, kruiseCheckDue } from '../../src/reconciler/kruise-analysis.js';
import type { AnalysisCheck, AnalysisStatus, RolloutObject, SubStatus } from '../../src/reconciler/types.js';
import { renderApp } from '../../src/render/app.js';
import { yamlDocument } from '../../src/render/yaml.js';

const T0 = new Date('2026-12-07T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const ANALYSIS = {
  intervalSeconds: 10,
  metrics: [{ name: 'success', template: 'request-success-rate' as const, thresholdRange: { min: 99 } }],
};
const STEPS = [
  { replicas: 1, traffic: '20%', pause: { duration: 0 } },
  { replicas: '50%', traffic: '50%', pause: { duration: 30 } },
  { replicas: '80%', traffic: '80%', pause: {} },
  { replicas: '100%', traffic: '100%' },
];

/** The objects `stepwise synth` writes for a canary with `analysis`, for `engine`. */
function synth(engine: 'kruise' | 'builtin', analysis: object = ANALYSIS, steps: object[] = STEPS) {
  const text = yamlDocument({
    apiVersion: 'stepwise.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'web' },
    spec: {
      workload: { image: 'example/app:1', replicas: 10 },
      route: { ingress: { host: 'web.example.com' } },
      rollout: { engine, strategy: 'canary', steps, analysis },
    },
  });
  const { apps, issues } = loadApps([{ file: 'web.yaml', text }]);
  assert.deepEqual(
    issues.filter((i) => i.severity === 'error'),
    [],
  );
  return renderApp(apps[0]!.app, engine).find((o) => o.kind === 'Rollout') as RolloutObject;
}

const carried = (r: RolloutObject): KruiseAnalysisSpec => {
  const read = readKruiseAnalysis(r.metadata.annotations?.[KRUISE_ANALYSIS_ANNOTATION] ?? '');
  assert.ok('spec' in read, JSON.stringify(read));
  return read.spec;
};

test('the kruise engine carries the analysis in an annotation and pauses each analyzed step for approval', () => {
  const rollout = synth('kruise');
  const steps = rollout.spec.strategy.canary?.steps ?? [];
  assert.deepEqual(
    steps.map((s) => s.pause),
    [{}, {}, {}, {}],
    'analyzed steps wait for approval in Kruise; the last, at 100%, completes at once whatever it says',
  );
  assert.ok(
    steps.every((s) => !('analyze' in s)),
    "Kruise's Rollout has no analyze field",
  );
  const spec = carried(rollout);
  assert.deepEqual(spec.steps, [
    { analyze: true, pause: { duration: 0 } },
    { analyze: true, pause: { duration: 30 } },
    { analyze: true, pause: {} },
    { analyze: false },
  ]);
  assert.deepEqual(spec.analysis, synth('builtin').spec.analysis, "the builtin Rollout's analysis, exactly");
  assert.equal(synth('kruise', { ...ANALYSIS, everyStep: false }).spec.strategy.canary?.steps[0]?.pause?.duration, 0);
});

test('the annotation is read against its schema: defaults filled in, every problem named by its field', () => {
  assert.deepEqual(readKruiseAnalysis('{"analysis": '), { problems: [`not JSON: ${jsonError('{"analysis": ')}`] });
  const read = readKruiseAnalysis(JSON.stringify({ analysis: ANALYSIS }));
  assert.ok('spec' in read);
  assert.equal(read.spec.analysis.failureLimit, 0);
  assert.equal(read.spec.analysis.noData, 'inconclusive');
  const bad = readKruiseAnalysis(
    JSON.stringify({ analysis: { intervalSeconds: 0, metrics: [{ name: 'm', query: 'up' }] }, steps: [{ wait: 1 }] }),
  );
  assert.ok('problems' in bad);
  assert.deepEqual(bad.problems.sort(), [
    'analysis.intervalSeconds: must be at least 1, got 0',
    'analysis.metrics[0]: missing required field "thresholdRange"',
    'steps[0].wait: unknown field "wait"; expected one of: analyze, pause',
  ]);
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

test('written by hand without steps, the steps Kruise pauses for a person are analyzed and approved on passing', () => {
  const rollout = synth('kruise');
  const view = analyzedView(rollout, { analysis: ANALYSIS });
  assert.deepEqual(
    view.spec.strategy.canary?.steps.map((s) => [s.analyze, s.pause]),
    [
      [true, { duration: 0 }],
      [true, { duration: 0 }],
      [true, { duration: 0 }],
      [true, { duration: 0 }],
    ],
  );
});

/** The synthesized Kruise Rollout as Kruise's controller leaves it at step `step`, with a stored record. */
function kruiseAt(sub: Partial<SubStatus>, record?: AnalysisStatus, phase = 'Progressing'): RolloutObject {
  const rollout = synth('kruise');
  const annotations = {
    ...rollout.metadata.annotations,
    ...(record ? { [KRUISE_ANALYSIS_STATUS_ANNOTATION]: JSON.stringify(record) } : {}),
  };
  const canaryStatus = {
    canaryRevision: 'v2',
    podTemplateHash: 'h2',
    stableRevision: 'h1',
    canaryReplicas: 1,
    canaryReadyReplicas: 1,
    currentStepIndex: 1,
    nextStepIndex: 2,
    currentStepState: 'StepPaused',
    finalisingStep: '',
    lastUpdateTime: T0.toISOString(),
    ...sub,
  } as SubStatus;
  return {
    ...rollout,
    metadata: { ...rollout.metadata, annotations },
    status: { phase: phase as 'Progressing', canaryStatus },
  };
}

const check = (step: number, verdict: Verdict, seconds: number, value = 100): AnalysisCheck => ({
  time: at(seconds).toISOString(),
  step,
  verdict,
  metrics: [{ metric: 'success', value, verdict, message: `success = ${value}` }],
});

/** Decides for the Rollout at `now`, with the check a pass would have taken. */
const decideAt = (rollout: RolloutObject, seconds: number, analysisCheck?: AnalysisCheck) =>
  decideKruiseAnalysis({
    rollout: analyzedView(rollout, carried(rollout)),
    now: at(seconds),
    ...(analysisCheck ? { analysisCheck } : {}),
  });

test('at an analyzed pause the first check is due one interval after Kruise paused, and nothing before', () => {
  const rollout = kruiseAt({});
  const view = (seconds: number) => ({ rollout: analyzedView(rollout, carried(rollout)), now: at(seconds) });
  assert.equal(kruiseCheckDue(view(9)), false);
  assert.equal(kruiseCheckDue(view(10)), true);
  assert.deepEqual(decideAt(rollout, 4), { events: [], requeueAfterMs: 6000 });
  for (const state of ['StepUpgrade', 'StepTrafficRouting', 'StepReady'] as const)
    assert.deepEqual(decideAt(kruiseAt({ currentStepState: state }), 60), { events: [] }, `nothing at ${state}`);
  assert.deepEqual(decideAt(kruiseAt({ currentStepIndex: 4 }), 60), { events: [] }, 'the last step is not analyzed');
  assert.deepEqual(decideAt(kruiseAt({}, undefined, 'Healthy'), 60), { events: [] });
});

test('a passed check approves a step without a pause at once, and records the check', () => {
  const d = decideAt(kruiseAt({}), 10, check(1, 'Passed', 10));
  assert.equal(d.approve, true);
  assert.deepEqual([d.record?.passed, d.record?.checks.length], [1, 1]);
  assert.deepEqual(d.events, [{ type: 'Normal', reason: 'AnalysisPassed', message: 'step 1: success = 100' }]);
  assert.equal(decideAt(kruiseAt({}), 10, check(2, 'Passed', 10)).approve, undefined, "another step's check");
});

test('after passing, a timed pause is waited out before approval, and a pause for a person is left to one', () => {
  const passed = decideAt(kruiseAt({ currentStepIndex: 2 }), 10, check(2, 'Passed', 10));
  assert.deepEqual([passed.approve, passed.requeueAfterMs], [undefined, 30_000]);
  const stored = kruiseAt({ currentStepIndex: 2 }, passed.record);
  assert.deepEqual(decideAt(stored, 25), { events: [], requeueAfterMs: 15_000 });
  assert.deepEqual(decideAt(stored, 40), { events: [], approve: true });
  const manual = decideAt(kruiseAt({ currentStepIndex: 3 }), 10, check(3, 'Passed', 10));
  assert.deepEqual([manual.approve, manual.requeueAfterMs, manual.record?.passed], [undefined, undefined, 1]);
});

test('a failed check past the limit rolls back, and goes on asking for it until Kruise has taken it', () => {
  const d = decideAt(kruiseAt({}), 10, check(1, 'Failed', 10, 42));
  assert.equal(d.approve, undefined);
  assert.equal(d.rollback, 'success = 42 (1 failed check at step 1, failureLimit 0)');
  assert.deepEqual(
    d.events.map((e) => [e.type, e.reason, e.message]),
    [
      ['Warning', 'AnalysisFailed', 'step 1: success = 42'],
      ['Warning', 'RollingBack', 'analysis failed: success = 42 (1 failed check at step 1, failureLimit 0)'],
    ],
  );
  assert.deepEqual(decideAt(kruiseAt({}, d.record), 11), { rollback: d.rollback, events: [] });
});

test('inconclusive past its limit waits for a person, says how to go on, and is not asked again', () => {
  const d = decideAt(kruiseAt({}), 10, check(1, 'Inconclusive', 10));
  assert.equal(d.approve, undefined);
  assert.equal(d.rollback, undefined);
  assert.match(d.record?.halted ?? '', /^success = 100 \(1 inconclusive check at step 1, inconclusiveLimit 0\)$/);
  assert.deepEqual(
    d.events.map((e) => e.reason),
    ['AnalysisInconclusive', 'AnalysisHalted'],
  );
  assert.match(d.events[1]?.message ?? '', /kubectl-kruise rollout approve/);
  assert.deepEqual(decideAt(kruiseAt({}, d.record), 60), { events: [] });
});
