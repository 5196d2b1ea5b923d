/**
 * `podnet sysdump --store` end to end: the real executable against a SQLite store holding a cluster, a lease,
 * a heartbeat-less node and an object carrying secrets; the archive holds the expected entries and none of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { openStore } from '../../store/open.js';
import { readSysdump } from '../../sysdump/testing/read-archive.js';
import { runPodnet } from './testing/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-sysdump-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STORE = `sqlite:${join(dir, 'cluster.db')}`;
const SECRETS = ['hunter2-pw', 'tok3n-XYZ-123', 'MHcCAQEEIBkg4LVWM9nu'];

const podnet = (args: string[]) => runPodnet(args, { timeoutMs: 90_000 });

describe('podnet sysdump --store', () => {
  before(async () => {
    assert.equal(podnet(['cluster', 'create', '-f', 'examples/basic.yaml', '--store', STORE]).code, 0);
    const store = await openStore(STORE);
    await store.claimBlock({
      nodeName: 'aks-system-0',
      nodeIp: '10.224.0.4',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 3600,
    });
    const secretObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'etcd-client', namespace: 'kube-system' },
      data: {
        password: SECRETS[0],
        note: `token=${SECRETS[1]}`,
        'client.key': `-----BEGIN EC PRIVATE KEY-----\n${SECRETS[2]}\n-----END EC PRIVATE KEY-----`,
      },
    };
    await store.kv.txn(
      [],
      [
        {
          type: 'put',
          key: 'objects/v1/configmaps/kube-system/etcd-client',
          value: JSON.stringify(secretObject),
        },
      ],
    );
    await store.close();
  });

  it('writes a .tar.gz with the profile, plan, store records and status, and no secret', async () => {
    const file = join(dir, 'dump.tar.gz');
    const r = podnet(['sysdump', '--store', STORE, '-o', file]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^wrote .*dump\.tar\.gz: \d+ entries, \d+ bytes/);
    const entries = await readSysdump(file);
    for (const path of [
      'sysdump.json',
      'cluster/profile.yaml',
      'cluster/plan.json',
      'cluster/record.json',
      'cluster/leases.json',
      'cluster/status.json',
      'cluster/objects.json',
      'cluster/endpoints.json',
      'cluster/agents.json',
    ]) {
      assert.ok(entries.has(path), `${path} missing; has ${[...entries.keys()].join(', ')}`);
    }
    const meta = JSON.parse(entries.get('sysdump.json') ?? '');
    assert.equal(meta.kind, 'Sysdump');
    assert.equal(meta.bounds.maxTotalBytes, 64 << 20);
    // This host's kernel view is either in the bundle or named as left out, with why.
    for (const k of ['host/ip-addr.json', 'host/nft.json']) {
      assert.ok(entries.has(k) || meta.skipped.some((s: { path: string }) => s.path === k), k);
    }
    assert.equal(parse(entries.get('cluster/profile.yaml') ?? '').name, 'demo');
    assert.equal(JSON.parse(entries.get('cluster/leases.json') ?? '').blocks[0].nodeName, 'aks-system-0');
    const status = JSON.parse(entries.get('cluster/status.json') ?? '');
    assert.deepEqual(
      status.problems.map((p: { code: string }) => p.code),
      ['AgentSilent'],
    );
    assert.match(entries.get('cluster/objects.json') ?? '', /etcd-client/);
    const all = [...entries.values()].join('\n');
    for (const s of SECRETS) assert.ok(!all.includes(s), `secret ${s} in the archive`);
  });

  it('refuses bad input with a code, never a stack', () => {
    const both = podnet(['sysdump', '--store', STORE, '--lab', 'x', '-o', join(dir, 'a.tar.gz')]);
    assert.equal(both.code, 2);
    assert.match(both.err, /^error UsageError \(--lab\)/);
    const zip = podnet(['sysdump', '--store', STORE, '-o', join(dir, 'a.zip')]);
    assert.equal(zip.code, 2);
    assert.match(zip.err, /^error UsageError \(--output\)/);
    const missing = podnet(['sysdump', '--store', STORE]);
    assert.equal(missing.code, 2);
    const nowhere = podnet(['sysdump', '--store', STORE, '-o', join(dir, 'no/such/dir/a.tar.gz')]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /^error ReportWriteFailed \(--output\)/);
  });
});
