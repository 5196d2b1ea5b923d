/** Writes a sysdump's entries as a gzipped tar (tar-stream + zlib), every entry under one top folder. */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import type { SysdumpEntry, SysdumpMeta } from './collect.js';

export async function writeSysdump(
  file: string,
  top: string,
  entries: SysdumpEntry[],
  meta: SysdumpMeta,
): Promise<void> {
  const tar = pack();
  const mtime = new Date(meta.createdAt);
  const partial = `${file}.partial`;
  const done = pipeline(tar, createGzip(), createWriteStream(partial, { mode: 0o600 }));
  for (const e of [{ path: 'sysdump.json', text: `${JSON.stringify(meta, null, 2)}\n` }, ...entries]) {
    tar.entry({ name: `${top}/${e.path}`, mode: 0o600, mtime }, e.text);
  }
  tar.finalize();
  try {
    await done;
    renameSync(partial, file);
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
}
