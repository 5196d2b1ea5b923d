import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, redactText, redactValue } from './redact.js';

const KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oeBFrlArgOqNoAoGCCqGSM49
-----END EC PRIVATE KEY-----`;
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';

describe('sysdump redaction', () => {
  it('removes private keys, URL credentials, password/token pairs and bearer tokens; keeps the rest', () => {
    const text = [
      `key: ${KEY}`,
      CERT,
      'store etcd:https://root:hunter2@10.224.0.10:2379 unreachable',
      '{"level":"warn","password":"hunter2","node":"sys-0"}',
      'PODNET_ETCD_PASSWORD=hunter2 token=abc.def.ghi',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC (cut off)',
    ].join('\n');
    const out = redactText(text);
    for (const secret of [
      'MHcCAQEEIBkg4LVWM9nu',
      'hunter2',
      'abc.def.ghi',
      'eyJhbGciOiJIUzI1NiJ9',
      'MIIEvQIBADANBgkq',
    ]) {
      assert.ok(!out.includes(secret), `${secret} left in:\n${out}`);
    }
    assert.ok(out.includes(CERT), 'a certificate is public and stays');
    assert.ok(out.includes('etcd:https://[redacted]@10.224.0.10:2379'));
    assert.ok(out.includes('"node":"sys-0"'));
  });

  it('blanks secret-named JSON fields at any depth, and redacts strings inside', () => {
    const v = redactValue({
      store: { url: 'etcd:https://u:p4ss@h:2379', keyFile: '/etc/podnet/client.key', password: 'p4ss' },
      creds: [{ token: 'tok3n', user: 'ops' }],
      data: { clientKeyData: 'LS0tLS1CRUdJTi', 'tls.key': KEY },
      count: 3,
    });
    const text = JSON.stringify(v);
    for (const secret of ['p4ss', 'tok3n', 'LS0tLS1CRUdJTi', 'MHcCAQEEIBkg4LVWM9nu'])
      assert.ok(!text.includes(secret), text);
    // A path names where a key is; it is not the key.
    assert.ok(text.includes('/etc/podnet/client.key'));
    assert.deepEqual((v as { creds: { user: string }[] }).creds[0].user, 'ops');
    assert.equal((v as { store: { password: string } }).store.password, REDACTED);
  });
});
