import { hostname } from 'node:os';
import type { CommandModule } from 'yargs';
import { LeaderElector } from '../../k8s/lease.js';
import { Controller } from '../../reconciler/controller.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface ControllerArgs extends ClusterArgs {
  'all-namespaces': boolean;
  workers: number;
  'leader-elect': boolean;
  'lease-namespace'?: string;
  identity?: string;
  'stats-every'?: number;
  'lease-duration': number;
}

export const controllerCommand: CommandModule<object, ControllerArgs> = {
  command: 'controller',
  describe: 'Run the reconciler: watch Rollouts and drive every release, until stopped',
  builder: (y) => y
    .options(clusterOptions)
    .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'Watch every namespace (default: the current one)' })
    .option('workers', { type: 'number', default: 8, describe: 'Releases reconciled at the same time' })
    .option('leader-elect', { type: 'boolean', default: true, describe: 'Run only while holding the stepwise-controller Lease (one active replica)' })
    .option('lease-namespace', { type: 'string', describe: 'Namespace of the Lease (default: the watched namespace, or "default")' })
    .option('lease-duration', { type: 'number', default: 15, describe: 'Seconds a leader may go without renewing before another replica takes over' })
    .option('identity', { type: 'string', describe: 'This replica\'s name in the Lease (default: host name and pid)' })
    .option('stats-every', { type: 'number', describe: 'Print a JSON stats line (passes, API requests, slowest pass, memory) every N seconds' })
    .example('$0 controller -A', 'Drive releases in every namespace')
    .example('$0 controller -n shop --workers 16', 'One namespace, more at once'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    const controller = new Controller(client, { ...(args['all-namespaces'] ? {} : { namespace }), workers: args.workers, log });
    const abort = new AbortController();
    const elector = args['leader-elect']
      ? new LeaderElector(client, { namespace: args['lease-namespace'] ?? (args['all-namespaces'] ? 'default' : namespace), name: 'stepwise-controller', identity: args.identity ?? `${hostname()}-${process.pid}`, leaseSeconds: args['lease-duration'], renewSeconds: Math.max(1, args['lease-duration'] / 3) })
      : undefined;
    const shutdown = (signal: string) => {
      log(`${signal}: stopping`);
      abort.abort();
      elector?.stop();
      controller.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    if (elector) {
      log('waiting to lead');
      await elector.lead(() => {
        log('lost the Lease: stopping so that the new leader alone drives releases');
        controller.stop();
        process.exit(1);
      }, log, abort.signal);
    }
    await controller.start();
    if (args['stats-every']) {
      setInterval(() => {
        process.stderr.write(`stats ${JSON.stringify({ ...controller.stats, requests: client.requests, rssBytes: process.memoryUsage().rss })}\n`);
      }, args['stats-every'] * 1000).unref();
    }
    await new Promise(() => {});
  },
};
