/** Where a value came from: a file and a 1-based line and column (none for values written in code). */
export interface SourceLocation {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
}

/** One problem with an app spec, located precisely enough to jump to it in an editor. */
export interface SpecIssue {
  readonly location?: SourceLocation;
  /** Field path in dotted form, e.g. `spec.rollout.steps[1].replicas`. */
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return '<input>';
  return loc.line === undefined ? loc.file : `${loc.file}:${loc.line}:${loc.col ?? 1}`;
}

/** `FILE:LINE:COL: <field path>: <message>` (no path for a problem of the file itself), as every front end prints. */
export function formatIssue(issue: SpecIssue): string {
  const prefix = issue.severity === 'warning' ? 'warning: ' : '';
  return printable(
    `${formatLocation(issue.location)}: ${prefix}${issue.path ? `${issue.path}: ` : ''}${issue.message}`,
  );
}

/**
 * Control and bidirectional-formatting characters escaped (`\u001b`), so that a key or value quoted from the input
 * can neither colour a terminal nor forge a line of output.
 */
export function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Thrown when a spec has errors; carries all of them so callers can print every one at once. */
export class SpecError extends Error {
  constructor(readonly issues: readonly SpecIssue[]) {
    super(
      issues
        .filter((i) => i.severity === 'error')
        .map(formatIssue)
        .join('\n'),
    );
    this.name = 'SpecError';
  }
}

/** Joins path segments as `a.b[2].c`. */
export function joinPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}
