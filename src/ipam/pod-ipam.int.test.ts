import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { runTogether } from '../store/testing/procs.js';
import { openPodIpam } from './pod-ipam.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-podipam-int-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('251 processes allocating at once on one node: 250 distinct addresses, the 251st MaxPodsReached', async () => {
  const path = join(dir, 'node-a', 'pod-ipam.db');
  openPodIpam({ path, block: '10.244.9.0/24', maxPods: 250 }).close();
  const workers = await runTogether(
    Array.from({ length: 251 }, (_, i) => ['alloc', path, '10.244.9.0/24', '250', `c${i}`]),
  );
  await Promise.all(workers.map((w) => w.exited));
  const results = workers.flatMap((w) => w.results) as { containerId: string; ip?: string; error?: string }[];
  assert.equal(results.length, 251);
  const ok = results.filter((r) => r.ip);
  const refused = results.filter((r) => r.error);
  assert.equal(ok.length, 250);
  assert.equal(new Set(ok.map((r) => r.ip)).size, 250, '250 distinct addresses');
  assert.deepEqual(
    refused.map((r) => r.error),
    ['MaxPodsReached'],
  );
  const ipam = openPodIpam({ path, block: '10.244.9.0/24', maxPods: 250 });
  assert.deepEqual(
    ipam
      .list()
      .map((a) => `${a.containerId}=${a.ip}`)
      .sort(),
    ok.map((r) => `${r.containerId}=${r.ip}`).sort(),
  );
  ipam.close();
});
