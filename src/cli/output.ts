/**
 * How commands talk to people and scripts: data on stdout (a table by default, JSON with `-o json`),
 * progress and warnings on stderr, errors as `{ "error": {code, field, message, hint} }` under `-o json`.
 * Commands are handlers that return data; only this module prints.
 */
import { CATALOGUE, EXIT, type ExitClass, PodnetError, asPodnetError } from '../errors/index.js';

export { EXIT } from '../errors/index.js';

export type OutputFormat = 'table' | 'json';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export function parseOutputFormat(v: string): OutputFormat {
  if (v === 'table' || v === 'json') return v;
  throw new PodnetError('UsageError', `unknown output format "${v}"`, {
    field: '--output',
    hint: 'use -o table or -o json',
  });
}

/** True when the command line asks for JSON output, however it is spelled (-o json, -ojson, --output=json). */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some(
    (a, i) =>
      ((a === '-o' || a === '--output') && argv[i + 1] === 'json') || a === '-ojson' || a === '--output=json',
  );
}

/** Renders rows as an aligned, emoji-free table with upper-case headers, as kubectl does. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   '))
    .join('\n');
}

/**
 * Exit code for an error: its code's exit class in the catalogue (unusable input 2, unreachable 3, else 1). A
 * code whose class is ok (a plan warning) never fails a command by itself, but when thrown it still fails it.
 */
export function exitCodeFor(e: PodnetError): number {
  const exit: ExitClass | undefined = CATALOGUE[e.code]?.exit;
  return exit === undefined || exit === 'ok' ? EXIT.problems : EXIT[exit];
}

export function renderError(err: unknown, format: OutputFormat, io: Io): number {
  const e = asPodnetError(err);
  if (format === 'json') io.out(JSON.stringify({ error: e.toJSON() }, null, 2));
  else {
    io.err(`error ${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}`);
    if (e.hint) io.err(`  hint: ${e.hint}`);
  }
  return exitCodeFor(e);
}
