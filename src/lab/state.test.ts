import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

// Lab state lives under PODNET_LAB_DIR; a temporary folder keeps this test away from real labs.
const root = mkdtempSync(join(tmpdir(), 'podnet-lab-state-'));
process.env.PODNET_LAB_DIR = root;
const { withLabLock, withVnetLock, resolveLabName, readLab } = await import('./state.js');
after(() => rmSync(root, { recursive: true, force: true }));

describe('VNet lock', () => {
  it('runs changes to one VNet one after the other', async () => {
    const events: string[] = [];
    const change = (tag: string) =>
      withVnetLock('net', async () => {
        events.push(`${tag} in`);
        await new Promise((r) => setTimeout(r, 150));
        events.push(`${tag} out`);
      });
    await Promise.all([change('a'), change('b')]);
    assert.deepEqual(events, ['a in', 'a out', 'b in', 'b out']);
  });

  it('takes over a lock whose owner died (a crashed lab up)', async () => {
    writeFileSync(join(root, 'vnet-net.json.lock'), '999999999');
    assert.equal(await withVnetLock('net', async () => 'ran', 2000), 'ran');
  });

  it('refuses with LabBusy while a live process holds it', async () => {
    writeFileSync(join(root, 'vnet-busy.json.lock'), String(process.ppid));
    await assert.rejects(
      withVnetLock('busy', async () => 'ran', 300),
      /LabBusy|being changed/,
    );
    rmSync(join(root, 'vnet-busy.json.lock'));
  });
});

describe('lab names in paths', () => {
  it('never builds a path from an unchecked name', async () => {
    await assert.rejects(
      withLabLock('../../etc', async () => 'ran'),
      /InvalidLabName|not a lower-case word/,
    );
    assert.throws(() => readLab('../x'), /not a lower-case word/);
    assert.throws(() => resolveLabName('a/b'), /not a lower-case word/);
  });
});

describe('lab name resolution', () => {
  it('asks for --name when no lab runs', () => {
    assert.throws(() => resolveLabName(undefined), /no lab is running/);
    assert.equal(resolveLabName('x'), 'x');
  });
});
