import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runMain as podnet } from './testing/run-cli.js';

describe('podnet store certs', () => {
  it('writes the CA, a member and clients into a 0700 folder, then reuses its CA (-o json)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'podnet-cli-certs-')), 'pki');
    const first = await podnet([
      'store',
      'certs',
      '--out',
      out,
      '--server',
      'etcd-1',
      '--server-san',
      '10.0.0.4,localhost',
      '--client',
      'node-1',
      '-o',
      'json',
    ]);
    assert.equal(first.code, 0, first.err);
    const r = JSON.parse(first.out) as { caReused: boolean; files: string[] };
    assert.equal(r.caReused, false);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(out).sort(), [
      'ca.crt',
      'ca.key',
      'etcd-1.crt',
      'etcd-1.key',
      'node-1.crt',
      'node-1.key',
      'node-1.yaml',
    ]);
    const again = await podnet(['store', 'certs', '--out', out, '--client', 'node-2']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^reused the CA in /);
  });

  it('exits 2 with the code for unusable input', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'podnet-cli-certs-')), 'pki');
    const bad = await podnet(['store', 'certs', '--out', out, '--server-san', 'a b']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /InvalidSan/);
  });
});
