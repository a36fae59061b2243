import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { toCue } from '../../src/kubevela/cue-schema.js';
import { traitDefinition } from '../../src/kubevela/trait.js';
import { toYaml } from '../../src/render/synth.js';
import { ROOT } from '../support/paths.js';

test('traits/stepwise-rollout.yaml is what `stepwise trait` prints (refresh it with that command)', () => {
  const shipped = readFileSync(`${ROOT}traits/stepwise-rollout.yaml`, 'utf8');
  assert.equal(shipped, toYaml([traitDefinition()]), 'stale: run `stepwise trait > traits/stepwise-rollout.yaml`');
});

test('JSON Schema to CUE: types, defaults, ranges, closed structs; patterns RE2 cannot run are left out', () => {
  const cue = toCue({
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, pattern: '^[a-z]+$', description: 'The  name.' },
      port: { type: 'integer', minimum: 1, maximum: 65535, default: 80 },
      mode: { enum: ['a', 'b'], default: 'b' },
      target: { type: ['integer', 'string'], minimum: 1, pattern: '^(?=.*[a-z])[a-z-]+$' },
      tags: { type: 'array', items: { $ref: '#/$defs/tag' }, minItems: 1 },
    },
  });
  assert.equal(
    cue.text,
    [
      'close({',
      '\t// +usage=The name.',
      '\tname: string & strings.MinRunes(1) & =~"^[a-z]+$"',
      '\tport: *80 | int & >=1 & <=65535',
      '\tmode: "a" | *"b"',
      '\ttarget?: (int & >=1) | (string)',
      '\ttags?: [...#tag] & list.MinItems(1)',
      '})',
    ].join('\n'),
  );
  assert.deepEqual([...cue.imports].sort(), ['list', 'strings']);
  assert.deepEqual([...cue.skippedPatterns], ['^(?=.*[a-z])[a-z-]+$']);
});
