import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import type { Strategy } from '../../appspec/types.js';
import { loadApps } from '../../appspec/load.js';
import { printable } from '../../appspec/errors.js';
import { yaml } from '../../appspec/yaml-library.js';
import { CliError } from '../io.js';

const TEMPLATES = fileURLToPath(new URL('../../../../templates/init/', import.meta.url));
/** The JSON Schema this installation ships, which the scaffold's modeline points editors at. */
const SCHEMA = fileURLToPath(new URL('../../../../schema/app.schema.json', import.meta.url));

interface InitArgs {
  name: string;
  strategy: Strategy;
  route: 'ingress' | 'gateway';
  image: string;
  namespace: string;
  'output-file'?: string;
  force: boolean;
}

/**
 * Fills a scaffold from templates/init and checks that the result is a valid spec before writing it. Its
 * modeline points at this installation's schema, relative to where the file goes (`node_modules/stepwise/...`
 * for a project that has Stepwise as a dependency).
 */
export function scaffold(args: Omit<InitArgs, 'output-file' | 'force'>, target = '-'): string {
  const schema = relative(target === '-' ? '.' : dirname(target), SCHEMA);
  const fill = (text: string) =>
    text
      .replaceAll('{{schema}}', schema.startsWith('.') ? schema : `./${schema}`)
      .replaceAll('{{name}}', args.name)
      .replaceAll('{{namespace}}', args.namespace)
      .replaceAll('{{image}}', args.image);
  const { parse, parseDocument } = yaml();
  const doc = parseDocument(fill(readFileSync(`${TEMPLATES}${args.strategy}.yaml`, 'utf8')));
  if (args.route === 'gateway')
    doc.setIn(['spec', 'route'], doc.createNode(parse(fill(readFileSync(`${TEMPLATES}route-gateway.yaml`, 'utf8')))));
  return doc.toString({ lineWidth: 0 });
}

/** The option behind each scaffold field a bad option can break. */
const OPTION_OF: Record<string, string> = {
  'metadata.name': 'the app name',
  'metadata.namespace': '--namespace',
  'spec.workload.image': '--image',
  'spec.route.ingress.host': 'the app name (the host is <name>.example.com)',
  'spec.route.gateway.hostnames[0]': 'the app name (the host name is <name>.example.com)',
};

export const initCommand: CommandModule<object, InitArgs> = {
  command: 'init <name>',
  describe: 'Scaffold an app spec (from templates/init) to start from',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'App name (a DNS label)' })
      .option('strategy', {
        alias: 's',
        choices: ['canary', 'blueGreen', 'abTest'] as const,
        default: 'canary' as const,
        describe: 'How new versions are released',
      })
      .option('route', {
        choices: ['ingress', 'gateway'] as const,
        default: 'ingress' as const,
        describe: 'nginx Ingress or Gateway API HTTPRoute',
      })
      .option('image', { type: 'string', default: 'registry.example.com/app:1.0.0', describe: 'The container image' })
      .option('namespace', { alias: 'n', type: 'string', default: 'default', describe: "The app's namespace" })
      .option('output-file', { type: 'string', describe: 'File to write (default <name>.yaml), - for stdout' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite an existing file' })
      .example('$0 init web', 'Write web.yaml: a canary behind an nginx Ingress')
      .example('$0 init web -s blueGreen --route gateway --output-file -', 'Print a blue-green spec on an HTTPRoute'),
  handler: (args) => {
    const target = args['output-file'] ?? `${args.name}.yaml`;
    const text = scaffold(args, target);
    const errors = loadApps([{ file: target, text }]).issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) {
      // The file was never written, so the problems are named by the option that caused them, not a line of it.
      const lines = errors.map((i) => `${printable(`${OPTION_OF[i.path] ?? i.path}: ${i.message}`)}\n`);
      process.stderr.write(lines.join(''));
      throw new CliError('the scaffold would not be valid with these options; nothing was written');
    }
    if (target === '-') {
      process.stdout.write(text);
      return;
    }
    if (existsSync(target) && !args.force) throw new CliError(`${target} exists; pass --force to overwrite it`);
    writeFileSync(target, text);
    process.stderr.write(`wrote ${target}; next: stepwise plan -f ${target}\n`);
  },
};
