/**
 * Loads a cluster profile file (YAML or JSON, shaped after AKS's managed cluster) and returns the normalized
 * `ClusterProfile` (see normalize.ts for the format and defaults; flags.ts for the quick-plan flags).
 *
 * This layer only decides whether the input is *usable*: readable, not huge, well-formed, known fields, right
 * types, syntactically valid CIDRs and IPs (all exit 2 on the CLI). Whether the addresses make a good cluster is
 * `checkPlan`'s job (src/plan), which reports every problem at once instead of stopping at the first.
 */
import { parseDocument } from 'yaml';
import { truncate } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { InputTooLarge, readCapped } from '../io/capped.js';
import { type LoadedProfile, profileFromDocuments } from './aks/index.js';
import { invalidProfile } from './read.js';
import type { ClusterProfile } from './types.js';

export { DEFAULTS, profileFromObject } from './normalize.js';
export { type LoadedProfile, ignoredMessage, profileFromDocuments } from './aks/index.js';
export { type PlanFlags, flagForField, ignoredAzFlags, profileFromFlags } from './flags.js';

/** Profiles are a few KiB; a cap keeps a wrong file (a log, an image) from being read into memory. */
export const PROFILE_MAX_BYTES = 1024 * 1024;
/** YAML aliases expand on read; a low cap stops "billion laughs" documents long before they cost memory. */
export const MAX_ALIASES = 100;
/**
 * Real profiles nest about six levels. The YAML parser's memory grows with nesting (a 100 KB line of "- - - ..."
 * exhausts the heap), so absurd nesting is refused before parsing: flow brackets deeper than this, or a line
 * whose leading indentation and "- " markers are longer than MAX_LINE_PREFIX.
 */
const MAX_FLOW_DEPTH = 64;
const MAX_LINE_PREFIX = 256;

export function nestedTooDeeply(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5b || ch === 0x7b) {
      if (++depth > MAX_FLOW_DEPTH) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth = Math.max(0, depth - 1);
  }
  let lineStart = 0;
  while (lineStart < text.length) {
    let i = lineStart;
    while (i < text.length && ' \t-?:'.includes(text[i])) i++;
    if (i - lineStart > MAX_LINE_PREFIX) return true;
    const nl = text.indexOf('\n', i);
    lineStart = nl < 0 ? text.length : nl + 1;
  }
  return false;
}

/** Reads and parses a profile file (`-` reads standard input): podnet's format or AKS input. */
export function loadProfileFile(path: string): ClusterProfile {
  return loadProfileFiles([path]).profile;
}

/**
 * Reads the `-f` files into one profile: a podnet profile alone, or AKS input (a managed cluster with its VNet
 * and peerings, as Azure tools print them) with the fields it did not use.
 */
export function loadProfileFiles(paths: readonly string[]): LoadedProfile {
  return profileFromDocuments(paths.map((p) => ({ source: p, data: readProfileData(p) })));
}

/** The parsed data of one input file. */
export function readProfileData(path: string): unknown {
  let text: string;
  try {
    // Standard input is capped as it is read (it once read 4.2 GB before failing); files by their size.
    text = readCapped(path, PROFILE_MAX_BYTES).toString('utf8');
  } catch (e) {
    if (e instanceof InputTooLarge) throw tooLarge(path, e.message);
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'ENOTFILE' || code === 'EISDIR'
            ? 'not a regular file'
            : (e as Error).message;
    throw new PodnetError('ProfileUnreadable', `cannot read profile "${truncate(path)}": ${why}`, {
      field: '--file',
      hint: 'give the path of a YAML or JSON profile file (see examples/)',
      cause: e,
    });
  }
  return parseProfileData(text, path);
}

function tooLarge(source: string, size: string): PodnetError {
  return new PodnetError(
    'ProfileTooLarge',
    `profile "${truncate(source)}" is ${size}, more than the ${PROFILE_MAX_BYTES} a profile may have`,
    { field: '--file', hint: 'check that the path names a cluster profile; real profiles are a few KiB' },
  );
}

/** Parses profile text (YAML 1.2, so JSON too); `source` names it in messages. */
export function parseProfileText(text: string, source: string): ClusterProfile {
  return profileFromDocuments([{ source, data: parseProfileData(text, source) }]).profile;
}

/** The data of profile text, refusing what is no profile (huge, empty, malformed, absurdly nested). */
export function parseProfileData(text: string, source: string): unknown {
  if (typeof text !== 'string')
    throw invalidProfile('(top level)', 'profile text is not text', 'pass a string');
  if (Buffer.byteLength(text, 'utf8') > PROFILE_MAX_BYTES)
    throw tooLarge(source, `${Buffer.byteLength(text, 'utf8')} bytes`);
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') {
    throw new PodnetError('ProfileEmpty', `profile "${truncate(source)}" is empty`, {
      field: '--file',
      hint: 'write a profile; examples/basic.yaml is a starting point',
    });
  }
  if (nestedTooDeeply(body)) {
    throw malformed(
      source,
      `it is nested more deeply than a cluster profile ever is (over ${MAX_FLOW_DEPTH} levels)`,
    );
  }
  let data: unknown;
  try {
    const doc = parseDocument(body, { uniqueKeys: true, prettyErrors: true, strict: true });
    const problem = doc.errors[0];
    if (problem) {
      const at = problem.linePos?.[0];
      throw malformed(
        source,
        `${at ? `line ${at.line}, column ${at.col}: ` : ''}${firstLine(problem.message).replace(/ at line \d+, column \d+:?$/, '')}`,
      );
    }
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    if (e instanceof PodnetError) throw e;
    // The yaml library throws on alias bombs ("Excessive alias count") and the stack may run out on
    // absurdly deep nesting; both mean the file is not a profile.
    const why =
      e instanceof RangeError ? 'it is nested too deeply' : firstLine((e as Error)?.message ?? String(e));
    throw malformed(source, why);
  }
  if (data === null || data === undefined) {
    // Only comments, or an empty document ("---").
    throw new PodnetError('ProfileEmpty', `profile "${truncate(source)}" holds no data`, {
      field: '--file',
      hint: 'write a profile; examples/basic.yaml is a starting point',
    });
  }
  return data;
}

function malformed(source: string, why: string): PodnetError {
  return new PodnetError(
    'MalformedProfile',
    `profile "${truncate(source)}" is not valid YAML or JSON: ${truncate(why, 200)}`,
    {
      field: '--file',
      hint: 'fix the syntax at the place named (indentation, quotes, brackets); JSON is valid YAML too',
    },
  );
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
