import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { applyCommand } from './commands/apply.js';
import { controllerCommand } from './commands/controller.js';
import { initCommand } from './commands/init.js';
import { installCommand, uninstallCommand } from './commands/install.js';
import { planCommand } from './commands/plan.js';
import { abortCommand, promoteCommand, runCommand, statusCommand, undoCommand } from './commands/release.js';
import { crdCommand, schemaCommand } from './commands/schema.js';
import { helmCommand } from './commands/helm.js';
import { traitCommand } from './commands/trait.js';
import { synthCommand } from './commands/synth.js';
import { validateCommand } from './commands/validate.js';
import { versionCommand } from './commands/version.js';
import { CliError } from './io.js';

/** yargs reads a lone `-` as a positional; `-f -` (stdin) must reach the option as its value. */
function stdinAsValue(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '-f' || argv[i] === '--file') && argv[i + 1] === '-') {
      out.push('--file=-');
      i++;
    } else out.push(argv[i] ?? '');
  }
  return out;
}

/** A reader that stopped reading (`stepwise synth | head`) ends the output, quietly, as it would for cat. */
function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

/** Runs the CLI; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const command = argv.find((a) => !a.startsWith('-'));
  try {
    await yargs(stdinAsValue(argv))
      .scriptName('stepwise')
      .usage('$0 <command> [options]\n\nProgressive delivery on Kubernetes, authored as typed code.')
      .command(validateCommand)
      .command(synthCommand)
      .command(planCommand)
      .command(initCommand)
      .command(installCommand)
      .command(uninstallCommand)
      .command(applyCommand)
      .command(runCommand)
      .command(controllerCommand)
      .command(statusCommand)
      .command(promoteCommand)
      .command(abortCommand)
      .command(undoCommand)
      .command(schemaCommand)
      .command(crdCommand)
      .command(helmCommand)
      .command(traitCommand)
      .command(versionCommand)
      .completion('completion', 'Print a bash or zsh completion script (source it from your shell profile)')
      .demandCommand(1, 'name a command')
      .strict()
      .recommendCommands()
      .help()
      .alias('help', 'h')
      .version()
      .alias('version', 'V')
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((message, error) => {
        if (error) throw error;
        // The cause, and where to read more; not the whole help text, which buries the cause.
        const cause = message.startsWith('Did you mean') ? `unknown command "${command}". ${message}` : message;
        const help = command && !message.startsWith('Did you mean') ? `stepwise ${command} --help` : 'stepwise --help';
        throw new CliError(`${cause}\nsee \`${help}\``);
      })
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`stepwise: ${e.message}\n`);
      return e.exitCode;
    }
    // The API server's message (or the connection error) is what a user needs; the stack only on request.
    const stack = process.env.STEPWISE_DEBUG ? `${(e as Error).stack}\n` : '';
    process.stderr.write(`stepwise: ${(e as Error).message}\n${stack}`);
    return 1;
  }
}

process.exitCode = await main(hideBin(process.argv));
