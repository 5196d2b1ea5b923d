import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

// Lab state lives under PODNET_LAB_DIR; a temporary folder keeps this test away from real labs.
const root = mkdtempSync(join(tmpdir(), 'podnet-lab-state-'));
process.env.PODNET_LAB_DIR = root;
const { withLabLock, withVnetLock, resolveLabName, readLab, requestRemoval, clearRemoval, watchRemoval } =
  await import('./state.js');
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

describe('removal requests (lab down during lab up)', () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('aborts a watch with LabRemoved once a down asks, and not for a request older than the watch', async () => {
    requestRemoval('older');
    await wait(20);
    const old = watchRemoval('older');
    await wait(250);
    assert.equal(old.signal.aborted, false, 'a down that ran before this up took the lock');
    old.stop();
    clearRemoval('older');

    const w = watchRemoval('busy');
    await wait(20);
    requestRemoval('busy');
    await wait(250);
    assert.equal(w.signal.aborted, true);
    assert.equal((w.signal.reason as { code?: string }).code, 'LabRemoved');
    w.stop();
    clearRemoval('busy');
  });

  it('ignores a request whose down died, and a watch never waits on a lock past its abort', async () => {
    const w = watchRemoval('dead');
    await wait(20);
    writeFileSync(join(root, 'dead.removing'), '999999999');
    await wait(250);
    assert.equal(w.signal.aborted, false);
    w.stop();
    const held = withVnetLock('held', () => wait(1000));
    const c = new AbortController();
    setTimeout(() => c.abort(new Error('removed')), 150);
    await assert.rejects(
      withVnetLock('held', async () => 'ran', 5000, c.signal),
      /removed/,
    );
    await held;
  });
});
