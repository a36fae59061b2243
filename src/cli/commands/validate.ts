import type { CommandModule } from 'yargs';
import { fileOption, loadFromFiles } from '../io.js';

export const validateCommand: CommandModule<object, { file: string[] }> = {
  command: 'validate',
  describe:
    'Check app specs against the schema and the rollout rules; print every problem as FILE:LINE:COL: field: message',
  builder: (y) =>
    y
      .usage('$0 validate -f FILE... [options]')
      .option('file', fileOption)
      .example('$0 validate -f app.yaml', 'Check one spec')
      .example('$0 validate -f base.yaml -f prod.yaml', 'Check the unified layers'),
  handler: ({ file }) => {
    const apps = loadFromFiles(file, '');
    for (const { app, files } of apps) {
      process.stdout.write(
        `${app.namespace}/${app.name}: valid (${app.rollout.strategy}, ${app.rollout.steps.length} steps, engine ` +
          `${app.rollout.engine}; from ${files.join(' + ')})\n`,
      );
    }
  },
};
