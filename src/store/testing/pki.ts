/**
 * Certificates for tests of the TLS store: a folder made by `podnet store certs` (the code under test), and a
 * client certificate of that CA whose validity ended in 2020, which `openssl req` cannot make (it only counts
 * days from now), so `openssl ca` with explicit dates signs it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEcKey } from '../../kernel/openssl.js';
import { execInNetns } from '../../kernel/process.js';
import { type StoreCertsResult, writeStoreCerts } from '../certs.js';

/** A fresh folder with a CA, member `etcd` (127.0.0.1, localhost) and the given clients. */
export async function makePki(clients: string[], parent = tmpdir()): Promise<StoreCertsResult> {
  const out = join(mkdtempSync(join(parent, 'podnet-pki-')), 'pki');
  return writeStoreCerts({ out, servers: [{ name: 'etcd', sans: ['127.0.0.1', 'localhost'] }], clients });
}

/** `NAME.crt`/`NAME.key` in `pki`: a client certificate of its CA valid only on 1 January 2020. */
export async function expiredClientCert(pki: string, name: string): Promise<{ cert: string; key: string }> {
  const work = mkdtempSync(join(tmpdir(), 'podnet-ca-'));
  const key = join(pki, `${name}.key`);
  const cert = join(pki, `${name}.crt`);
  writeFileSync(key, await newEcKey(), { mode: 0o600 });
  writeFileSync(join(work, 'index.txt'), '');
  writeFileSync(join(work, 'serial'), '01\n');
  writeFileSync(
    join(work, 'ca.cnf'),
    `[ca]\ndefault_ca = c\n[c]\ndatabase = ${work}/index.txt\nnew_certs_dir = ${work}\nserial = ${work}/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n`,
  );
  const run = async (argv: string[]) => {
    const r = await execInNetns(null, argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  const csr = join(work, 'req.csr');
  await run([
    'openssl',
    'req',
    '-new',
    '-key',
    key,
    '-subj',
    `/CN=${name}`,
    '-addext',
    'extendedKeyUsage=clientAuth',
    '-out',
    csr,
  ]);
  await run([
    'openssl',
    'ca',
    '-batch',
    '-config',
    join(work, 'ca.cnf'),
    '-cert',
    join(pki, 'ca.crt'),
    '-keyfile',
    join(pki, 'ca.key'),
    '-in',
    csr,
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-notext',
    '-out',
    cert,
  ]);
  return { cert, key };
}
