import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openPodIpam } from '../ipam/pod-ipam.js';
import { openStore } from './open.js';
import { claimAtOnce, killAll, runTogether } from './testing/procs.js';
import { testProfile } from './testing/profile.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-concurrency-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('200 processes claiming blocks at once', () => {
  it('sqlite: every block handed out exactly once', async () => {
    await claimAtOnce(`sqlite:${join(dir, 'claims.db')}`);
  });
});

describe('kill -9 in the middle of allocation storms (sqlite), then restart', () => {
  it('block claims: no duplicate, nothing confirmed lost', async () => {
    const url = `sqlite:${join(dir, 'storm.db')}`;
    const setup = await openStore(url);
    await setup.putCluster(testProfile('10.240.0.0/12'), 0);
    await setup.close();
    const workers = await runTogether(Array.from({ length: 4 }, (_, i) => ['claim-storm', url, `storm${i}`]));
    await sleep(400);
    killAll(workers);
    await Promise.all(workers.map((w) => w.exited));
    const confirmed = workers.flatMap((w) => w.results).filter((r) => r.block) as {
      node: string;
      block: string;
    }[];
    assert.ok(confirmed.length > 20, `the storm got going before the kill (${confirmed.length} claims)`);
    const store = await openStore(url);
    try {
      const listed = await store.listBlocks();
      const byNode = new Map(listed.map((l) => [l.nodeName, l.block]));
      for (const c of confirmed)
        assert.equal(byNode.get(c.node), c.block, `confirmed claim ${c.node}=${c.block} survived`);
      assert.equal(new Set(listed.map((l) => l.block)).size, listed.length, 'no block twice');
      const more = await store.claimBlock({
        nodeName: 'after-restart',
        nodeIp: '10.0.0.9',
        pool: 'p',
        maxPods: 30,
        ttlSeconds: 60,
      });
      assert.ok(!listed.some((l) => l.block === more.block), 'a claim after the restart gets a fresh block');
    } finally {
      await store.close();
    }
    const db = new Database(join(dir, 'storm.db'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  });

  it('pod addresses: no duplicate, nothing confirmed lost', async () => {
    const path = join(dir, 'node-1', 'pod-ipam.db');
    openPodIpam({ path, block: '10.244.7.0/24', maxPods: 250 }).close();
    const workers = await runTogether(
      Array.from({ length: 4 }, (_, i) => ['alloc-storm', path, '10.244.7.0/24', '250', `w${i}`]),
    );
    await sleep(400);
    killAll(workers);
    await Promise.all(workers.map((w) => w.exited));
    const lines = workers.flatMap((w) => w.results) as {
      containerId?: string;
      ip?: string;
      released?: string;
    }[];
    const released = new Set(lines.filter((l) => l.released).map((l) => l.released));
    const held = lines.filter((l) => l.containerId && l.ip && !released.has(l.containerId));
    assert.ok(lines.length > 40, `the storm got going before the kill (${lines.length} results)`);
    const ipam = openPodIpam({ path, block: '10.244.7.0/24', maxPods: 250 });
    try {
      for (const h of held)
        assert.equal(ipam.get(h.containerId as string, 'eth0')?.ip, h.ip, `${h.containerId} kept ${h.ip}`);
      const all = ipam.list();
      assert.equal(new Set(all.map((a) => a.ip)).size, all.length, 'no address twice');
      for (const r of released) assert.equal(ipam.get(r as string, 'eth0'), null, `${r} stays released`);
      ipam.release(all[0].containerId, 'eth0'); // the storm may have filled the node: make room for one
      const next = ipam.allocate({ containerId: 'after-restart', ifname: 'eth0' });
      assert.ok(!all.slice(1).some((a) => a.ip === next.ip), 'the new address is not one still held');
    } finally {
      ipam.close();
    }
  });
});
