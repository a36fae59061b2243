import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { SpecError } from '../../appspec/errors.js';
import { yaml } from '../../appspec/yaml-library.js';
import { type PostRenderConfig, PostRenderError, postRender } from '../../helm/post-render.js';
import { CliError } from '../io.js';

interface PostRenderArgs {
  config?: string;
}

function readConfig(file: string): PostRenderConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const config = yaml().parse(text, { uniqueKeys: true }) as PostRenderConfig | null;
    return config ?? {};
  } catch (e) {
    throw new CliError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

const postRenderCommand: CommandModule<object, PostRenderArgs> = {
  command: 'post-render',
  describe:
    'Helm post-renderer: read rendered manifests on stdin, attach a release to each workload annotated ' +
    'stepwise.dev/rollout (or named in --config), write them with the Rollouts to stdout',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        describe: 'YAML with named rollout blocks (rollouts:) and workloads to release (workloads:)',
      })
      .example('helm install web ./chart --post-renderer stepwise', 'Helm 4, with the plugin installed')
      .example('helm install web ./chart --post-renderer ./stepwise-post-render', 'Helm 3, an executable'),
  handler: (args) => {
    const config = args.config ? readConfig(args.config) : {};
    const input = readFileSync(0, 'utf8');
    try {
      // Written only once everything is rendered: a failure leaves stdout empty, never half a release.
      process.stdout.write(postRender(input, config, args.config ?? '--config'));
    } catch (e) {
      if (e instanceof PostRenderError || e instanceof SpecError) throw new CliError(e.message);
      throw e;
    }
  },
};

export const helmCommand: CommandModule<object, object> = {
  command: 'helm <command>',
  describe: 'Helm integration (post-renderer)',
  builder: (y: Argv) => y.command(postRenderCommand).demandCommand(1, 'name a helm command'),
  handler: () => {},
};
