import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadApps } from '../../src/appspec/load.js';
import { renderApp } from '../../src/render/app.js';
import { toYaml } from '../../src/render/synth.js';
import { yamlDocument } from '../../src/render/yaml.js';
import { ROOT } from '../support/paths.js';

/** What a YAML 1.1 reader (kubectl) and a YAML 1.2 reader each make of the text. */
const readBack = (text: string) =>
  (['1.1', '1.2'] as const).map((version) => parseAllDocuments(text, { version }).map((d) => d.toJS()));

/** Strings a careless writer leaves plain and a reader takes for something else, or cannot read at all. */
const TRICKY = [
  '',
  ' ',
  'on',
  'Off',
  'YES',
  'n',
  'Y',
  'true',
  'False',
  'null',
  'NULL',
  '~',
  '=',
  '<<',
  '0',
  '007',
  '0x1F',
  '0o17',
  '1_000',
  '12:30',
  '190:20:30',
  '1e3',
  '.5',
  '-.inf',
  '.NaN',
  '+1',
  '-1',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  'a: b',
  'a #b',
  '#x',
  '- x',
  '? x',
  '[x]',
  '{x}',
  '*ref',
  '&anchor',
  '!tag',
  '|',
  '>',
  "'q'",
  '"q"',
  '%x',
  '@x',
  '`x',
  'trailing ',
  ' leading',
  'two\nlines',
  'tab\there',
  'bell\u0007',
  'Ω',
  'naïve',
  'emoji 🚀',
  'x:',
  'x:y',
  'registry.example.com/app:1.0.0',
  '20%',
  '/healthz',
  'nginx.ingress.kubernetes.io/canary-weight',
  'a,b',
  'two\nlines',
  'a final\nline break\n',
  'a template\n\tindented by a tab\n\n  and by spaces, after a blank line\n',
  '# not a comment\nkey: value\n- not a list\n',
  'trailing spaces  \nx',
  ' a leading space\nx',
  '\ta leading tab\nx',
  '\nstarts with a line break',
  'two final\nline breaks\n\n',
  'a carriage\r\nreturn',
  'a YAML 1.1\u2028line break',
];

test('every string reads back as itself under YAML 1.1 and 1.2, as a value and as a key', () => {
  const object = {
    values: TRICKY,
    keys: Object.fromEntries(TRICKY.map((s, i) => [s, i])),
    nested: [{ [TRICKY[3]!]: [[TRICKY[4]]] }],
  };
  for (const [read] of readBack(yamlDocument(object)).map((docs) => docs)) assert.deepEqual(read, object);
});

test('a multi-line string is written as a literal block where one carries it exactly', () => {
  const template = 'import "list"\n\noutputs: {\n\tservice: _service\n}\n';
  const text = yamlDocument({ template, script: 'echo one\necho two', cr: 'a\r\nb' });
  assert.equal(
    text,
    'template: |\n  import "list"\n\n  outputs: {\n  \tservice: _service\n  }\nscript: |-\n  echo one\n  echo two\n' +
      'cr: "a\\r\\nb"\n',
  );
  for (const [read] of readBack(text)) assert.deepEqual(read, { template, script: 'echo one\necho two', cr: 'a\r\nb' });
});

test('numbers, booleans, null and empty collections keep their types; plain strings stay plain', () => {
  const object = {
    n: 3,
    f: 0.25,
    neg: -5,
    big: 1e21,
    t: true,
    f2: false,
    z: null,
    e: {},
    a: [],
    s: 'web',
    img: 'nginx:1.27',
  };
  const text = yamlDocument(object);
  for (const [read] of readBack(text)) assert.deepEqual(read, object);
  assert.match(text, /^s: web$/m);
  assert.match(text, /^img: nginx:1\.27$/m);
  assert.match(text, /^e: \{\}$/m);
});

test('every example app synthesizes to YAML that reads back as the objects it was written from', () => {
  const files = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.yaml'));
  for (const file of files) {
    for (const { app } of loadApps([{ file, text: readFileSync(`${ROOT}examples/${file}`, 'utf8') }]).apps) {
      for (const engine of ['builtin', 'kruise'] as const) {
        const objects = renderApp(app, engine);
        for (const docs of readBack(toYaml(objects)))
          assert.deepEqual(docs, JSON.parse(JSON.stringify(objects)), `${file} ${engine}`);
      }
    }
  }
});
