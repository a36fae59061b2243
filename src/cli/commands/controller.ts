import { hostname } from 'node:os';
import type { CommandModule } from 'yargs';
import { setTimeout as delay } from 'node:timers/promises';
import type { KubeClient } from '../../k8s/client.js';
import type { Controller } from '../../reconciler/controller.js';
import type { AdmissionWebhook } from '../../webhook/webhook.js';
import { DEFAULT_WEBHOOK_PORT } from '../../webhook/names.js';
import { CliError } from '../io.js';
import {
  clusterOptions,
  connect,
  type ClusterArgs,
  type PrometheusArgs,
  prometheusEndpoint,
  prometheusOptions,
} from '../kube.js';

interface ControllerArgs extends ClusterArgs, PrometheusArgs {
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
  'metrics-bind-address'?: string;
  'health-probe-bind-address'?: string;
  'log-format': 'text' | 'json';
}

type Level = 'info' | 'error';

/** A log line as text (time first) or as one JSON object, the Rollout a line is about in its own field. */
function logLine(format: ControllerArgs['log-format'], line: string, level: Level = 'info'): string {
  const ts = new Date().toISOString();
  if (format === 'text') return `${ts} ${line}\n`;
  const about = /^((?:kruise:)?[a-z0-9-]+\/[a-z0-9.-]+): (.*)$/s.exec(line);
  const fields = about ? { rollout: about[1], msg: about[2] } : { msg: line };
  return `${JSON.stringify({ ts, level, ...fields })}\n`;
}

/** How long passes under way may take to finish when the controller is told to stop. */
const SHUTDOWN_GRACE_MS = 5000;

/** Serves the admission webhook; a port in use is the user's to resolve, so it says which and how. */
async function serveWebhook(
  Webhook: typeof AdmissionWebhook,
  client: KubeClient,
  cache: Controller,
  args: ControllerArgs,
  namespace: string,
  log: (line: string) => void,
  onReviewed: (ms: number) => void,
): Promise<AdmissionWebhook> {
  try {
    return await Webhook.start(client, cache, {
      port: args['webhook-port'],
      namespace,
      log,
      onReviewed,
      ...(args['webhook-bind-address'] ? { host: args['webhook-bind-address'] } : {}),
      ...(args['webhook-cert-dir'] ? { certDir: args['webhook-cert-dir'] } : {}),
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    throw new CliError(
      `cannot serve the admission webhook: port ${args['webhook-port']} is in use (choose another with ` +
        '--webhook-port, or --no-webhook)',
    );
  }
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
        describe:
          'Seconds a standby waits, from when it last saw the Lease change, before it takes over; the leader stops ' +
          'acting when 2/3 of it pass without a renewal',
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
      .options(prometheusOptions)
      .option('metrics-bind-address', {
        type: 'string',
        describe: 'Serve Prometheus metrics at /metrics on this address, HOST:PORT or :PORT (default: not served)',
      })
      .option('health-probe-bind-address', {
        type: 'string',
        describe:
          'Serve /healthz and /readyz (ready once the caches are synced and the webhook serves) on this address ' +
          '(default: not served; may be the metrics address)',
      })
      .option('log-format', {
        choices: ['text', 'json'] as const,
        default: 'text' as const,
        describe: 'Log lines as text, or as JSON objects (ts, level, rollout, msg)',
      })
      .option('stats-every', {
        type: 'number',
        describe:
          'Print a JSON stats line (passes, API requests and retries, slowest pass, memory, webhook reviews) ' +
          'every N seconds',
      })
      .example('$0 controller -A', 'Drive releases in every namespace')
      .example('$0 controller -n shop --workers 16', 'One namespace, more at once')
      .example(
        '$0 controller -A --webhook-bind-address 127.0.0.1',
        'For a local cluster whose webhook was installed with --webhook-url https://127.0.0.1:9443',
      ),
  handler: async (args) => {
    const [
      { client, namespace },
      { CONTROLLER_LEASE, controllerTimings, LeaderElector },
      { Controller },
      { AdmissionWebhook },
      { Registry },
      { serveEndpoints },
    ] = await Promise.all([
      connect(args),
      import('../../k8s/lease.js'),
      import('../../reconciler/controller.js'),
      import('../../webhook/webhook.js'),
      import('../../reconciler/metrics.js'),
      import('../../reconciler/endpoints.js'),
    ]);
    const home = args['lease-namespace'] ?? namespace;
    const log = (line: string, level?: Level) => process.stderr.write(logLine(args['log-format'], line, level));
    client.onRetry = log;
    const prometheus = prometheusEndpoint(args);
    const registry = new Registry();
    const controller = new Controller(client, {
      ...(args['all-namespaces'] ? {} : { namespace }),
      workers: args.workers,
      log,
      registry,
      ...(prometheus ? { prometheus } : {}),
    });
    let webhook: AdmissionWebhook | undefined;
    const reviews = { reviews: 0, totalMs: 0, slowestMs: 0 };
    const reviewSeconds = registry.histogram(
      'stepwise_webhook_review_duration_seconds',
      'Seconds an admission review took.',
    );
    const reviewed = (ms: number) => {
      reviews.reviews++;
      reviews.totalMs += ms;
      reviews.slowestMs = Math.max(reviews.slowestMs, ms);
      reviewSeconds.observe(ms / 1000);
    };
    let leading = false;
    let synced = false;
    registry.gauge('stepwise_leader', '1 while this replica leads (drives releases), else 0.', () => [
      [{}, leading ? 1 : 0],
    ]);
    const ready = () => synced && (!args.webhook || webhook !== undefined);
    const probes = {
      '/healthz': () => ({ status: 200, body: 'ok\n' }),
      '/readyz': () => (ready() ? { status: 200, body: 'ok\n' } : { status: 503, body: 'caches syncing\n' }),
    };
    const metrics = { '/metrics': () => ({ status: 200, body: registry.expose(), type: 'text/plain; version=0.0.4' }) };
    const metricsAddress = args['metrics-bind-address'];
    const probeAddress = args['health-probe-bind-address'];
    const shared = metricsAddress !== undefined && metricsAddress === probeAddress;
    const listening = [
      ...(metricsAddress ? [serveEndpoints(metricsAddress, shared ? { ...metrics, ...probes } : metrics)] : []),
      ...(probeAddress && !shared ? [serveEndpoints(probeAddress, probes)] : []),
    ];
    for (const served of await Promise.all(listening)) log(`serving HTTP on ${served.address}`);
    const elector = args['leader-elect']
      ? new LeaderElector(client, {
          namespace: home,
          name: CONTROLLER_LEASE,
          identity: args.identity ?? `${hostname()}-${process.pid}`,
          ...controllerTimings(args['lease-duration']),
        })
      : undefined;
    // Ends the process: passes under way may finish (a few seconds at most), then the Lease is given up so that
    // a standby leads at once; a pass still running after that is cut off, and the Lease then simply expires.
    let ending = false;
    const end = async (why: string, code: number) => {
      if (ending) return;
      ending = true;
      log(why, code ? 'error' : 'info');
      const stopped = await Promise.race([controller.stop().then(() => true), delay(SHUTDOWN_GRACE_MS, false)]);
      if (stopped && (await elector?.release())) log('gave up the Lease');
      await Promise.race([webhook?.stop(), delay(1000)]);
      process.exit(code);
    };
    process.once('SIGINT', () => void end('SIGINT: stopping', 0));
    process.once('SIGTERM', () => void end('SIGTERM: stopping', 0));
    const fatal = (e: unknown) => {
      log(`fatal: ${(e as Error)?.stack ?? e}`, 'error');
      void end(`stopping on a fatal error: ${(e as Error)?.message ?? e}`, 1);
    };
    process.on('uncaughtException', fatal);
    process.on('unhandledRejection', fatal);
    try {
      // Caches first: a replica that cannot read what releases need (RBAC, say) must never take the lead.
      await controller.sync();
      synced = true;
      if (args.webhook) webhook = await serveWebhook(AdmissionWebhook, client, controller, args, home, log, reviewed);
    } catch (e) {
      await end(`stepwise: ${(e as Error).message}`, 1);
    }
    if (elector) {
      log('waiting to lead');
      await new Promise<void>((started) => {
        void elector.run(
          {
            onStartedLeading: () => {
              leading = true;
              started();
            },
            onStoppedLeading: (why) => {
              leading = false;
              // At once and without cleanup: another replica may lead as soon as the lease expires.
              log(`stopped leading (${why}): exiting so that the new leader alone drives releases`);
              process.exit(1);
            },
          },
          log,
        );
      });
    }
    leading = true;
    controller.run();
    if (args['stats-every']) {
      setInterval(() => {
        const stats = {
          ...controller.stats,
          requests: client.requests,
          retries: client.retries,
          rssBytes: process.memoryUsage().rss,
          webhook: { ...reviews, connections: webhook?.connections ?? 0 },
        };
        process.stderr.write(`stats ${JSON.stringify(stats)}\n`);
      }, args['stats-every'] * 1000).unref();
    }
    await new Promise(() => {});
  },
};
