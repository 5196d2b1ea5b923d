/**
 * Reads the manifests `-f` names, as kubectl does: a file, a directory (its .yaml, .yml and .json files,
 * sorted, not recursive), or `-` for standard input. The thin edge before decode.ts.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { truncate } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { InputTooLarge, readCapped } from '../io/capped.js';
import { type Decoded, decodeManifest } from './decode.js';

/** A manifest file larger than this is not a manifest (a log, an image); a whole apply fits in 1.5 MiB. */
export const MANIFEST_MAX_BYTES = 8 * 1024 * 1024;
const EXTENSIONS = ['.yaml', '.yml', '.json'];

function unreadable(path: string, why: string, e?: unknown): PodnetError {
  return new PodnetError('ManifestUnreadable', `cannot read "${truncate(path)}": ${why}`, {
    field: '--filename',
    hint: 'give a YAML or JSON file, a directory of them, or - for standard input',
    cause: e,
  });
}

function readText(path: string): string {
  try {
    return readCapped(path, MANIFEST_MAX_BYTES).toString('utf8');
  } catch (e) {
    if (e instanceof InputTooLarge) {
      throw new PodnetError(
        'ManifestTooLarge',
        `"${truncate(path)}" is ${e.stream ? 'more than ' : ''}${e.bytes} bytes; a manifest may have at most ${MANIFEST_MAX_BYTES}`,
        {
          field: '--filename',
          hint: 'check that the path names a manifest',
        },
      );
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw unreadable(
      path,
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'EACCES'
          ? 'permission denied'
          : (e as Error).message,
      e,
    );
  }
}

/** The files a `-f` value stands for. */
function expand(path: string): string[] {
  if (path === '-') return [path];
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw unreadable(path, 'no such file or directory', e);
  }
  if (!isDir) return [path];
  return readdirSync(path)
    .filter((f) => EXTENSIONS.some((x) => f.endsWith(x)))
    .sort()
    .map((f) => join(path, f));
}

/** Every document of every file, and every problem found while decoding them. */
export function readManifests(paths: string[]): Decoded {
  if (paths.length === 0) {
    throw new PodnetError('UsageError', 'no manifests given', {
      field: '--filename',
      hint: 'give them with -f FILE|DIR|-',
    });
  }
  const out: Decoded = { documents: [], problems: [] };
  for (const file of paths.flatMap(expand)) {
    const d = decodeManifest(readText(file), file);
    out.documents.push(...d.documents);
    out.problems.push(...d.problems);
  }
  if (out.documents.length === 0 && out.problems.length === 0) {
    throw new PodnetError(
      'ManifestEmpty',
      `no objects in ${paths.map((p) => `"${truncate(p)}"`).join(', ')}`,
      {
        field: '--filename',
        hint: 'the files hold no documents; a directory is read for .yaml, .yml and .json files only',
      },
    );
  }
  return out;
}
