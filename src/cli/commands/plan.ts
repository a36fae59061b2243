import type { CommandModule } from 'yargs';
import { planApp, type PausePlan, type Plan } from '../../plan/plan.js';
import { formatBytes, formatCpu } from '../../plan/quantity.js';
import type { MatchSpec } from '../../appspec/types.js';
import { fileOption, loadFromFiles } from '../io.js';
import { table } from '../table.js';

export const planCommand: CommandModule<object, { file: string[]; output: 'table' | 'json' }> = {
  command: 'plan',
  describe: 'Show each step of the release: pods per version, traffic, matches, pause, and the extra capacity it needs',
  builder: (y) =>
    y
      .usage('$0 plan -f FILE... [options]')
      .option('file', fileOption)
      .option('output', {
        alias: 'o',
        choices: ['table', 'json'] as const,
        default: 'table' as const,
        describe: 'Format: a table per app, or JSON (an array of plans, each step as PlannedStep documents)',
      })
      .example('$0 plan -f examples/blue-green.yaml', 'A table per app')
      .example('$0 plan -f app.yaml -o json', 'The plan as JSON'),
  handler: ({ file, output }) => {
    const plans = loadFromFiles(file).map(({ app }) => planApp(app));
    process.stdout.write(
      output === 'json' ? `${JSON.stringify(plans, null, 2)}\n` : `${plans.map(renderPlan).join('\n\n')}\n`,
    );
  },
};

export function renderPlan(plan: Plan): string {
  const rows = plan.steps.map((s) => [
    `${s.index}/${plan.steps.length}`,
    String(s.replicas),
    String(s.canaryPods),
    String(s.stablePods),
    s.traffic === 0 && s.matches.length ? '0% (matches only)' : `${s.traffic}%`,
    s.matches.length ? s.matches.map(describeMatch).join(' OR ') : '-',
    describePause(s.pause),
  ]);
  const peak = plan.peak;
  const resources =
    peak.cpuCores || peak.memoryBytes
      ? `, requesting ${formatCpu(peak.cpuCores)} CPU and ${formatBytes(peak.memoryBytes)} memory`
      : ' (no resource requests set)';
  return [
    `${plan.namespace}/${plan.name}: ${plan.strategy} (${plan.style} style), ${plan.replicas} replicas`,
    table(['STEP', 'REPLICAS', 'NEW PODS', 'OLD PODS', 'TRAFFIC', 'MATCHES', 'PAUSE'], rows),
    `peak: ${peak.extraPods} extra pod${peak.extraPods === 1 ? '' : 's'}${resources}`,
  ].join('\n');
}

/** How a path match reads in the table: `=/x` exact, `~^/x` a regular expression, `/x*` a prefix. */
const PATH_MATCH_SIGN = { Exact: '=', RegularExpression: '~', PathPrefix: '' } as const;
const prefixMark = (type: string | undefined) => (type === 'PathPrefix' ? '*' : '');

function describeMatch(m: MatchSpec): string {
  const parts = [
    ...(m.headers ?? []).map((h) => `${h.name}${h.type === 'RegularExpression' ? '~' : '='}${h.value}`),
    ...(m.cookie ? [`cookie ${m.cookie}=always`] : []),
    ...(m.queryParams ?? []).map((q) => `?${q.name}${q.type === 'RegularExpression' ? '~' : '='}${q.value}`),
    ...(m.path
      ? [`path ${PATH_MATCH_SIGN[m.path.type ?? 'PathPrefix']}${m.path.value}${prefixMark(m.path.type)}`]
      : []),
  ];
  return parts.join(' AND ');
}

function describePause(p: PausePlan): string {
  if (p.kind === 'manual') return 'approval';
  return p.kind === 'timed' ? `${p.seconds}s` : '-';
}
