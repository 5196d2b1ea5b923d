import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { credentialsSource, loadCredentials } from './credentials.js';
import { expiredClientCert, makePki } from './testing/pki.js';
import { classifyTlsFailure } from './tls-diagnosis.js';

const code = (c: string, msg?: RegExp) => (e: unknown) =>
  e instanceof PodnetError && e.code === c && (!msg || msg.test(e.message));

let pki: string;
const at = (f: string) => join(pki, f);

describe('store credentials', () => {
  before(async () => {
    pki = (await makePki(['node-a', 'node-b'])).out;
  });

  it('a credentials file names CA, certificate and key relative to itself; the URL option wins over $PODNET_STORE_*', () => {
    const env = { PODNET_STORE_CA: '/elsewhere/ca.crt', PODNET_STORE_CREDENTIALS: at('node-b.yaml') };
    const s = credentialsSource(at('node-a.yaml'), env);
    assert.deepEqual(s, {
      from: `credentials file ${at('node-a.yaml')}`,
      ca: at('ca.crt'),
      cert: at('node-a.crt'),
      key: at('node-a.key'),
    });
    assert.equal(credentialsSource(undefined, env)?.cert, at('node-b.crt'));
    const vars = credentialsSource(undefined, {
      PODNET_STORE_CA: at('ca.crt'),
      PODNET_STORE_CERT: at('node-a.crt'),
      PODNET_STORE_KEY: at('node-a.key'),
    });
    assert.deepEqual([vars?.from, vars?.cert], ['$PODNET_STORE_*', at('node-a.crt')]);
    assert.equal(credentialsSource(undefined, {}), null);
  });

  it('loads a matching certificate and key', () => {
    const c = loadCredentials(credentialsSource(at('node-a.yaml'), {}) as never);
    assert.ok(c.tls?.rootCertificate?.toString().includes('BEGIN CERTIFICATE'));
    assert.ok(c.tls?.privateKey?.toString().includes('PRIVATE KEY'));
    assert.match(c.clientCert?.subject ?? '', /CN=node-a/);
  });

  it('refuses a credentials file or a key that other users can read', () => {
    const file = at('loose.yaml');
    writeFileSync(file, 'ca: ca.crt\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    assert.throws(() => credentialsSource(file, {}), code('StoreCredentialsExposed', /mode 0644/));
    const key = at('loose.key');
    copyFileSync(at('node-a.key'), key);
    chmodSync(key, 0o640);
    assert.throws(
      () => loadCredentials({ from: 'test', ca: at('ca.crt'), cert: at('node-a.crt'), key }),
      code('StoreCredentialsExposed', /mode 0640/),
    );
  });

  it('refuses a malformed file: unknown key, certificate without key, user without password', () => {
    const cases: [string, RegExp][] = [
      ['ca: ca.crt\ncrt: node-a.crt\n', /unknown key "crt"/],
      ['ca: ca.crt\ncert: node-a.crt\n', /go together/],
      ['user: podnet\n', /needs its password/],
      ['- ca.crt\n', /must be a mapping/],
      ['ca: [\n', /not readable YAML/],
    ];
    for (const [text, why] of cases) {
      const file = at('bad.yaml');
      writeFileSync(file, text, { mode: 0o600 });
      assert.throws(() => credentialsSource(file, {}), code('StoreCredentialsInvalid', why), text);
    }
  });

  it("names the key that cannot be read, is not a key, or is not the certificate's", () => {
    const base = { from: 'test', ca: at('ca.crt'), cert: at('node-a.crt') };
    assert.throws(
      () => loadCredentials({ ...base, key: at('missing.key') }),
      code('StoreKeyUnreadable', /missing\.key/),
    );
    const junk = at('junk.key');
    writeFileSync(junk, 'not a key', { mode: 0o600 });
    assert.throws(
      () => loadCredentials({ ...base, key: junk }),
      code('StoreKeyUnreadable', /not an unencrypted PEM/),
    );
    assert.throws(
      () => loadCredentials({ ...base, key: at('node-b.key') }),
      code('StoreCertificateInvalid', /is not the key of certificate/),
    );
    assert.throws(
      () => loadCredentials({ ...base, cert: at('node-a.key'), key: at('node-a.key') }),
      code('StoreCertificateInvalid', /not a PEM certificate/),
    );
  });

  it('refuses an expired client certificate before connecting, and one not valid yet', async () => {
    const old = await expiredClientCert(pki, 'old');
    assert.throws(
      () => loadCredentials({ from: 'test', ca: at('ca.crt'), ...old }),
      code('StoreCertificateExpired', /valid from 2020-01-01T00:00:00.000Z to 2020-01-02/),
    );
    const early = new Date('2000-01-01T00:00:00Z');
    assert.throws(
      () =>
        loadCredentials(
          { from: 'test', ca: at('ca.crt'), cert: at('node-a.crt'), key: at('node-a.key') },
          early,
        ),
      code('StoreCertificateExpired'),
    );
  });
});

describe('classifyTlsFailure', () => {
  it("tells the server's certificate (untrusted, expired) from ours being refused", () => {
    assert.equal(
      classifyTlsFailure({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        message: 'unable to verify the first certificate',
      }),
      'untrusted',
    );
    assert.equal(
      classifyTlsFailure({
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        message: "Hostname/IP does not match certificate's altnames",
      }),
      'untrusted',
    );
    assert.equal(
      classifyTlsFailure({ code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }),
      'expired',
    );
    assert.equal(
      classifyTlsFailure({
        code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
        message: 'ssl3_read_bytes:sslv3 alert bad certificate',
      }),
      'refused',
    );
    assert.equal(
      classifyTlsFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }),
      null,
    );
  });
});
