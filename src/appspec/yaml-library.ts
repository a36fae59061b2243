import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

const requireCommonJs = createRequire(import.meta.url);
let library: typeof Yaml | undefined;

/**
 * The `yaml` package, loaded on first use: loading it costs a process ~40 ms, and the commands people run most
 * (`validate`, `synth`, `plan` of specs the subset reader takes) never need it.
 */
export function yaml(): typeof Yaml {
  library ??= requireCommonJs('yaml') as typeof Yaml;
  return library;
}
