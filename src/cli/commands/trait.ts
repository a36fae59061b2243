import type { CommandModule } from 'yargs';
import { traitDefinition } from '../../kubevela/trait.js';
import { toYaml } from '../../render/synth.js';

export const traitCommand: CommandModule = {
  command: 'trait',
  describe: 'Print the KubeVela TraitDefinition stepwise-rollout (the copy in traits/ is this output)',
  builder: (y) =>
    y
      .example('$0 trait | kubectl apply -f -', 'Install it where KubeVela runs')
      .example('$0 trait > traits/stepwise-rollout.yaml', 'Refresh the copy in this repository'),
  handler: () => {
    process.stdout.write(toYaml([traitDefinition()]));
  },
};
