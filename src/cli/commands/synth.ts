import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { Engine } from '../../appspec/types.js';
import { renderApp } from '../../render/app.js';
import { toJson, toYaml } from '../../render/synth.js';
import { engineOption, fileOption, loadFromFiles } from '../io.js';

interface SynthArgs {
  file: string[];
  output: 'yaml' | 'json';
  'output-dir'?: string;
  engine?: Engine;
}

/** What synth writes into an output directory, and so may replace or remove there: nothing else is touched. */
const MANIFEST = /\.k8s\.(yaml|json)$/;

export const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'Synthesize Kubernetes manifests: workload, Services, Ingress or HTTPRoute, Rollout',
  builder: (y) =>
    y
      .usage('$0 synth -f FILE... [options]')
      .option('file', fileOption)
      .option('output', {
        alias: 'o',
        choices: ['yaml', 'json'] as const,
        default: 'yaml' as const,
        describe: 'Format: yaml (multi-document) or json (a v1 List)',
      })
      .option('output-dir', {
        type: 'string',
        describe: 'Write one <app>.k8s.yaml (or .json) per app here; stale ones from earlier runs are removed',
      })
      .option('engine', engineOption)
      .example('$0 synth -f examples/blue-green.yaml', 'Print the manifests')
      .example('$0 synth -f base.yaml -f prod.yaml --output-dir dist/', 'Write dist/<app>.k8s.yaml per app')
      .example('$0 synth -f app.yaml --engine kruise', 'Emit an OpenKruise rollouts.kruise.io/v1beta1 Rollout'),
  handler: ({ file, output, engine, 'output-dir': dir }) => {
    // Everything is rendered before anything is written, so an error leaves no partial output.
    const format = output === 'json' ? toJson : toYaml;
    const apps = loadFromFiles(file).map(({ app }) => ({ name: app.name, objects: renderApp(app, engine) }));
    if (dir === undefined) {
      process.stdout.write(format(apps.flatMap((a) => a.objects)));
      return;
    }
    writeDirectory(
      dir,
      apps.map((a) => ({ file: `${a.name}.k8s.${output}`, text: format(a.objects) })),
    );
  },
};

/** Writes the manifests into `dir`, saying what each write did, and removes manifests no app renders any more. */
function writeDirectory(dir: string, manifests: readonly { file: string; text: string }[]): void {
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(manifests.map((m) => m.file));
  for (const stale of readdirSync(dir).filter((f) => MANIFEST.test(f) && !wanted.has(f))) {
    rmSync(join(dir, stale));
    process.stderr.write(`removed ${join(dir, stale)} (no app renders it now)\n`);
  }
  for (const { file, text } of manifests) {
    const path = join(dir, file);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (before === text) {
      process.stderr.write(`unchanged ${path}\n`);
      continue;
    }
    writeFileSync(path, text);
    process.stderr.write(`${before === undefined ? 'wrote' : 'replaced'} ${path}\n`);
  }
}
