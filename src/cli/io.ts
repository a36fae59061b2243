import { readFileSync } from 'node:fs';
import { formatIssue, type SpecIssue } from '../appspec/errors.js';
import { loadApps, type LoadedApp } from '../appspec/load.js';

/** A command-line failure: printed as is (no stack), exit status 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Reads the `-f` layers (`-` is standard input) and loads them; prints warnings; throws on any error. */
export function loadFromFiles(files: readonly string[]): LoadedApp[] {
  const sources = files.map((file) => {
    try {
      return { file, text: readFileSync(file === '-' ? 0 : file, 'utf8') };
    } catch (e) {
      throw new CliError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  });
  const { apps, issues } = loadApps(sources);
  reportIssues(issues);
  const errors = issues.filter((i) => i.severity === 'error').length;
  if (errors > 0) throw new CliError(`${errors} error${errors === 1 ? '' : 's'}; nothing was written`);
  return apps;
}

export function reportIssues(issues: readonly SpecIssue[]): void {
  for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
}

/** Options shared by the commands that read app specs. */
export const fileOption = {
  alias: 'f',
  type: 'string',
  array: true,
  demandOption: 'give at least one app spec with -f FILE (repeat -f to layer overlays)',
  describe: 'App spec YAML; repeat to layer (later files refine earlier ones), - for stdin',
} as const;

export const engineOption = {
  choices: ['builtin', 'kruise'] as const,
  describe: "Override every app's rollout.engine",
} as const;
