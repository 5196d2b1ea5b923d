/**
 * How commands talk to people and scripts: data on stdout (a table by default, JSON with `-o json`),
 * progress and warnings on stderr, errors as `{ "error": {code, field, message, hint} }` under `-o json`.
 * Commands are handlers that return data; only this module prints.
 */
import { stringify } from 'yaml';
import { CATALOGUE, EXIT, type ExitClass, PodnetError, asPodnetError } from '../errors/index.js';

export { EXIT } from '../errors/index.js';

/** kubectl's formats: `wide` only adds columns; JSON and YAML are the same object, with apiVersion and kind. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml'];
export const OUTPUT_HELP = 'table, wide, json or yaml';
export const API_VERSION = 'podnet.io/v1alpha1';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export function parseOutputFormat(v: string): OutputFormat {
  const hit = OUTPUT_FORMATS.find((f) => f === v);
  if (hit) return hit;
  throw new PodnetError('UsageError', `unknown output format "${v}"`, {
    field: '--output',
    hint: 'use -o table, -o wide, -o json or -o yaml',
  });
}

/** `data` as podnet prints objects: `apiVersion` and `kind` first (data that has them keeps its own). */
export function asObject(kind: string, data: object): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind, ...data };
}

/**
 * Prints a command's result: JSON or YAML of `asObject(kind, data)`, or the text `text(wide)` renders (the
 * readable form; `wide` adds columns).
 */
export function emit(
  io: Io,
  format: OutputFormat,
  kind: string,
  data: object,
  text: (wide: boolean) => string,
): void {
  if (format === 'json') io.out(JSON.stringify(asObject(kind, data), null, 2));
  else if (format === 'yaml') io.out(stringify(asObject(kind, data)));
  else io.out(text(format === 'wide'));
}

/** `--no-headers` (a global flag): tables print their rows only, for scripts. */
const tableOptions = { headers: true };
export function setTableHeaders(on: boolean): void {
  tableOptions.headers = on;
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
  const body = rows.map((r) => r.map(String));
  const cells = tableOptions.headers ? [headers.map((h) => h.toUpperCase()), ...body] : body;
  const widths = headers.map((_, i) => Math.max(0, ...cells.map((r) => (r[i] ?? '').length)));
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
