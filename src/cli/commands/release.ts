import type { Argv, CommandModule } from 'yargs';
import type { RolloutSummary } from '../../reconciler/summary.js';
import {
  clusterOptions,
  connect,
  type ClusterArgs,
  type PrometheusArgs,
  prometheusEndpoint,
  prometheusOptions,
} from '../kube.js';

interface NameArgs extends ClusterArgs, PrometheusArgs {
  name: string;
}

const withName = <T>(y: Argv<T>) =>
  y
    .positional('name', { type: 'string', demandOption: true, describe: 'The Rollout (the app name)' })
    .options(clusterOptions);

/** The reconciler's modules, loaded when a release command runs (not for `--help`, nor for other commands). */
const reconciler = async () => {
  const [lease, control, observe, run, summary, types] = await Promise.all([
    import('../../k8s/lease.js'),
    import('../../reconciler/control.js'),
    import('../../reconciler/observe.js'),
    import('../../reconciler/run.js'),
    import('../../reconciler/summary.js'),
    import('../../reconciler/types.js'),
  ]);
  return { ...lease, ...control, ...observe, ...run, ...summary, ...types };
};

export function formatSummary(s: RolloutSummary): string {
  const step = s.step
    ? `step ${s.step}/${s.steps} ${s.state}${s.finalising ? ` (${s.finalising})` : ''}`
    : 'no release yet';
  const pods = (p: RolloutSummary['stable']) => `${p.ready}/${p.pods} Ready${p.revision ? ` (${p.revision})` : ''}`;
  const matching = s.traffic.matches.length ? `, plus requests matching ${s.traffic.matches.join(' or ')}` : '';
  return [
    `${s.namespace}/${s.name}: ${s.phase}, ${s.strategy} ${step}`,
    `  stable pods: ${pods(s.stable)}`,
    `  new pods:    ${pods(s.canary)}`,
    `  traffic:     ${s.traffic.weight}% to new${matching}`,
    ...analysisLines(s.analysis),
    `  message:     ${s.message}`,
  ].join('\n');
}

/** The step's tally, why it stopped if it did, and each of the latest checks with its values. */
function analysisLines(a: RolloutSummary['analysis']): string[] {
  if (!a) return [];
  const tally = `step ${a.step}: ${a.passed} passed, ${a.failed} failed, ${a.inconclusive} inconclusive`;
  const verdict = a.failure ? `; failed: ${a.failure}` : a.halted ? `; waiting for a person: ${a.halted}` : '';
  const checks = a.checks.map(
    (c) => `    ${c.time.slice(11, 19)} step ${c.step} ${c.verdict}: ${c.metrics.map((m) => m.message).join('; ')}`,
  );
  return [`  analysis:    ${tally}${verdict}`, ...checks];
}

export const runCommand: CommandModule<object, NameArgs & { 'until-pause'?: boolean; wait?: boolean }> = {
  command: 'run <name>',
  describe: 'Drive a release from this process: scale, shift traffic, check metrics, pause, promote, finish',
  builder: (y) =>
    withName(y)
      .options(prometheusOptions)
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
    const [{ client, namespace }, r] = await Promise.all([connect(args), reconciler()]);
    await r.getRollout(client, namespace, args.name);
    await drive(r, client, namespace, args, args.wait ? 'done' : 'pause');
  },
};

type Reconciler = Awaited<ReturnType<typeof reconciler>>;
type Client = Awaited<ReturnType<typeof connect>>['client'];

/** Runs the release from this process to the next approval or its end, printing each change, then a summary. */
async function drive(r: Reconciler, client: Client, namespace: string, args: NameArgs, until: 'pause' | 'done') {
  const { name } = args;
  const prometheus = prometheusEndpoint(args);
  let last = '';
  const rollout = await r.runRelease(client, namespace, name, {
    until,
    ...(prometheus ? { prometheus } : {}),
    log: (line) => process.stderr.write(`  - ${line}\n`),
    onPass: ({ rollout: passed }) => {
      const sub = r.subStatusOf(passed);
      const step = `step ${sub?.currentStepIndex ?? 0} ${sub?.currentStepState ?? ''}`;
      const line = `${passed.status?.phase ?? ''} ${step}: ${passed.status?.message ?? ''}`;
      if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
      last = line;
    },
  });
  const observed = await r.observe(client, namespace, name);
  if (observed) process.stdout.write(`${formatSummary(r.summarize(observed))}\n`);
  if (r.awaitsApproval(rollout)) process.stdout.write(`next: stepwise promote ${name} -n ${namespace}\n`);
}

interface ControlArgs extends NameArgs {
  'lease-namespace'?: string;
}

const withControl = <T>(y: Argv<T>) =>
  withName(y)
    .option('lease-namespace', {
      type: 'string',
      describe: "The namespace of the controller's Lease (as given to `stepwise controller`); default: the namespace",
    })
    .options(prometheusOptions);

/**
 * After a control write: a running controller carries it out; with none holding the Lease, this process does, up
 * to `until`, so that an abort takes traffic off the new version now rather than whenever a controller returns.
 */
async function carryOut(r: Reconciler, client: Client, namespace: string, args: ControlArgs, until: 'pause' | 'done') {
  const leaseNamespace = args['lease-namespace'] ?? namespace;
  const lease = `${leaseNamespace}/${r.CONTROLLER_LEASE}`;
  let holder: string | undefined;
  try {
    holder = await r.leaseHolder(client, leaseNamespace, r.CONTROLLER_LEASE);
  } catch (e) {
    const command = `stepwise run ${args.name} -n ${namespace}${until === 'done' ? ' --wait' : ''}`;
    process.stdout.write(
      `cannot read the Lease ${lease} (${(e as Error).message}); with no controller, run: ${command}\n`,
    );
    return;
  }
  if (holder) {
    process.stdout.write(`the controller ${holder} (Lease ${lease}) carries it out\n`);
    return;
  }
  process.stdout.write(`no controller holds the Lease ${lease}: carrying it out from here\n`);
  await drive(r, client, namespace, args, until);
}

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
      .option('output', {
        alias: 'o',
        choices: ['text', 'json'] as const,
        default: 'text' as const,
        describe: 'text for people, json for scripts',
      })
      .example('$0 status echoserver', 'One look')
      .example('$0 status echoserver -w', 'Follow it live'),
  handler: async (args) => {
    const [{ client, namespace }, r] = await Promise.all([connect(args), reconciler()]);
    await r.getRollout(client, namespace, args.name);
    let last = '';
    for (;;) {
      const observed = await r.observe(client, namespace, args.name);
      if (!observed) throw new r.ControlError(`Rollout ${namespace}/${args.name} was deleted`);
      const summary = r.summarize(observed);
      const text = args.output === 'json' ? JSON.stringify(summary, null, 2) : formatSummary(summary);
      if (text !== last) {
        const time = args.watch ? `${new Date().toISOString().slice(11, 19)} ` : '';
        process.stdout.write(`${args.watch && last ? '\n' : ''}${time}${text}\n`);
      }
      last = text;
      if (!args.watch) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  },
};

export const promoteCommand: CommandModule<object, ControlArgs & { full: boolean }> = {
  command: 'promote <name>',
  describe: 'Approve the paused step (OpenKruise protocol: status currentStepState=StepReady)',
  builder: (y) =>
    withControl(y)
      .option('full', { type: 'boolean', default: false, describe: 'Jump to the last step instead of the next one' })
      .example('$0 promote echoserver', 'Go on to the next step')
      .example('$0 promote echoserver --full', 'Skip to the last step')
      .epilogue(
        'The same approval with kubectl (blueGreenStatus, or canaryStatus for a canary):\n\n' +
          '  kubectl patch rollout.stepwise.dev echoserver --subresource=status --type=merge \\\n' +
          `    -p '{"status":{"blueGreenStatus":{"currentStepState":"StepReady"}}}'`,
      ),
  handler: async (args) => {
    const [{ client, namespace }, r] = await Promise.all([connect(args), reconciler()]);
    const rollout = await r.getRollout(client, namespace, args.name);
    process.stdout.write(`${await r.approve(client, rollout, { full: args.full })}\n`);
    await carryOut(r, client, namespace, args, 'pause');
  },
};

export const abortCommand: CommandModule<object, ControlArgs> = {
  command: 'abort <name>',
  describe: 'Roll the release back now: traffic to the stable version at once, new pods removed, workload restored',
  builder: (y) => withControl(y).example('$0 abort echoserver', 'Abort the running release'),
  handler: async (args) => {
    const [{ client, namespace }, r] = await Promise.all([connect(args), reconciler()]);
    const rollout = await r.getRollout(client, namespace, args.name);
    process.stdout.write(`${await r.requestAbort(client, rollout)}\n`);
    await carryOut(r, client, namespace, args, 'done');
  },
};

export const undoCommand: CommandModule<object, ControlArgs> = {
  command: 'undo <name>',
  describe: "Put the workload's template back to the stable revision; the release is cancelled",
  builder: (y) => withControl(y).example('$0 undo echoserver', 'Undo the running release'),
  handler: async (args) => {
    const [{ client, namespace }, r] = await Promise.all([connect(args), reconciler()]);
    const rollout = await r.getRollout(client, namespace, args.name);
    process.stdout.write(`${await r.undo(client, rollout)}\n`);
    await carryOut(r, client, namespace, args, 'done');
  },
};
