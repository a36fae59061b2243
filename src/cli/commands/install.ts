import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import type { KubeObject } from '../../k8s/objects.js';
import type { WebhookEndpoint } from '../../webhook/configuration.js';
import { WEBHOOK_SERVICE } from '../../webhook/names.js';
import { CliError } from '../io.js';
import { clusterOptions, connect, kubeconfigNamespace, type ClusterArgs } from '../kube.js';

interface InstallArgs extends ClusterArgs {
  'watch-namespace'?: string;
  'rbac-out'?: string;
  'dry-run': boolean;
  'webhook-url'?: string;
  'webhook-service'?: boolean;
  'fail-open': boolean;
}

function webhookEndpoint(args: InstallArgs, namespace: string): WebhookEndpoint | undefined {
  if (args['webhook-url']) {
    let url: URL;
    try {
      url = new URL(args['webhook-url']);
    } catch {
      throw new CliError(`--webhook-url ${args['webhook-url']}: not a URL (expected https://HOST:PORT)`);
    }
    if (url.protocol !== 'https:')
      throw new CliError(`--webhook-url ${args['webhook-url']}: the API server calls webhooks over https only`);
    return { url: url.origin };
  }
  return args['webhook-service'] ? { service: { namespace, name: WEBHOOK_SERVICE } } : undefined;
}

export const installCommand: CommandModule<object, InstallArgs> = {
  command: 'install',
  describe:
    'Install the builtin Rollout CRD, least-privilege RBAC for the controller and, optionally, its admission webhook',
  builder: (y) =>
    y
      .options(clusterOptions)
      .option('watch-namespace', {
        type: 'string',
        describe: 'Confine the controller to one namespace (a Role instead of a ClusterRole)',
      })
      .option('webhook-url', {
        type: 'string',
        describe: 'Admission webhook of a controller running outside the cluster, as https://HOST:PORT',
      })
      .option('webhook-service', {
        type: 'boolean',
        describe: `Admission webhook of an in-cluster controller behind the Service ${WEBHOOK_SERVICE}`,
      })
      .option('fail-open', {
        type: 'boolean',
        default: false,
        describe: 'When the webhook is unreachable, let governed changes through unchecked (default: refuse them)',
      })
      .option('rbac-out', { type: 'string', describe: 'Also write the RBAC manifests to this file' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print the manifests; change nothing' })
      .conflicts('webhook-url', 'webhook-service')
      .example(
        '$0 install',
        'CRD, ServiceAccount and RBAC in the current namespace; releases start through `stepwise apply`',
      )
      .example(
        '$0 install --webhook-url https://127.0.0.1:9443',
        'Also the admission webhook of a controller on this machine: any deployer starts releases safely',
      )
      .example(
        '$0 install --watch-namespace shop --rbac-out rbac.yaml',
        'A Role confined to namespace shop, also saved to rbac.yaml',
      ),
  handler: async (args) => {
    // A dry run only prints: it needs no cluster, only the namespace the objects would go to.
    const namespace = args['dry-run'] ? await kubeconfigNamespace(args) : undefined;
    const cluster = namespace === undefined ? await connect(args) : undefined;
    const [{ reconcilerRbac }, { builtinRolloutCrd }, { toYaml }, { webhookConfiguration }] = await Promise.all([
      import('../../install/rbac.js'),
      import('../../engines/crd.js'),
      import('../../render/synth.js'),
      import('../../webhook/configuration.js'),
    ]);
    const home = namespace ?? cluster?.namespace ?? 'default';
    const watchNamespace = args['watch-namespace'];
    const rbac = reconcilerRbac({ namespace: home, ...(watchNamespace ? { watchNamespace } : {}) });
    const endpoint = webhookEndpoint(args, home);
    const failOpen = args['fail-open'];
    const webhook = endpoint
      ? [webhookConfiguration({ endpoint, failOpen, ...(watchNamespace ? { namespace: watchNamespace } : {}) })]
      : [];
    const objects = [builtinRolloutCrd() as KubeObject, ...rbac, ...webhook];
    if (args['rbac-out']) {
      writeFileSync(args['rbac-out'], toYaml(rbac));
      process.stderr.write(`wrote ${args['rbac-out']}\n`);
    }
    if (!cluster) {
      process.stdout.write(toYaml(objects));
      return;
    }
    const [{ planObjects, writeChanged }, { describeObject }] = await Promise.all([
      import('../../apply/plan.js'),
      import('../../k8s/client.js'),
    ]);
    const { client } = cluster;
    const planned = await planObjects(client, objects);
    await writeChanged(client, planned);
    for (const { object, change } of planned) process.stdout.write(`${describeObject(object)} ${change}\n`);
    if (!endpoint) {
      process.stderr.write(
        'no admission webhook installed: only `stepwise apply` starts releases safely (add --webhook-url or ' +
          '--webhook-service so that any deployer does)\n',
      );
    } else if (args['fail-open']) {
      process.stderr.write(
        'the webhook fails open: while `stepwise controller` is down, governed changes go through unchecked and the ' +
          'reconciler takes over when it returns\n',
      );
    }
  },
};
