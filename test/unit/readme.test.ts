import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { stepwise } from '../support/cli.js';
import { DIFFERENCES } from '../support/differences.js';
import { ROOT } from '../support/paths.js';

/**
 * The README's command examples, as written: every line `$ npx stepwise ARGS` inside a fenced block, with the
 * lines after it (up to the next `$` or the block's end) as its output, stdout then stderr.
 */
function examples(): { args: string[]; output: string }[] {
  const found: { args: string[]; output: string }[] = [];
  for (const [, block] of readFileSync(`${ROOT}README.md`, 'utf8').matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)) {
    const lines = (block ?? '').split('\n');
    lines.forEach((line, i) => {
      if (!line.startsWith('$ npx stepwise ')) return;
      const next = lines.findIndex((l, j) => j > i && l.startsWith('$ '));
      const output = lines.slice(i + 1, next < 0 ? undefined : next).join('\n');
      found.push({ args: line.slice('$ npx stepwise '.length).split(' '), output: output.trimEnd() });
    });
  }
  return found;
}

test("the README's command examples print what the README says they print", () => {
  const all = examples();
  assert.ok(all.length >= 3, `found ${all.length} examples`);
  for (const { args, output } of all) {
    const r = stepwise(args);
    assert.equal(`${r.stdout}${r.stderr}`.trimEnd(), output, `$ npx stepwise ${args.join(' ')}`);
  }
});

test("the README's differences from OpenKruise are the differential test's allow-list, title for title", () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('### Differences from OpenKruise'));
  const list = section.slice(0, section.indexOf('\n\n', section.indexOf('\n- ')));
  const titles = [...list.matchAll(/^- \*\*(.+?)\.\*\*/gm)].map((m) => m[1]);
  assert.deepEqual(
    titles,
    DIFFERENCES.map((d) => d.title),
  );
});
