import type { CommandModule } from 'yargs';
import { builtinRolloutCrd } from '../../engines/crd.js';
import type { KubeObject } from '../../k8s/objects.js';
import { publishedSchema } from '../../appspec/published-schema.js';
import { toYaml } from '../../render/synth.js';

export const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'Print the JSON Schema (2020-12) of the app spec',
  builder: (y) => y.example('$0 schema > app.schema.json', 'Save it for an editor'),
  handler: () => {
    process.stdout.write(`${JSON.stringify(publishedSchema(), null, 2)}\n`);
  },
};

export const crdCommand: CommandModule = {
  command: 'crd',
  describe: 'Print the CustomResourceDefinition of the builtin stepwise.dev/v1alpha1 Rollout',
  builder: (y) => y.example('$0 crd | kubectl apply --server-side -f -', 'Install it'),
  handler: () => {
    process.stdout.write(toYaml([builtinRolloutCrd() as KubeObject]));
  },
};
