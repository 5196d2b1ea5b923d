import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCidr, parseCidr } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { nextFreeOffset } from './addresses.js';
import { blockAtPosition, blockSpace, chooseBlock, findFreeBlocks, growthRanges } from './blocks.js';

const holder = (block: string, nodeName: string) => ({ block, nodeName });

describe('block policy', () => {
  it('hands out the lowest free block first and keeps a node on its own block', () => {
    const base = { podCidrs: ['10.244.0.0/22'], quarantined: [] };
    const first = chooseBlock({ ...base, leases: [], nodeName: 'a' });
    assert.deepEqual(first, { block: '10.244.0.0/24', position: 0n, kind: 'new' });
    const leases = [holder('10.244.0.0/24', 'a')];
    assert.equal(chooseBlock({ ...base, leases, nodeName: 'b' }).block, '10.244.1.0/24');
    assert.deepEqual(chooseBlock({ ...base, leases, nodeName: 'a' }), {
      block: '10.244.0.0/24',
      position: null,
      kind: 'held',
    });
  });

  it('skips quarantined blocks, but gives a node its own quarantined block back', () => {
    const input = {
      podCidrs: ['10.244.0.0/22'],
      leases: [holder('10.244.1.0/24', 'b')],
      quarantined: [holder('10.244.0.0/24', 'a')],
    };
    assert.equal(chooseBlock({ ...input, nodeName: 'c' }).block, '10.244.2.0/24');
    assert.deepEqual(chooseBlock({ ...input, nodeName: 'a' }), {
      block: '10.244.0.0/24',
      position: null,
      kind: 'reclaimed',
    });
  });

  it('continues round-robin after the cursor and wraps round', () => {
    const input = { podCidrs: ['10.244.0.0/22'], leases: [holder('10.244.0.0/24', 'a')], quarantined: [] };
    assert.equal(chooseBlock({ ...input, nodeName: 'x', cursor: 2n }).block, '10.244.2.0/24');
    assert.equal(chooseBlock({ ...input, nodeName: 'x', cursor: 4n }).block, '10.244.1.0/24');
  });

  it('fails with PodCidrExhausted saying how many blocks exist and how to grow', () => {
    const leases = ['10.244.0.0/24', '10.244.1.0/24'].map((b, i) => holder(b, `n${i}`));
    assert.throws(
      () => chooseBlock({ podCidrs: ['10.244.0.0/23'], leases, quarantined: [], nodeName: 'c' }),
      (e: unknown) =>
        e instanceof PodnetError &&
        e.code === 'PodCidrExhausted' &&
        /all 2 blocks are taken \(2 leased, 0 in quarantine/.test(e.message) &&
        /10\.244\.0\.0\/22 \(4 blocks\)/.test(e.hint ?? '') &&
        e.field === 'network.podCidrs[0]',
    );
  });

  it('after growth fills the old range first, then the added ranges lowest first', () => {
    assert.deepEqual(growthRanges(parseCidr('10.0.0.0/14'), parseCidr('10.2.0.0/16')).map(formatCidr), [
      '10.0.0.0/15',
      '10.3.0.0/16',
    ]);
    const space = blockSpace(['10.0.0.0/14'], [['10.2.0.0/16']]);
    assert.equal(space.total, 1024n);
    assert.equal(blockAtPosition(space, 0n), '10.2.0.0/24');
    assert.equal(blockAtPosition(space, 256n), '10.0.0.0/24');
    assert.equal(blockAtPosition(space, 1023n), '10.3.255.0/24');
    const leases = [holder('10.2.0.0/24', 'a')];
    assert.equal(
      chooseBlock({
        podCidrs: ['10.0.0.0/14'],
        history: [['10.2.0.0/16']],
        leases,
        quarantined: [],
        nodeName: 'b',
      }).block,
      '10.2.1.0/24',
    );
  });

  it('refuses a history that is not a chain of growths', () => {
    assert.throws(
      () => blockSpace(['10.1.0.0/16'], [['10.2.0.0/16']]),
      (e: unknown) => e instanceof PodnetError && e.code === 'StoreCorrupt',
    );
  });

  it('spreads concurrent claimers over the first free candidates', () => {
    const space = blockSpace(['10.244.0.0/16']);
    const free = findFreeBlocks(space, 0n, (b) => b === '10.244.1.0/24', 3);
    assert.deepEqual(
      free.map((f) => f.block),
      ['10.244.0.0/24', '10.244.2.0/24', '10.244.3.0/24'],
    );
    const pick = chooseBlock({
      podCidrs: ['10.244.0.0/16'],
      leases: [],
      quarantined: [],
      nodeName: 'x',
      spread: 8,
      random: () => 0.99,
    });
    assert.equal(pick.block, '10.244.7.0/24');
    // With fewer free blocks than the spread, the pick is among those that are free.
    const few = chooseBlock({
      podCidrs: ['10.244.0.0/22'],
      leases: [holder('10.244.0.0/24', 'a'), holder('10.244.2.0/24', 'b')],
      quarantined: [],
      nodeName: 'x',
      spread: 64,
      random: () => 0.99,
    });
    assert.equal(few.block, '10.244.3.0/24');
  });

  it('handles IPv6 pod CIDRs with /120 blocks', () => {
    const c = chooseBlock({
      podCidrs: ['fd00:10::/112'],
      leases: [holder('fd00:10::/120', 'a')],
      quarantined: [],
      nodeName: 'b',
    });
    assert.equal(c.block, 'fd00:10::100/120');
  });
});

describe('pod address policy', () => {
  it('hands out .1 to .254, round-robin after the cursor, never .0 or .255', () => {
    assert.equal(
      nextFreeOffset(() => false, 0),
      1,
    );
    assert.equal(
      nextFreeOffset(() => false, 7),
      8,
    );
    assert.equal(
      nextFreeOffset(() => false, 254),
      1,
    );
    assert.equal(
      nextFreeOffset((o) => o !== 3, 200),
      3,
    );
    assert.equal(
      nextFreeOffset(() => true, 5),
      null,
    );
    const seen = new Set<number>();
    let cursor = 0;
    for (let i = 0; i < 254; i++) {
      const o = nextFreeOffset((x) => seen.has(x), cursor) as number;
      seen.add(o);
      cursor = o;
    }
    assert.equal(seen.size, 254);
    assert.ok(!seen.has(0) && !seen.has(255));
  });
});
