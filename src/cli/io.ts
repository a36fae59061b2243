import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssue, type SpecIssue } from '../appspec/errors.js';
import { loadApps, type LoadedApp, type SourceText } from '../appspec/load.js';
import { INPUT_LIMITS } from '../appspec/source.js';

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

/**
 * Reads the `-f` layers (`-` is standard input; a directory gives its `.yaml`, `.yml` and `.json` files in name
 * order, as `kubectl apply -f DIR` does) and loads them; prints warnings; throws on any error. `outcome` ends the
 * error summary: what the command did not do because of them.
 */
export function loadFromFiles(files: readonly string[], outcome = 'nothing was written'): LoadedApp[] {
  const { apps, issues } = loadApps(files.flatMap(expandDirectory).map(readSpec));
  reportIssues(issues);
  const errors = issues.filter((i) => i.severity === 'error').length;
  if (errors > 0) throw new CliError(`${errors} error${errors === 1 ? '' : 's'}${outcome ? `; ${outcome}` : ''}`);
  return apps;
}

const SPEC_EXTENSIONS = ['.yaml', '.yml', '.json'];

function expandDirectory(file: string): string[] {
  if (file === '-' || !statOf(file).isDirectory()) return [file];
  const specs = readdirSync(file)
    .filter((name) => SPEC_EXTENSIONS.some((ext) => name.endsWith(ext)))
    .sort()
    .map((name) => join(file, name));
  if (specs.length === 0) throw new CliError(`${file}: a directory with no .yaml, .yml or .json files`);
  return specs;
}

/** A file's text; one beyond the input limit is refused before it is read. */
function readSpec(file: string): SourceText {
  if (file !== '-' && statOf(file).size > INPUT_LIMITS.bytes)
    throw new CliError(
      `${file}: is ${statOf(file).size} bytes; an app spec file may have at most ${INPUT_LIMITS.bytes}`,
    );
  try {
    return { file, text: readFileSync(file === '-' ? 0 : file, 'utf8') };
  } catch (e) {
    throw new CliError(`${file}: cannot read: ${reasonOf(e as NodeJS.ErrnoException)}`);
  }
}

function statOf(file: string) {
  try {
    return statSync(file);
  } catch (e) {
    throw new CliError(`${file}: cannot read: ${reasonOf(e as NodeJS.ErrnoException)}`);
  }
}

/** A file system error in words. */
function reasonOf(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e.message;
  }
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
  describe:
    'App spec YAML (a file, a directory of them, or - for stdin); repeat to layer (later files refine earlier ones)',
} as const;

export const engineOption = {
  choices: ['builtin', 'kruise'] as const,
  describe: "Override every app's rollout.engine",
} as const;
