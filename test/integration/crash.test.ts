import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { STEP_STATES } from '../../src/engines/crd.js';
import type { Workload } from '../../src/reconciler/observed.js';
import { eventually, useCluster } from '../support/kube.js';
import { StepwiseProcess } from '../support/processes.js';
import { echoserver, ReleaseHarness } from '../support/release.js';

const env = useCluster();

/**
 * `stepwise controller` for one namespace, its webhook on any free port (nothing here installs one); killed
 * with this test file, however it ends.
 */
function controller(namespace: string, ...flags: string[]): ChildProcess {
  const args = ['controller', '--kubeconfig', env.cluster.kubeconfig, '-n', namespace, '--webhook-port', '0', ...flags];
  return new StepwiseProcess(args).child;
}

test(
  'kill -9 of the controller in every step state and finalising stage: the release ends the same, no step ' +
    'skipped or repeated',
  async (t) => {
    const spec = (image: string) =>
      echoserver(image, {
        rollout: [
          '    strategy: blueGreen',
          '    gracePeriodSeconds: 2',
          '    steps:',
          '      - {replicas: 100%, traffic: 0%}',
          '      - {replicas: 100%, traffic: 10%}',
          '      - {replicas: 100%, traffic: 100%}',
        ].join('\n'),
      });
    const h = await ReleaseHarness.deployed(env.client, 'crash', spec('example/app:1'));
    const v1 = Object.keys(await h.podsByRevision())[0]!;
    await h.apply(spec('example/app:2'));

    let proc = controller('crash', '--leader-elect=false');
    const killed: string[] = [];
    const seenSteps: number[] = [];
    const timeline: [number, string][] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `the release did not finish; killed in ${killed.join(', ')}`);
      const rollout = await h.rollout();
      const sub = rollout.status?.blueGreenStatus;
      if (rollout.status?.phase === 'Healthy' && sub?.currentStepState === 'Completed' && sub.finalisingStep === 'END')
        break;
      if (sub && rollout.status?.phase === 'Progressing') {
        if (seenSteps[seenSteps.length - 1] !== sub.currentStepIndex) seenSteps.push(sub.currentStepIndex);
        const last = timeline[timeline.length - 1];
        if (!sub.finalisingStep && (!last || last[0] !== sub.currentStepIndex || last[1] !== sub.currentStepState))
          timeline.push([sub.currentStepIndex, sub.currentStepState]);
        const where = sub.finalisingStep
          ? `finalising ${sub.finalisingStep}`
          : `step ${sub.currentStepIndex} ${sub.currentStepState}`;
        if (!killed.includes(where)) {
          killed.push(where);
          proc.kill('SIGKILL');
          await new Promise((r) => proc.once('exit', r));
          // While it is down, approve a paused step: the approval lives in the status, not in the process.
          if (sub.currentStepState === 'StepPaused') await h.promote();
          proc = controller('crash', '--leader-elect=false');
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    t.diagnostic(`killed ${killed.length} times: ${killed.join(', ')}`);

    assert.deepEqual(seenSteps, [1, 2, 3], 'each step once, in order');
    for (const state of ['step 1 StepPaused', 'step 2 StepPaused', 'step 3 StepPaused'])
      assert.ok(killed.includes(state), `killed in ${state}: ${killed.join(', ')}`);
    assert.ok(
      killed.filter((k) => k.startsWith('finalising')).length >= 4,
      `killed while finalising: ${killed.join(', ')}`,
    );
    // The same end state as an uninterrupted release.
    const v2 = (await h.sub()).podTemplateHash;
    assert.deepEqual(await h.podsByRevision(), { [v2]: 5 });
    assert.notEqual(v2, v1);
    assert.deepEqual(
      (await h.pods()).map((p) => p.metadata.labels?.['stepwise.dev/rollout-batch-id']),
      ['1', '1', '1', '1', '1'],
    );
    assert.equal(await h.get('networking.k8s.io/v1', 'Ingress', 'echoserver-ingress-canary'), undefined);
    assert.deepEqual(await h.selector('echoserver-service'), { 'app.kubernetes.io/name': 'echoserver' });
    const d = (await h.get<Workload>('apps/v1', 'Deployment', 'echoserver'))!;
    assert.deepEqual(
      [d.spec.paused, d.spec.minReadySeconds ?? 0, d.spec.strategy?.rollingUpdate],
      [undefined, 0, { maxSurge: '25%', maxUnavailable: '25%' }],
    );
    // Within each step the states only move forward: a step is never re-entered or re-paused after approval.
    const order: readonly string[] = STEP_STATES;
    for (let i = 1; i < timeline.length; i++) {
      const [prevStep, prevState] = timeline[i - 1]!;
      const [step, state] = timeline[i]!;
      assert.ok(
        step > prevStep || (step === prevStep && order.indexOf(state) > order.indexOf(prevState)),
        `went back: ${JSON.stringify(timeline)}`,
      );
    }
    const conditions = (await h.rollout()).status?.conditions?.map((c) => [c.type, c.status]).sort();
    assert.deepEqual(conditions, [
      ['Progressing', 'False'],
      ['Succeeded', 'True'],
    ]);
  },
);

test('two controllers: one leads; kill -9 it and the other takes the Lease and finishes the release', async () => {
  const spec = (image: string) =>
    echoserver(image, {
      rollout:
        '    strategy: blueGreen\n    gracePeriodSeconds: 0\n    steps:\n      - {replicas: 100%, traffic: 0%}\n    ' +
        '  - {replicas: 100%, traffic: 100%, pause: {duration: 0}}',
    });
  const h = await ReleaseHarness.deployed(env.client, 'leader', spec('example/app:1'));
  const start = (identity: string) => controller('leader', '--lease-duration', '3', '--identity', identity);
  const holder = async () =>
    (
      (
        await env.client.get({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          name: 'stepwise-controller',
          namespace: 'leader',
        })
      )?.spec as { holderIdentity?: string } | undefined
    )?.holderIdentity;
  const a = start('replica-a');
  await eventually('replica-a leads', async () => (await holder()) === 'replica-a');
  const b = start('replica-b');
  try {
    await h.apply(spec('example/app:2'));
    await eventually(
      'step 1 paused',
      async () => (await h.sub()).currentStepState === 'StepPaused' && (await h.sub()).currentStepIndex === 1,
    );
    assert.equal(await holder(), 'replica-a', 'the standby does not take over while the leader renews');
    a.kill('SIGKILL');
    await eventually('replica-b takes over', async () => (await holder()) === 'replica-b', 20_000);
    await h.promote();
    await eventually(
      'released by replica-b',
      async () => (await h.rollout()).status?.conditions?.find((c) => c.type === 'Succeeded')?.status === 'True',
      60_000,
    );
  } finally {
    a.kill('SIGKILL');
    b.kill('SIGKILL');
  }
});
