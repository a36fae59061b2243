import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { KubeObject } from '../../k8s/objects.js';
import type { WebhookEndpoint } from '../../webhook/configuration.js';
import { WEBHOOK_SERVICE } from '../../webhook/names.js';
import { CliError } from '../io.js';
import { clusterOptions, connect, kubeconfigNamespace, type ClusterArgs } from '../kube.js';
import { stepwiseVersion } from './version.js';

interface InstallArgs extends ClusterArgs {
  'watch-namespace'?: string;
  'rbac-out'?: string;
  'dry-run': boolean;
  'webhook-url'?: string;
  'webhook-service'?: boolean;
  'fail-open': boolean;
  controller: boolean;
  image: string;
  'helm-chart'?: string;
}

/** Where `install --controller` runs the controller when no namespace is given. */
const CONTROLLER_NAMESPACE = 'stepwise-system';

function webhookEndpoint(args: Installed, namespace: string): WebhookEndpoint | undefined {
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
  return args['webhook-service'] || args.controller ? { service: { namespace, name: WEBHOOK_SERVICE } } : undefined;
}

/** The namespace the objects go to, with a client unless it is a dry run. */
async function where(args: InstallArgs) {
  if (args.controller && args['webhook-url'])
    throw new CliError('--controller runs the webhook in the cluster, behind a Service: leave out --webhook-url');
  const inCluster = args.controller ? { namespace: args.namespace ?? CONTROLLER_NAMESPACE } : {};
  const namespace = args['dry-run'] ? await kubeconfigNamespace({ ...args, ...inCluster }) : undefined;
  const cluster = namespace === undefined ? await connect({ ...args, ...inCluster }) : undefined;
  return { namespace, cluster };
}

/** What `install` writes for these flags, in order (the namespace and CRD before what lives in them). */
type Installed = Pick<
  InstallArgs,
  'watch-namespace' | 'webhook-url' | 'webhook-service' | 'fail-open' | 'controller' | 'image'
>;

async function installation(args: Installed, home: string) {
  const [{ reconcilerRbac }, { builtinRolloutCrd }, { webhookConfiguration }, { controllerObjects }] =
    await Promise.all([
      import('../../install/rbac.js'),
      import('../../engines/crd.js'),
      import('../../webhook/configuration.js'),
      import('../../install/controller.js'),
    ]);
  const watchNamespace = args['watch-namespace'];
  const rbac = reconcilerRbac({ namespace: home, ...(watchNamespace ? { watchNamespace } : {}) });
  const endpoint = webhookEndpoint(args, home);
  const failOpen = args['fail-open'];
  const webhook = endpoint
    ? [webhookConfiguration({ endpoint, failOpen, ...(watchNamespace ? { namespace: watchNamespace } : {}) })]
    : [];
  const account = rbac.find((o) => o.kind === 'ServiceAccount')?.metadata.name ?? '';
  const [namespaceObject, ...controller] = args.controller
    ? controllerObjects({
        namespace: home,
        image: args.image,
        serviceAccount: account,
        ...(watchNamespace ? { watchNamespace } : {}),
      })
    : [];
  const objects = [
    ...(namespaceObject ? [namespaceObject] : []),
    builtinRolloutCrd() as KubeObject,
    ...rbac,
    ...controller,
    ...webhook,
  ];
  return { objects, rbac, endpoint };
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
      .option('controller', {
        type: 'boolean',
        default: false,
        describe:
          `Also run the controller in the cluster (namespace ${CONTROLLER_NAMESPACE} unless -n): a Deployment of two ` +
          'replicas, a PodDisruptionBudget and the Service of its admission webhook',
      })
      .option('image', {
        type: 'string',
        default: `stepwise:${stepwiseVersion()}`,
        describe: "The controller's image (what scripts/image/build.sh builds, pushed where the cluster pulls from)",
      })
      .option('helm-chart', {
        type: 'string',
        describe:
          'Write the Helm chart of the in-cluster controller (the same objects as --controller) to this directory',
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
        '$0 install --controller --image registry.example.com/stepwise:0.1.0',
        'Everything, with the controller running in namespace stepwise-system',
      )
      .example(
        '$0 install --watch-namespace shop --rbac-out rbac.yaml',
        'A Role confined to namespace shop, also saved to rbac.yaml',
      ),
  handler: async (args) => {
    if (args['helm-chart']) return writeChart(args['helm-chart']);
    // A dry run only prints: it needs no cluster, only the namespace the objects would go to.
    const { namespace, cluster } = await where(args);
    const { objects, rbac, endpoint } = await installation(args, namespace ?? cluster?.namespace ?? 'default');
    const { toYaml } = await import('../../render/synth.js');
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

interface UninstallArgs extends ClusterArgs, Pick<InstallArgs, 'watch-namespace' | 'controller' | 'dry-run'> {
  crd: boolean;
}

async function writeChart(dir: string): Promise<void> {
  const { controllerChart } = await import('../../install/chart.js');
  for (const [file, text] of Object.entries(controllerChart(stepwiseVersion()))) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
    process.stderr.write(`wrote ${join(dir, file)}\n`);
  }
}

/** The label every object `install` makes carries (the CRD aside, which its name identifies). */
const INSTALLED = 'app.kubernetes.io/name';

export const uninstallCommand: CommandModule<object, UninstallArgs> = {
  command: 'uninstall',
  describe: 'Remove what `stepwise install` created (with the same flags); never a Rollout, nor the namespace',
  builder: (y) =>
    y
      .options(clusterOptions)
      .option('watch-namespace', { type: 'string', describe: 'As given to install' })
      .option('controller', { type: 'boolean', default: false, describe: 'As given to install' })
      .option('crd', {
        type: 'boolean',
        default: false,
        describe: 'Also the Rollout CRD, once no Rollout is left (deleting it would delete them)',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would be removed; remove nothing' })
      .example('$0 uninstall --controller', 'Remove the in-cluster controller, its RBAC and webhook; keep the CRD'),
  handler: async (args) => {
    const { client, namespace } = await connect({
      ...args,
      ...(args.controller ? { namespace: args.namespace ?? CONTROLLER_NAMESPACE } : {}),
    });
    const install = { ...args, 'webhook-service': true, image: '', 'fail-open': false };
    const { objects } = await installation(install, namespace);
    const [{ describeObject }, { ROLLOUT_REF }] = await Promise.all([
      import('../../k8s/client.js'),
      import('../../reconciler/observe.js'),
    ]);
    for (const object of [...objects].reverse()) {
      const what = describeObject(object);
      const ref = { ...object, name: object.metadata.name, namespace: object.metadata.namespace };
      const crd = object.kind === 'CustomResourceDefinition';
      if (object.kind === 'Namespace' || (crd && !args.crd)) {
        process.stdout.write(`${what} kept\n`);
        continue;
      }
      const live = await client.get(ref);
      if (!live) continue;
      if (!crd && live.metadata.labels?.[INSTALLED] !== object.metadata.labels?.[INSTALLED]) {
        process.stdout.write(`${what} kept: not made by stepwise install\n`);
        continue;
      }
      if (crd) {
        const left = await client.list(ROLLOUT_REF);
        if (left.length) throw new CliError(`${left.length} Rollouts remain: delete them before the CRD (--crd)`);
      }
      if (!args['dry-run']) await client.delete(ref);
      process.stdout.write(`${what} ${args['dry-run'] ? 'would be deleted' : 'deleted'}\n`);
    }
  },
};
