import type { Argv, CommandModule } from 'yargs';
import { KubeApiError, type KubeClient } from '../../k8s/client.js';
import {
  ANNOTATIONS,
  comparableTemplate,
  stableReplicaSet,
  templateHash,
  type Workload,
} from '../../reconciler/observed.js';
import { observe, ownedReplicaSets, ROLLOUT_REF } from '../../reconciler/observe.js';
import { awaitsApproval, runRelease } from '../../reconciler/run.js';
import { summarize, type RolloutSummary } from '../../reconciler/summary.js';
import { type RolloutObject, strategyOf, subStatusOf } from '../../reconciler/types.js';
import { CliError } from '../io.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface NameArgs extends ClusterArgs {
  name: string;
}

const withName = <T>(y: Argv<T>) =>
  y
    .positional('name', { type: 'string', demandOption: true, describe: 'The Rollout (the app name)' })
    .options(clusterOptions);

async function getRollout(client: KubeClient, namespace: string, name: string): Promise<RolloutObject> {
  const rollout = await client.get<RolloutObject>({ ...ROLLOUT_REF, name, namespace });
  if (!rollout) throw new CliError(`Rollout ${namespace}/${name} not found (apply it with \`stepwise apply\`)`);
  return rollout;
}

export function formatSummary(s: RolloutSummary): string {
  const step = s.step
    ? `step ${s.step}/${s.steps} ${s.state}${s.finalising ? ` (${s.finalising})` : ''}`
    : 'no release yet';
  const pods = (p: RolloutSummary['stable']) => `${p.ready}/${p.pods} Ready${p.revision ? ` (${p.revision})` : ''}`;
  const traffic =
    `${s.traffic.weight}% to ` +
    `new${s.traffic.matches.length ? `, plus requests matching ${s.traffic.matches.join(' or ')}` : ''}`;
  return [
    `${s.namespace}/${s.name}: ${s.phase}, ${s.strategy} ${step}`,
    `  stable pods: ${pods(s.stable)}`,
    `  new pods:    ${pods(s.canary)}`,
    `  traffic:     ${traffic}`,
    `  message:     ${s.message}`,
  ].join('\n');
}

export const runCommand: CommandModule<object, NameArgs & { 'until-pause'?: boolean; wait?: boolean }> = {
  command: 'run <name>',
  describe: 'Drive a release from this process: scale, shift traffic, pause, promote, finish',
  builder: (y) =>
    withName(y)
      .option('until-pause', {
        type: 'boolean',
        describe: 'Stop at the next step that waits for approval (the default)',
      })
      .option('wait', {
        type: 'boolean',
        describe: 'Keep going through approvals given by others until the release ends',
      })
      .conflicts('until-pause', 'wait')
      .example('$0 run echoserver', 'Run the release to the next approval, then exit')
      .example('$0 run echoserver --wait', 'Run it to the end (approve with `stepwise promote` from another shell)'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    await getRollout(client, namespace, args.name);
    let last = '';
    const rollout = await runRelease(client, namespace, args.name, {
      until: args.wait ? 'done' : 'pause',
      log: (line) => process.stderr.write(`  - ${line}\n`),
      onPass: ({ rollout: r }) => {
        const line =
          `${r.status?.phase ?? ''} step ${subStatusOf(r)?.currentStepIndex ?? 0} ` +
          `${subStatusOf(r)?.currentStepState ?? ''}: ${r.status?.message ?? ''}`;
        if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
        last = line;
      },
    });
    const observed = await observe(client, namespace, args.name);
    if (observed) process.stdout.write(`${formatSummary(summarize(observed))}\n`);
    if (awaitsApproval(rollout)) process.stdout.write(`next: stepwise promote ${args.name} -n ${namespace}\n`);
  },
};

export const statusCommand: CommandModule<object, NameArgs & { watch: boolean; output: 'text' | 'json' }> = {
  command: 'status <name>',
  describe: 'Show a release: phase, step and state, Ready pods per version, traffic, message',
  builder: (y) =>
    withName(y)
      .option('watch', {
        alias: 'w',
        type: 'boolean',
        default: false,
        describe: 'Keep printing as it changes (Ctrl-C to stop)',
      })
      .option('output', { alias: 'o', choices: ['text', 'json'] as const, default: 'text' as const })
      .example('$0 status echoserver', 'One look')
      .example('$0 status echoserver -w', 'Follow it live'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    await getRollout(client, namespace, args.name);
    let last = '';
    for (;;) {
      const observed = await observe(client, namespace, args.name);
      if (!observed) throw new CliError(`Rollout ${namespace}/${args.name} was deleted`);
      const summary = summarize(observed);
      const text = args.output === 'json' ? JSON.stringify(summary, null, 2) : formatSummary(summary);
      if (text !== last)
        process.stdout.write(
          `${args.watch && last ? '\n' : ''}${args.watch ? `${new Date().toISOString().slice(11, 19)} ` : ''}${text}\n`,
        );
      last = text;
      if (!args.watch) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  },
};

export const promoteCommand: CommandModule<object, NameArgs & { full: boolean }> = {
  command: 'promote <name>',
  describe: 'Approve the paused step (OpenKruise protocol: status currentStepState=StepReady)',
  builder: (y) =>
    withName(y)
      .option('full', { type: 'boolean', default: false, describe: 'Jump to the last step instead of the next one' })
      .example('$0 promote echoserver', 'Go on to the next step')
      .example('$0 promote echoserver --full', 'Skip to the last step')
      .example(
        'kubectl patch rollout.stepwise.dev echoserver --subresource=status --type=merge -p ' +
          '\'{"status":{"blueGreenStatus":{"currentStepState":"StepReady"}}}\'',
        'The same approval with kubectl',
      ),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    const rollout = await getRollout(client, namespace, args.name);
    const { statusKey: key, body } = strategyOf(rollout);
    const sub = subStatusOf(rollout);
    const steps = body.steps.length;
    if (args.full) {
      if (rollout.status?.phase !== 'Progressing')
        throw new CliError(`${args.name} has no release in progress (phase ${rollout.status?.phase ?? 'Initial'})`);
      await client.mergePatch(
        { ...ROLLOUT_REF, name: args.name, namespace },
        { status: { [key]: { nextStepIndex: steps } } },
        'status',
        'stepwise',
      );
      process.stdout.write(`${args.name}: jumping to step ${steps}/${steps}\n`);
      return;
    }
    if (!awaitsApproval(rollout))
      throw new CliError(
        `${args.name} is not waiting for approval (${rollout.status?.phase ?? 'Initial'}, step ` +
          `${sub?.currentStepIndex ?? 0} ${sub?.currentStepState ?? ''})`,
      );
    // Conditional on the version read, so an approval never lands on a different step than the one shown.
    await client.mergePatch(
      { ...ROLLOUT_REF, name: args.name, namespace },
      {
        metadata: { resourceVersion: rollout.metadata.resourceVersion },
        status: { [key]: { currentStepState: 'StepReady' } },
      },
      'status',
      'stepwise',
    );
    process.stdout.write(`${args.name}: step ${sub?.currentStepIndex}/${steps} approved\n`);
  },
};

export const abortCommand: CommandModule<object, NameArgs> = {
  command: 'abort <name>',
  describe: 'Roll the release back now: traffic to the stable version at once, new pods removed, workload restored',
  builder: (y) => withName(y).example('$0 abort echoserver', 'Abort the running release'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    const rollout = await getRollout(client, namespace, args.name);
    if (rollout.status?.phase !== 'Progressing') throw new CliError(`${args.name} has no release in progress`);
    await client.mergePatch(
      { ...ROLLOUT_REF, name: args.name, namespace },
      { metadata: { annotations: { [ANNOTATIONS.abort]: new Date().toISOString() } } },
      undefined,
      'stepwise',
    );
    process.stdout.write(`${args.name}: abort requested; the reconciler rolls it back\n`);
  },
};

export const undoCommand: CommandModule<object, NameArgs> = {
  command: 'undo <name>',
  describe: "Put the workload's template back to the stable revision; the release is cancelled",
  builder: (y) => withName(y).example('$0 undo echoserver', 'Undo the running release'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    const rollout = await getRollout(client, namespace, args.name);
    const stable = subStatusOf(rollout)?.stableRevision;
    if (rollout.status?.phase !== 'Progressing' || !stable)
      throw new CliError(`${args.name} has no release in progress to undo`);
    const ref = rollout.spec.workloadRef;
    const workload = await client.get<Workload>({
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      name: ref.name,
      namespace,
    });
    if (!workload) throw new CliError(`${ref.kind}/${namespace}/${ref.name} not found`);
    const stableSet = stableReplicaSet(await ownedReplicaSets(client, workload), { revision: stable });
    if (!stableSet) throw new CliError(`the stable revision ${stable} of ${ref.name} has no ReplicaSet any more`);
    if (templateHash(stableSet.spec.template) === templateHash(workload.spec.template))
      throw new CliError(`${ref.name} is already at its stable revision`);
    try {
      await client.jsonPatch(
        { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, namespace },
        [
          { op: 'test', path: '/metadata/resourceVersion', value: workload.metadata.resourceVersion },
          { op: 'replace', path: '/spec/template', value: comparableTemplate(stableSet.spec.template) },
        ],
        'stepwise',
      );
    } catch (e) {
      if (e instanceof KubeApiError) throw new CliError(`cannot undo ${ref.name}: ${e.message}`);
      throw e;
    }
    process.stdout.write(`${ref.kind}/${ref.name}: template back at ${stable}; the release is being rolled back\n`);
  },
};
