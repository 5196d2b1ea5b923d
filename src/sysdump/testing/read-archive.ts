/** Reads a sysdump back for tests: entry name (without the top folder) to text. */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

export async function readSysdump(file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = extract();
  createReadStream(file).pipe(createGunzip()).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name.split('/').slice(1).join('/'), Buffer.concat(chunks).toString('utf8'));
  }
  return out;
}
