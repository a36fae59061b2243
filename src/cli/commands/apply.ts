import type { CommandModule } from 'yargs';
import { fileOption, loadFromFiles } from '../io.js';
import { clusterOptions, connect, type ClusterArgs } from '../kube.js';

interface ApplyArgs extends ClusterArgs {
  file: string[];
}

export const applyCommand: CommandModule<object, ApplyArgs> = {
  command: 'apply',
  describe: 'Apply apps to the cluster with server-side apply; a new version of a workload starts its release',
  builder: (y) =>
    y
      .usage('$0 apply -f FILE... [options]')
      .option('file', fileOption)
      .options(clusterOptions)
      .example(
        '$0 apply -f examples/blue-green.yaml',
        'Apply; if the image changed, the release waits at step 1 for `stepwise run`',
      )
      .example('$0 apply -f base.yaml -f prod.yaml -n shop', 'Apply the unified layers into namespace shop'),
  handler: async (args) => {
    const apps = loadFromFiles(args.file);
    const [{ client }, { applyPlanned, planApply }, { describeObject }] = await Promise.all([
      connect(args),
      import('../../apply/plan.js'),
      import('../../k8s/client.js'),
    ]);
    const planned = [];
    for (const { app } of apps) planned.push({ app, ...(await planApply(client, app, args.namespace)) });
    for (const { app, objects, release, rollback } of planned) {
      await applyPlanned(client, objects);
      for (const { object, change } of objects) process.stdout.write(`${describeObject(object)} ${change}\n`);
      const namespace = objects[0].object.metadata.namespace;
      if (release) {
        process.stdout.write(
          `${app.name}: release started (${app.rollout.strategy}, ${app.rollout.steps.length} steps); drive it with ` +
            `\`stepwise run ${app.name} -n ${namespace}\` or a running \`stepwise controller\`\n`,
        );
      }
      if (rollback) process.stdout.write(`${app.name}: back at the stable version; the release is being rolled back\n`);
    }
  },
};
