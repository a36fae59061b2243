import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { builtinRolloutCrd } from '../../engines/crd.js';
import { describeObject } from '../../k8s/client.js';
import { reconcilerRbac } from '../../reconciler/rbac.js';
import type { KubeObject } from '../../traffic/objects.js';
import { toYaml } from '../../synth.js';
import { beforeAnyWrite, planObjects, writeChanged } from './apply.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface InstallArgs extends ClusterArgs {
  'watch-namespace'?: string;
  'rbac-out'?: string;
  'dry-run': boolean;
}

export const installCommand: CommandModule<object, InstallArgs> = {
  command: 'install',
  describe: 'Install the builtin Rollout CRD and least-privilege RBAC for the reconciler',
  builder: (y) => y
    .options(clusterOptions)
    .option('watch-namespace', { type: 'string', describe: 'Confine the reconciler to one namespace (a Role instead of a ClusterRole)' })
    .option('rbac-out', { type: 'string', describe: 'Also write the RBAC manifests to this file' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the manifests; change nothing' })
    .example('$0 install', 'CRD, ServiceAccount, ClusterRole and binding in the current namespace')
    .example('$0 install --watch-namespace shop --rbac-out rbac.yaml', 'A Role confined to namespace shop, also saved to rbac.yaml'),
  handler: async (args) => {
    const { client, namespace } = connect(args);
    const rbac = reconcilerRbac({ namespace, ...(args['watch-namespace'] ? { watchNamespace: args['watch-namespace'] } : {}) });
    const objects = [builtinRolloutCrd() as KubeObject, ...rbac];
    if (args['rbac-out']) {
      writeFileSync(args['rbac-out'], toYaml(rbac));
      process.stderr.write(`wrote ${args['rbac-out']}\n`);
    }
    if (args['dry-run']) {
      process.stdout.write(toYaml(objects));
      return;
    }
    const planned = await beforeAnyWrite(() => planObjects(client, objects));
    await writeChanged(client, planned);
    for (const { object, change } of planned) process.stdout.write(`${describeObject(object)} ${change}\n`);
  },
};
