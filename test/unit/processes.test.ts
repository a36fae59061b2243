import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../support/kube.js';
import { ROOT } from '../support/paths.js';
import { isAlive } from '../testenv/process.js';

/**
 * Runs the fixture file that starts a controller and hangs, under `node --test` with `flags`; once the
 * controller runs, `interrupt` may signal the runner. Resolves with the controller's pid after the runner exits.
 */
async function runFixture(flags: string[], interrupt?: NodeJS.Signals): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'stepwise-outlived-'));
  const pidFile = join(dir, 'pid');
  try {
    const runner = spawn(process.execPath, ['--test', ...flags, `${ROOT}dist/test/fixtures/outlived.test.js`], {
      // Without the runner's own marker, which would make this nested run report to it instead of running.
      env: { ...withoutTestContext(), STEPWISE_CHILD_PID_FILE: pidFile },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => runner.once('exit', resolve));
    await eventually(
      'the controller started',
      async () => existsSync(pidFile) && readFileSync(pidFile, 'utf8'),
      30_000,
    );
    if (interrupt) runner.kill(interrupt);
    await exited;
    return Number(readFileSync(pidFile, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withoutTestContext(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  return env;
}

test('a child process dies with its test file when the file times out', async () => {
  const pid = await runFixture(['--test-timeout=3000']);
  await eventually(`controller ${pid} gone`, async () => !isAlive(pid), 2000);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a child process dies with its test file when the run is interrupted (${signal})`, async () => {
    const pid = await runFixture([], signal);
    await eventually(`controller ${pid} gone`, async () => !isAlive(pid), 2000);
  });
}
