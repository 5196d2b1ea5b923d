import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { checkCertsRequest, writeStoreCerts } from './certs.js';
import { makePki } from './testing/pki.js';

const code = (c: string) => (e: unknown) => e instanceof PodnetError && e.code === c;
const cert = (dir: string, name: string) => new X509Certificate(readFileSync(join(dir, `${name}.crt`)));
const mode = (p: string) => statSync(p).mode & 0o777;

describe('podnet store certs', () => {
  it('a CA, a member certificate for its names and client certificates, folder 0700 and files 0600', async () => {
    const r = await makePki(['node-a', 'operator']);
    assert.equal(mode(r.out), 0o700);
    const names = readdirSync(r.out).sort();
    assert.deepEqual(names, [
      'ca.crt',
      'ca.key',
      'etcd.crt',
      'etcd.key',
      'node-a.crt',
      'node-a.key',
      'node-a.yaml',
      'operator.crt',
      'operator.key',
      'operator.yaml',
    ]);
    for (const n of names) assert.equal(mode(join(r.out, n)), 0o600, n);
    const ca = cert(r.out, 'ca');
    assert.equal(ca.ca, true);
    const etcd = cert(r.out, 'etcd');
    assert.equal(etcd.ca, false);
    assert.ok(etcd.verify(ca.publicKey), 'the member certificate is signed by the CA');
    assert.equal(etcd.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost');
    // 1.3.6.1.5.5.7.3.1 serverAuth, .2 clientAuth (RFC 5280 4.2.1.12)
    assert.deepEqual(etcd.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const node = cert(r.out, 'node-a');
    assert.ok(node.verify(ca.publicKey));
    assert.equal(node.subject, 'CN=node-a');
    assert.deepEqual(node.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(
      readFileSync(join(r.out, 'node-a.yaml'), 'utf8').split('\n').slice(1).join('\n'),
      'ca: ca.crt\ncert: node-a.crt\nkey: node-a.key\n',
    );
  });

  it('reuses the CA of the folder for a later client, and never replaces a file', async () => {
    const r = await makePki(['node-a']);
    const before = readFileSync(join(r.out, 'ca.crt'), 'utf8');
    const again = await writeStoreCerts({ out: r.out, servers: [], clients: ['node-b'] });
    assert.equal(again.caReused, true);
    assert.equal(readFileSync(join(r.out, 'ca.crt'), 'utf8'), before);
    assert.ok(cert(r.out, 'node-b').verify(cert(r.out, 'ca').publicKey));
    const keyBefore = readFileSync(join(r.out, 'node-a.key'), 'utf8');
    await assert.rejects(
      writeStoreCerts({ out: r.out, servers: [], clients: ['node-c', 'node-a'] }),
      code('CertificateExists'),
    );
    assert.equal(readFileSync(join(r.out, 'node-a.key'), 'utf8'), keyBefore);
    assert.equal(existsSync(join(r.out, 'node-c.key')), false, 'a failed call leaves none of its files');
  });

  it('refuses names that cannot be file names or common names, and SANs that are neither IP nor DNS', () => {
    const ok = {
      out: '/x',
      servers: [{ name: 'etcd', sans: ['10.0.0.4', 'etcd-1.example.com'] }],
      clients: ['node-1'],
    };
    checkCertsRequest(ok);
    assert.throws(() => checkCertsRequest({ ...ok, clients: ['../x'] }), code('InvalidCertName'));
    assert.throws(() => checkCertsRequest({ ...ok, clients: ['ca'] }), code('InvalidCertName'));
    assert.throws(() => checkCertsRequest({ ...ok, clients: ['etcd'] }), code('InvalidCertName'));
    assert.throws(
      () => checkCertsRequest({ ...ok, servers: [{ name: 'etcd', sans: [] }] }),
      code('InvalidSan'),
    );
    assert.throws(
      () => checkCertsRequest({ ...ok, servers: [{ name: 'etcd', sans: ['a b'] }] }),
      code('InvalidSan'),
    );
    assert.throws(() => checkCertsRequest({ ...ok, days: 0 }), code('InvalidCertDays'));
  });
});
