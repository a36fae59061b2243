import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';

/** This installation's version, from its package.json. */
export function stepwiseVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export const versionCommand: CommandModule<object, object> = {
  command: 'version',
  describe: "Print Stepwise's version (also --version, -V)",
  handler: () => {
    process.stdout.write(`stepwise ${stepwiseVersion()}\n`);
  },
};
