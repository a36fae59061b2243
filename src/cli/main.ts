import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { crdCommand, schemaCommand } from './commands/schema.js';
import { initCommand } from './commands/init.js';
import { planCommand } from './commands/plan.js';
import { synthCommand } from './commands/synth.js';
import { validateCommand } from './commands/validate.js';
import { applyCommand } from './commands/apply.js';
import { installCommand } from './commands/install.js';
import { controllerCommand } from './commands/controller.js';
import { abortCommand, promoteCommand, runCommand, statusCommand, undoCommand } from './commands/release.js';
import { CliError } from './io.js';

/** yargs reads a lone `-` as a positional; `-f -` (stdin) must reach the option as its value. */
function stdinAsValue(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '-f' || argv[i] === '--file') && argv[i + 1] === '-') {
      out.push('--file=-');
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** Runs the CLI; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    await yargs(stdinAsValue(argv))
      .scriptName('stepwise')
      .usage('$0 <command> [options]\n\nProgressive delivery on Kubernetes, authored as typed code.')
      .command(validateCommand)
      .command(synthCommand)
      .command(planCommand)
      .command(initCommand)
      .command(installCommand)
      .command(applyCommand)
      .command(runCommand)
      .command(controllerCommand)
      .command(statusCommand)
      .command(promoteCommand)
      .command(abortCommand)
      .command(undoCommand)
      .command(schemaCommand)
      .command(crdCommand)
      .demandCommand(1, 'name a command; see --help')
      .strict()
      .recommendCommands()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((message, error, y) => {
        if (error) throw error;
        y.showHelp((help: string) => process.stderr.write(`${help}\n\n`));
        // yargs' suggestion alone does not say what was wrong.
        throw new CliError(message.startsWith('Did you mean') ? `unknown command "${argv[0]}". ${message}` : message);
      })
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`stepwise: ${e.message}\n`);
      return e.exitCode;
    }
    // The API server's message (or the connection error) is what a user needs; the stack only on request.
    process.stderr.write(
      `stepwise: ${(e as Error).message}\n${process.env.STEPWISE_DEBUG ? `${(e as Error).stack}\n` : ''}`,
    );
    return 1;
  }
}

process.exitCode = await main(hideBin(process.argv));
