import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { Engine } from '../../appspec/types.js';
import { synthApp } from '../../render/synth.js';
import { engineOption, fileOption, loadFromFiles } from '../io.js';

export const synthCommand: CommandModule<object, { file: string[]; output: string; engine?: Engine }> = {
  command: 'synth',
  describe: 'Synthesize Kubernetes manifests: workload, Services, Ingress or HTTPRoute, Rollout',
  builder: (y) =>
    y
      .option('file', fileOption)
      .option('output', {
        alias: 'o',
        type: 'string',
        default: '-',
        describe: 'Directory for one <app>.k8s.yaml per app, or - for stdout',
      })
      .option('engine', engineOption)
      .example('$0 synth -f examples/blue-green.yaml', 'Print the manifests')
      .example('$0 synth -f base.yaml -f prod.yaml -o dist/', 'Write dist/<app>.k8s.yaml per app')
      .example('$0 synth -f app.yaml --engine kruise', 'Emit an OpenKruise rollouts.kruise.io/v1beta1 Rollout'),
  handler: ({ file, output, engine }) => {
    // Everything is rendered before anything is written, so an error leaves no partial output.
    const rendered = loadFromFiles(file).map(({ app }) => ({ name: app.name, yaml: synthApp(app, engine) }));
    if (output === '-') {
      process.stdout.write(rendered.map((r) => r.yaml).join('---\n'));
      return;
    }
    if (!existsSync(output)) mkdirSync(output, { recursive: true });
    for (const r of rendered) {
      const path = join(output, `${r.name}.k8s.yaml`);
      writeFileSync(path, r.yaml);
      process.stderr.write(`wrote ${path}\n`);
    }
  },
};
