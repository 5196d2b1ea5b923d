import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveStoreEndpoints, storeHosts } from './store-endpoints.js';

describe('store endpoints the guard keeps pods from', () => {
  it('are the TCP endpoints of an etcd URL, plain or TLS; a unix socket or a sqlite file has none', async () => {
    assert.deepEqual(
      storeHosts('etcd:https://10.224.0.1:2379,https://[fd00::1]:2380?credentials=/etc/podnet/a.yaml'),
      [
        { host: '10.224.0.1', port: 2379 },
        { host: 'fd00::1', port: 2380 },
      ],
    );
    assert.deepEqual(storeHosts('etcd:unixs:///run/podnet-lab/a/localhost:2379'), []);
    assert.deepEqual(storeHosts('sqlite:/var/lib/podnet/cluster.db'), []);
    assert.deepEqual(await resolveStoreEndpoints('etcd:http://127.0.0.1:2379'), [
      { family: 4, ip: '127.0.0.1', port: 2379 },
    ]);
  });
});
