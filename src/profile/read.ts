/**
 * Small typed readers over parsed YAML/JSON: each either returns the value in the expected shape or throws
 * `InvalidProfile` naming the exact path (`agentPoolProfiles[0].maxPods`), so the loader reads like the format.
 */
import { typeName } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';

export type Obj = Record<string, unknown>;

export function invalidProfile(field: string, message: string, hint: string): PodnetError {
  return new PodnetError('InvalidProfile', message, { field, hint });
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `field` as a mapping whose keys are all in `allowed`; unknown keys are errors. */
export function readObj(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (!isObj(v)) {
    throw invalidProfile(field || '(top level)', `expected a mapping, got ${typeName(v)}`, 'see examples/');
  }
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) {
      const shown = key === '' ? '""' : key;
      const path = field ? `${field}.${shown}` : shown;
      const near = closest(key, allowed);
      throw invalidProfile(
        path,
        `unknown field "${truncateKey(key)}"${near ? ` (did you mean "${near}"?)` : ''}`,
        `allowed fields here: ${allowed.join(', ')}`,
      );
    }
  }
  return v;
}

function truncateKey(k: string): string {
  return k.length > 40 ? `${k.slice(0, 40)}…` : k;
}

export function readString(
  o: Obj,
  key: string,
  field: string,
  opts: { default?: string; pattern?: RegExp; patternHint?: string } = {},
): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.default !== undefined) return opts.default;
    throw invalidProfile(field, `"${key}" is required`, `add ${key}: <text>`);
  }
  if (typeof v !== 'string') {
    throw invalidProfile(field, `expected text, got ${typeName(v)}`, `write ${key} as text, e.g. in quotes`);
  }
  if (v.trim() === '') throw invalidProfile(field, `"${key}" is empty`, `give ${key} a value or remove it`);
  if (v.length > 256) throw invalidProfile(field, `"${key}" is longer than 256 characters`, 'shorten it');
  return v;
}

export function readOptionalString(o: Obj, key: string, field: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : readString(o, key, field);
}

export function readEnum<T extends string>(
  o: Obj,
  key: string,
  field: string,
  values: readonly T[],
  def: T,
): T {
  const v = readString(o, key, field, { default: def });
  const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (hit === undefined) {
    throw invalidProfile(
      field,
      `"${truncateKey(v)}" is not one of ${values.join(', ')}`,
      `use one of: ${values.join(', ')}`,
    );
  }
  return hit;
}

export function readInt(
  o: Obj,
  key: string,
  field: string,
  opts: { default: number; min: number; max: number },
): number {
  const v = o[key];
  if (v === undefined || v === null) return opts.default;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw invalidProfile(
      field,
      `expected a whole number, got ${typeName(v)}`,
      `write ${key} as a number without quotes`,
    );
  }
  if (v < opts.min || v > opts.max) {
    throw invalidProfile(
      field,
      `${v} is outside ${opts.min}..${opts.max}`,
      `use a whole number from ${opts.min} to ${opts.max}`,
    );
  }
  return v;
}

/** A list, or (for convenience on the command line and in AKS's own CLI style) a comma-separated string. */
export function readList(
  o: Obj,
  key: string,
  field: string,
  opts: { max: number; commaText?: boolean },
): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (opts.commaText && typeof v === 'string') {
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  if (!Array.isArray(v)) {
    throw invalidProfile(
      field,
      `expected a list, got ${typeName(v)}`,
      `write ${key} as a YAML list ("- item" lines)`,
    );
  }
  if (v.length > opts.max) {
    throw invalidProfile(field, `${v.length} items are more than the ${opts.max} allowed`, 'remove items');
  }
  return v;
}

/** The allowed word nearest to `word` by edit distance, when it is a plausible typo. */
export function closest(word: string, allowed: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  // A third of the word may differ, at least one letter: "mode" is not a typo of "name".
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const a of allowed) {
    const d = editDistance(word.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
