/**
 * Every command that reads `-f -` gives up on standard input past its cap (issue 14, fault 4: `plan -f -` read
 * 4.2 GB before failing). Each is fed 64 MiB of zeros, far past the caps (profiles 1 MiB, manifests 8 MiB):
 * it must refuse with the input's TooLarge code and the usage exit (2), instead of reading it all.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = join(ROOT, 'bin/podnet.js');
const dir = mkdtempSync(join(tmpdir(), 'podnet-stdin-caps-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const store = `sqlite:${join(dir, 'cluster.db')}`;

describe('standard input is capped for every command that reads it', () => {
  for (const [args, code] of [
    [['plan', '-f', '-'], 'ProfileTooLarge'],
    [['cluster', 'create', '-f', '-', '--store', store], 'ProfileTooLarge'],
    [['apply', '-f', '-', '--store', store], 'ManifestTooLarge'],
    [['delete', '-f', '-', '--store', store], 'ManifestTooLarge'],
    [
      ['trace', '-f', '-', '--from', '10.0.0.1', '--to', '10.0.0.2', '--protocol', 'TCP', '--port', '80'],
      'ManifestTooLarge',
    ],
    [['nsg', 'check', '-f', '-'], 'ManifestTooLarge'],
  ] as const) {
    it(`${args.slice(0, args.indexOf('-f')).join(' ')} -f -: ${code}`, () => {
      const quoted = args.map((a) => `'${a}'`).join(' ');
      const r = spawnSync(
        'sh',
        ['-c', `head -c 67108864 /dev/zero | "${process.execPath}" "${BIN}" ${quoted} -o json`],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(r.status, 2, r.stderr);
      const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, code, r.stdout);
      assert.match(e.message, /more than \d+ bytes/);
    });
  }
});
