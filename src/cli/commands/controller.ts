import { hostname } from 'node:os';
import type { CommandModule } from 'yargs';
import type { AdmissionWebhook } from '../../webhook/webhook.js';
import { DEFAULT_WEBHOOK_PORT } from '../../webhook/names.js';
import { CliError } from '../io.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface ControllerArgs extends ClusterArgs {
  'all-namespaces': boolean;
  workers: number;
  'leader-elect': boolean;
  'lease-namespace'?: string;
  identity?: string;
  'stats-every'?: number;
  'lease-duration': number;
  webhook: boolean;
  'webhook-port': number;
  'webhook-bind-address'?: string;
  'webhook-cert-dir'?: string;
}

export const controllerCommand: CommandModule<object, ControllerArgs> = {
  command: 'controller',
  describe: 'Run the reconciler and the admission webhook: watch Rollouts and drive every release, until stopped',
  builder: (y) =>
    y
      .options(clusterOptions)
      .option('all-namespaces', {
        alias: 'A',
        type: 'boolean',
        default: false,
        describe: 'Watch every namespace (default: the current one)',
      })
      .option('workers', { type: 'number', default: 8, describe: 'Releases reconciled at the same time' })
      .option('leader-elect', {
        type: 'boolean',
        default: true,
        describe: 'Run only while holding the stepwise-controller Lease (one active replica)',
      })
      .option('lease-namespace', {
        type: 'string',
        describe: "Namespace of the Lease and of the webhook's certificate Secret (default: the current one)",
      })
      .option('lease-duration', {
        type: 'number',
        default: 15,
        describe: 'Seconds a leader may go without renewing before another replica takes over',
      })
      .option('identity', { type: 'string', describe: "This replica's name in the Lease (default: host name and pid)" })
      .option('webhook', {
        type: 'boolean',
        default: true,
        describe: 'Serve the admission webhook (--no-webhook: releases start safely only through `stepwise apply`)',
      })
      .option('webhook-port', {
        type: 'number',
        default: DEFAULT_WEBHOOK_PORT,
        describe: 'HTTPS port of the admission webhook (0: any free port)',
      })
      .option('webhook-bind-address', {
        type: 'string',
        describe: 'Address the webhook listens on (default: every interface)',
      })
      .option('webhook-cert-dir', {
        type: 'string',
        describe: 'Serve tls.crt and tls.key from this directory instead of a managed certificate',
      })
      .option('stats-every', {
        type: 'number',
        describe:
          'Print a JSON stats line (passes, API requests, slowest pass, memory, webhook reviews) every N seconds',
      })
      .example('$0 controller -A', 'Drive releases in every namespace')
      .example('$0 controller -n shop --workers 16', 'One namespace, more at once')
      .example(
        '$0 controller -A --webhook-bind-address 127.0.0.1',
        'For a local cluster whose webhook was installed with --webhook-url https://127.0.0.1:9443',
      ),
  handler: async (args) => {
    const [{ client, namespace }, { CONTROLLER_LEASE, LeaderElector }, { Controller }, { AdmissionWebhook }] =
      await Promise.all([
        connect(args),
        import('../../k8s/lease.js'),
        import('../../reconciler/controller.js'),
        import('../../webhook/webhook.js'),
      ]);
    const home = args['lease-namespace'] ?? namespace;
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    client.onRetry = log;
    const controller = new Controller(client, {
      ...(args['all-namespaces'] ? {} : { namespace }),
      workers: args.workers,
      log,
    });
    const abort = new AbortController();
    let webhook: AdmissionWebhook | undefined;
    const reviews = { reviews: 0, totalMs: 0, slowestMs: 0 };
    const reviewed = (ms: number) => {
      reviews.reviews++;
      reviews.totalMs += ms;
      reviews.slowestMs = Math.max(reviews.slowestMs, ms);
    };
    const elector = args['leader-elect']
      ? new LeaderElector(client, {
          namespace: home,
          name: CONTROLLER_LEASE,
          identity: args.identity ?? `${hostname()}-${process.pid}`,
          leaseSeconds: args['lease-duration'],
          renewSeconds: Math.max(1, args['lease-duration'] / 3),
        })
      : undefined;
    const shutdown = (signal: string) => {
      log(`${signal}: stopping`);
      abort.abort();
      elector?.stop();
      controller.stop();
      void webhook?.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    await controller.sync();
    if (args.webhook) {
      try {
        webhook = await AdmissionWebhook.start(client, controller, {
          port: args['webhook-port'],
          namespace: home,
          log,
          onReviewed: reviewed,
          ...(args['webhook-bind-address'] ? { host: args['webhook-bind-address'] } : {}),
          ...(args['webhook-cert-dir'] ? { certDir: args['webhook-cert-dir'] } : {}),
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new CliError(
            `cannot serve the admission webhook: port ${args['webhook-port']} is in use (choose another with ` +
              `--webhook-port, or --no-webhook)`,
          );
        }
        throw e;
      }
    }
    if (elector) {
      log('waiting to lead');
      await elector.lead(
        () => {
          log('lost the Lease: stopping so that the new leader alone drives releases');
          controller.stop();
          process.exit(1);
        },
        log,
        abort.signal,
      );
    }
    controller.run();
    if (args['stats-every']) {
      setInterval(() => {
        const stats = {
          ...controller.stats,
          requests: client.requests,
          rssBytes: process.memoryUsage().rss,
          webhook: { ...reviews, connections: webhook?.connections ?? 0 },
        };
        process.stderr.write(`stats ${JSON.stringify(stats)}\n`);
      }, args['stats-every'] * 1000).unref();
    }
    await new Promise(() => {});
  },
};
