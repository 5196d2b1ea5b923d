/**
 * The etcd store over mutual TLS against a real etcd 3.4 run as Kubernetes runs its etcd
 * (`--client-cert-auth --trusted-ca-file`, https://etcd.io/docs/v3.4/op-guide/security/): a client with a
 * certificate of the cluster CA works (the lab tests use etcd's TLS unix socket too); every wrong certificate is
 * refused with the code that names it; and with etcd auth on, a client certificate's common name is its etcd
 * user, which a role limits to podnet's prefix.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { PodnetError } from '../errors/index.js';
import { openVersionedStore } from './open.js';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';
import { makePki } from './testing/pki.js';

let etcd: EtcdCluster;
let pki: string;
let foreign: string;
let endpoint: string;
const at = (f: string) => join(pki, f);

const refusedWith = (c: string, msg?: RegExp) => (e: unknown) =>
  e instanceof PodnetError && e.code === c && (!msg || msg.test(e.message));

/** A credentials file (0600) naming `ca`, `cert`, `key` (absolute paths), returned as a URL option. */
function creds(name: string, fields: Record<string, string>): string {
  const file = at(`${name}.test.yaml`);
  writeFileSync(
    file,
    Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return `credentials=${file}`;
}

describe('etcd store over mutual TLS', { concurrency: false }, () => {
  before(async () => {
    pki = (await makePki(['node-a', 'operator'])).out;
    foreign = (await makePki(['intruder'])).out;
    etcd = await startEtcd({
      tls: { caFile: at('ca.crt'), certFile: at('etcd.crt'), keyFile: at('etcd.key') },
    });
    endpoint = etcd.urls[0];
  });
  after(async () => {
    await etcd?.stop();
  });

  it('a client with a certificate of the cluster CA reads and writes, named by a credentials file or $PODNET_STORE_*', async () => {
    const store = await openVersionedStore(`etcd:${endpoint}?prefix=/t1/&credentials=${at('node-a.yaml')}`);
    await store.txn([], [{ type: 'put', key: 'k', value: 'v' }]);
    assert.equal((await store.get('k'))?.value, 'v');
    await store.close();
    const env = {
      PODNET_STORE_CA: at('ca.crt'),
      PODNET_STORE_CERT: at('operator.crt'),
      PODNET_STORE_KEY: at('operator.key'),
    };
    Object.assign(process.env, env);
    try {
      const viaEnv = await openVersionedStore(`etcd:${endpoint}?prefix=/t1/`);
      assert.equal((await viaEnv.get('k'))?.value, 'v');
      await viaEnv.close();
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  });

  it('a connection without a client certificate, or with one of another CA, is refused', async () => {
    await assert.rejects(
      openVersionedStore(`etcd:${endpoint}?${creds('ca-only', { ca: at('ca.crt') })}`),
      refusedWith('StoreCertificateRejected', /refused this client \(no client certificate/),
    );
    const other = creds('intruder', {
      ca: at('ca.crt'),
      cert: join(foreign, 'intruder.crt'),
      key: join(foreign, 'intruder.key'),
    });
    await assert.rejects(
      openVersionedStore(`etcd:${endpoint}?${other}`),
      refusedWith('StoreCertificateRejected', /certificate CN=intruder/),
    );
    // Plain HTTP to the TLS port gets nothing either (what a pod's one-line PUT would try).
    const plain = await fetch(`${endpoint.replace('https:', 'http:')}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/t1/k').toString('base64'), value: 'eA==' }),
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
    const store = await openVersionedStore(`etcd:${endpoint}?prefix=/t1/&credentials=${at('node-a.yaml')}`);
    assert.equal((await store.get('k'))?.value, 'v', 'nothing the refused clients sent was applied');
    await store.close();
  });

  it("a member whose certificate the client's CA did not sign is untrusted", async () => {
    const url = `etcd:${endpoint}?${creds('wrong-ca', { ca: join(foreign, 'ca.crt'), cert: at('node-a.crt'), key: at('node-a.key') })}`;
    await assert.rejects(openVersionedStore(url), refusedWith('StoreServerUntrusted', /is not trusted/));
  });

  it('credentials with a plain endpoint are refused rather than sent in clear', async () => {
    await assert.rejects(
      openVersionedStore(`etcd:${endpoint.replace('https:', 'http:')}?credentials=${at('node-a.yaml')}`),
      refusedWith('InvalidStoreUrl', /endpoints are plain/),
    );
  });

  it("a client certificate's common name is its etcd user: a role limits node-a to podnet's prefix", async () => {
    const admin = new Etcd3({
      hosts: etcd.urls,
      credentials: {
        rootCertificate: readFileSync(at('ca.crt')),
        certChain: readFileSync(at('operator.crt')),
        privateKey: readFileSync(at('operator.key')),
      },
    });
    try {
      // etcd needs a root user before auth goes on; the operator certificate (CN=operator) gets root.
      await admin.user('root').create('root-password-not-used');
      await admin.user('root').addRole('root');
      await admin.user('operator').create('not-used');
      await admin.user('operator').addRole('root');
      const role = await admin.role('podnet-node').create();
      await role.grant({ permission: 'Readwrite', range: admin.range({ prefix: '/podnet/v1/' }) });
      await admin.user('node-a').create('not-used');
      await admin.user('node-a').addRole('podnet-node');
      await admin.auth.authEnable();
      const inside = await openVersionedStore(`etcd:${endpoint}?credentials=${at('node-a.yaml')}`);
      await inside.txn([], [{ type: 'put', key: 'blocks/x', value: '{}' }]);
      assert.equal((await inside.get('blocks/x'))?.value, '{}');
      await inside.close();
      await assert.rejects(
        openVersionedStore(`etcd:${endpoint}?prefix=/other/&credentials=${at('node-a.yaml')}`),
        refusedWith('StorePermissionDenied', /permission denied/i),
      );
    } finally {
      await admin.auth.authDisable().catch(() => {});
      admin.close();
    }
  });
});
