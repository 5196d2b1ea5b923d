/**
 * The behavioural contract every ClusterStore backend must meet; each backend's test file runs it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PodnetError } from '../../errors/index.js';
import { CLUSTER_KEY } from '../cluster-store.js';
import { type StoreOptions, encodeCluster } from '../records.js';
import type { BlockLease, ClaimRequest, ClusterRecord, ClusterStore } from '../types.js';
import { dualStackProfile, testProfile } from './profile.js';

/** schema-version and bad-json corrupt the cluster record; foreign-block adds a lease outside the pod CIDR. */
export type CorruptionKind = 'schema-version' | 'foreign-block' | 'bad-json';

export interface ContractHarness {
  /** A new, empty store (its own file or key prefix). */
  open(opts: StoreOptions): Promise<ClusterStore>;
  /** Writes foreign or corrupt data into the store `open` returned last; returns the key or row it wrote. */
  corrupt(store: ClusterStore, kind: CorruptionKind): Promise<string>;
  /** Extra wait after a quarantine ends before the block is free (etcd frees it when its lease ends). */
  quarantineSlackMs: number;
  /** True when a lone claimer gets the lowest free block (sqlite, memory); etcd picks among the first free. */
  lowestFirst: boolean;
  /** Corruptions that can happen to this backend (default: all). */
  kinds?: CorruptionKind[];
  teardown?(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function claim(nodeName: string, ttlSeconds = 60): ClaimRequest {
  return { nodeName, nodeIp: '10.0.0.4', nodeIp6: 'fd00:10::4', pool: 'pool1', maxPods: 250, ttlSeconds };
}

async function rejects(p: Promise<unknown>, code: string): Promise<PodnetError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PodnetError, `expected PodnetError ${code}, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

export function storeContract(name: string, harness: ContractHarness): void {
  describe(`ClusterStore contract: ${name}`, () => {
    const stores: ClusterStore[] = [];
    const open = async (opts: StoreOptions = { quarantineSeconds: 1 }, podCidr = '10.244.0.0/22') => {
      const s = await harness.open(opts);
      stores.push(s);
      if (podCidr) await s.putCluster(testProfile(podCidr), 0);
      return s;
    };
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await harness.teardown?.();
    });

    it('refuses claims before a cluster profile exists, and guards the record by generation', async () => {
      const s = await harness.open({});
      stores.push(s);
      assert.equal(await s.getCluster(), null);
      await rejects(s.claimBlock(claim('node-a')), 'ClusterNotFound');
      const rec = await s.putCluster(testProfile(), 0);
      assert.equal(rec.generation, 1);
      assert.deepEqual((await s.getCluster())?.profile, testProfile());
      await rejects(s.putCluster(testProfile(), 0), 'ClusterConflict');
      await rejects(s.putCluster(testProfile(), 5), 'ClusterConflict');
      assert.equal((await s.putCluster(testProfile(), 1)).generation, 2);
    });

    it('claims idempotently: a node gets its own block back, others get different blocks', async () => {
      const s = await open({ quarantineSeconds: 60 });
      const a = await s.claimBlock(claim('node-a'));
      const b = await s.claimBlock(claim('node-b'));
      const again = await s.claimBlock(claim('node-a'));
      if (harness.lowestFirst) assert.deepEqual([a.block, b.block], ['10.244.0.0/24', '10.244.1.0/24']);
      assert.match(a.block, /^10\.244\.[0-3]\.0\/24$/);
      assert.match(b.block, /^10\.244\.[0-3]\.0\/24$/);
      assert.notEqual(a.block, b.block);
      assert.equal(again.block, a.block);
      assert.equal(again.claimedAt, a.claimedAt);
      const byAddress = [a, b].sort((x, y) => Number(x.block.split('.')[2]) - Number(y.block.split('.')[2]));
      assert.deepEqual(
        (await s.listBlocks()).map((l) => [l.block, l.nodeName]),
        byAddress.map((l) => [l.block, l.nodeName]),
      );
      await rejects(s.claimBlock({ ...claim('Bad_Name') }), 'InvalidClaim');
    });

    it('renews a lease and refuses to renew one the node does not hold', async () => {
      const s = await open();
      const a = await s.claimBlock(claim('node-a', 10));
      await sleep(20);
      const r = await s.renewBlock('node-a', 100);
      assert.equal(r.block, a.block);
      assert.ok(Date.parse(r.expiresAt ?? '') > Date.parse(a.expiresAt ?? '') + 80_000);
      await rejects(s.renewBlock('node-x', 10), 'LeaseNotFound');
    });

    it('quarantines a released block, gives it back to its node, and reports exhaustion with counts', async () => {
      const s = await open({ quarantineSeconds: 60 });
      const blocks: string[] = [];
      for (const n of ['node-a', 'node-b', 'node-c']) blocks.push((await s.claimBlock(claim(n))).block);
      await s.releaseBlock('node-a');
      await s.releaseBlock('node-a'); // idempotent
      assert.deepEqual((await s.listBlocks()).map((l) => l.nodeName).sort(), ['node-b', 'node-c']);
      assert.deepEqual(
        (await s.listQuarantined()).map((q) => [q.block, q.nodeName]),
        [[blocks[0], 'node-a']],
      );
      await rejects(s.renewBlock('node-a', 10), 'LeaseNotFound');
      const d = await s.claimBlock(claim('node-d'));
      const fourth = ['0', '1', '2', '3'].map((i) => `10.244.${i}.0/24`).find((x) => !blocks.includes(x));
      assert.equal(d.block, fourth, 'the last free block, not the quarantined one');
      const e = await rejects(s.claimBlock(claim('node-e')), 'PodCidrExhausted');
      assert.deepEqual(e.details, { podCidr: '10.244.0.0/22', blocks: 4, leased: 3, quarantined: 1 });
      assert.match(e.message, /all 4 blocks are taken/);
      assert.match(e.hint ?? '', /10\.244\.0\.0\/21/);
      assert.equal(
        (await s.claimBlock(claim('node-a'))).block,
        blocks[0],
        'its own block back from quarantine',
      );
    });

    it('expires an unrenewed lease after its TTL, then frees the block after the quarantine', async () => {
      const s = await open({ quarantineSeconds: 1 }, '10.244.0.0/24');
      const a = await s.claimBlock(claim('node-a', 1));
      await rejects(s.claimBlock(claim('node-b')), 'PodCidrExhausted');
      await sleep(1200);
      assert.deepEqual(await s.listBlocks(), []);
      assert.deepEqual(
        (await s.listQuarantined()).map((q) => q.block),
        [a.block],
      );
      await rejects(s.claimBlock(claim('node-b')), 'PodCidrExhausted');
      await sleep(1000 + harness.quarantineSlackMs);
      assert.deepEqual(await s.listQuarantined(), []);
      const b = await s.claimBlock(claim('node-b'));
      assert.equal(b.block, a.block);
      await rejects(s.renewBlock('node-a', 10), 'LeaseNotFound');
    });

    it('grows the pod CIDR without touching existing leases; refuses a range that does not contain the old one', async () => {
      const s = await open({ quarantineSeconds: 60 }, '10.244.0.0/23');
      const before = [];
      for (const n of ['node-a', 'node-b']) before.push(await s.claimBlock(claim(n)));
      await rejects(s.claimBlock(claim('node-c')), 'PodCidrExhausted');
      const rec = await s.putCluster(testProfile('10.244.0.0/22'), 1);
      assert.deepEqual(rec.podCidrHistory, [['10.244.0.0/23']]);
      assert.deepEqual(
        await s.listBlocks(),
        before.flatMap((l) => l.blocks).sort((x, y) => x.block.localeCompare(y.block)),
      );
      assert.match(
        (await s.claimBlock(claim('node-c'))).block,
        /^10\.244\.[23]\.0\/24$/,
        'a block of the added range',
      );
      assert.equal((await s.claimBlock(claim('node-a'))).block, before[0].block);
      await rejects(s.putCluster(testProfile('10.245.0.0/22'), 2), 'PodCidrNotGrowth');
      await rejects(s.putCluster(testProfile('10.244.0.0/24'), 2), 'PodCidrNotGrowth');
    });

    it('watches: a full snapshot at start and after every claim, release and expiry', async () => {
      const s = await open({ quarantineSeconds: 1 });
      const seen: BlockLease[][] = [];
      const stop = await s.watchBlocks((l) => seen.push(l));
      const waitFor = async (pred: (l: BlockLease[]) => boolean, what: string) => {
        for (let i = 0; i < 120; i++) {
          if (seen.length > 0 && pred(seen[seen.length - 1])) return;
          await sleep(50);
        }
        assert.fail(`watch never reported ${what}; last: ${JSON.stringify(seen[seen.length - 1])}`);
      };
      try {
        await waitFor((l) => l.length === 0, 'the empty start');
        await s.claimBlock(claim('node-a'));
        await s.claimBlock(claim('node-b', 3));
        await waitFor(
          (l) =>
            l
              .map((x) => x.nodeName)
              .sort()
              .join() === 'node-a,node-b',
          'two claims',
        );
        await s.releaseBlock('node-a');
        await waitFor((l) => l.map((x) => x.nodeName).join() === 'node-b', 'the release');
        await waitFor((l) => l.length === 0, 'the expiry of node-b');
      } finally {
        stop();
      }
    });

    it('watches the cluster record: it at start (null before one is written) and after every update', async () => {
      const s = await open({}, '');
      const seen: (ClusterRecord | null)[] = [];
      const stop = await s.watchCluster((r) => seen.push(r));
      const waitFor = async (pred: (r: ClusterRecord | null) => boolean, what: string) => {
        for (let i = 0; i < 120; i++) {
          if (seen.length > 0 && pred(seen[seen.length - 1])) return;
          await sleep(50);
        }
        assert.fail(`watch never reported ${what}; last: ${JSON.stringify(seen[seen.length - 1])}`);
      };
      try {
        await waitFor((r) => r === null, 'the empty start');
        await s.putCluster(testProfile('10.244.0.0/22'), 0);
        await waitFor((r) => r?.generation === 1, 'the first profile');
        // A claim is not a change of the record: the watch stays quiet.
        await s.claimBlock(claim('node-a'));
        await s.putCluster(testProfile('10.244.0.0/21'), 1);
        await waitFor((r) => r?.profile.network.podCidrs[0] === '10.244.0.0/21', 'the grown pod CIDR');
        assert.deepEqual(
          seen.map((r) => r?.generation ?? 0),
          [0, 1, 2],
          'one report per change of the record, in order',
        );
      } finally {
        stop();
      }
    });

    // Dual-stack (AKS `ipFamilies: [IPv4, IPv6]`): each node gets an IPv4 /24 and an IPv6 /120 together.
    const dual = async (opts: StoreOptions, podCidr6 = 'fd12:3456:789a::/118') => {
      const s = await open(opts, '');
      await s.putCluster(dualStackProfile('10.244.0.0/22', podCidr6), 0);
      return s;
    };
    const families = (l: { blocks: BlockLease[] }) => l.blocks.map((b) => [b.family, b.block]);

    it('dual-stack: a node leases one block of each family together, idempotently, and renews both', async () => {
      const s = await dual({ quarantineSeconds: 60 });
      const a = await s.claimBlock(claim('node-a', 10));
      const b = await s.claimBlock(claim('node-b'));
      for (const l of [a, b]) {
        assert.deepEqual(
          l.blocks.map((x) => x.family),
          [4, 6],
        );
        assert.match(l.blocks[0].block, /^10\.244\.[0-3]\.0\/24$/);
        assert.match(l.blocks[1].block, /^fd12:3456:789a::[0-3]00\/120$|^fd12:3456:789a::\/120$/);
        assert.equal(l.block, l.blocks[0].block, 'the lease itself is the IPv4 one');
      }
      if (harness.lowestFirst) assert.equal(a.blocks[1].block, 'fd12:3456:789a::/120');
      assert.deepEqual(
        a.blocks.map((x) => x.nodeIp),
        ['10.0.0.4', 'fd00:10::4'],
        'each block is routed to the node address of its family',
      );
      await rejects(s.claimBlock({ ...claim('node-x'), nodeIp6: undefined }), 'InvalidClaim');
      assert.notEqual(a.blocks[1].block, b.blocks[1].block);
      const again = await s.claimBlock(claim('node-a', 10));
      assert.deepEqual(families(again), families(a));
      assert.equal(again.blocks[1].claimedAt, a.blocks[1].claimedAt);
      const listed = await s.listBlocks();
      assert.deepEqual(listed.map((l) => [l.nodeName, l.family]).sort(), [
        ['node-a', 4],
        ['node-a', 6],
        ['node-b', 4],
        ['node-b', 6],
      ]);
      assert.deepEqual(
        listed.map((l) => l.family),
        [4, 4, 6, 6],
        'by address: IPv4 first',
      );
      const r = await s.renewBlock('node-a', 100);
      assert.deepEqual(families(r), families(a));
      for (const x of r.blocks)
        assert.ok(Date.parse(x.expiresAt ?? '') > Date.parse(a.expiresAt ?? '') + 80_000);
    });

    it('dual-stack: exhaustion of one family leaves the node with neither block; quarantine and release cover both', async () => {
      const s = await dual({ quarantineSeconds: 60 }, 'fd12:3456:789a::/119'); // 2 IPv6 blocks, 4 IPv4
      const a = await s.claimBlock(claim('node-a'));
      await s.claimBlock(claim('node-b'));
      const e = await rejects(s.claimBlock(claim('node-c')), 'PodCidrExhausted');
      assert.equal(e.field, 'network.podCidrs[1]');
      assert.deepEqual(e.details, { podCidr: 'fd12:3456:789a::/119', blocks: 2, leased: 2, quarantined: 0 });
      assert.ok(
        !(await s.listBlocks()).some((l) => l.nodeName === 'node-c'),
        'no IPv4 block for node-c either',
      );
      await s.releaseBlock('node-a');
      assert.deepEqual(
        (await s.listQuarantined()).map((q) => [q.nodeName, q.block]),
        a.blocks.map((x) => ['node-a', x.block]),
      );
      await rejects(s.claimBlock(claim('node-c')), 'PodCidrExhausted');
      assert.deepEqual(
        families(await s.claimBlock(claim('node-a'))),
        families(a),
        'both back from quarantine',
      );
    });

    it('dual-stack: refuses a change of families, and names a node leased under another profile without touching it', async () => {
      const s = await open({ quarantineSeconds: 60 });
      const a = await s.claimBlock(claim('node-a'));
      await rejects(s.putCluster(dualStackProfile(), 1), 'PodCidrFamiliesChanged');
      // A store whose record changed under its leases (hand edit, restore from another cluster's backup).
      const rec = (await s.getCluster()) as ClusterRecord;
      await s.kv.txn(
        [],
        [{ type: 'put', key: CLUSTER_KEY, value: encodeCluster({ ...rec, profile: dualStackProfile() }) }],
      );
      const before = await s.listBlocks();
      const e = await rejects(s.claimBlock(claim('node-a')), 'LeaseFamiliesMismatch');
      assert.match(e.message, /10\.244\.0\.0\/24|10\.244\.[0-3]\.0\/24/);
      assert.match(e.hint ?? '', /podnet ipam release --node node-a/);
      await rejects(s.renewBlock('node-a', 10), 'LeaseFamiliesMismatch');
      assert.deepEqual(await s.listBlocks(), before, 'nothing half-made');
      assert.deepEqual(
        (await s.claimBlock(claim('node-b'))).blocks.map((x) => x.family),
        [4, 6],
      );
      await s.releaseBlock('node-a');
      const fresh = await s.claimBlock(claim('node-a'));
      assert.deepEqual(
        fresh.blocks.map((x) => x.family),
        [4, 6],
      );
      assert.notEqual(fresh.block, a.block, 'a fresh set; the released block waits out its quarantine');
    });

    for (const kind of harness.kinds ?? (['schema-version', 'foreign-block', 'bad-json'] as const)) {
      it(`reports corrupt or foreign data (${kind}) naming the key or row, and overwrites nothing`, async () => {
        const s = await open({ quarantineSeconds: 60 });
        await s.claimBlock(claim('node-a'));
        const where = await harness.corrupt(s, kind);
        const code = kind === 'schema-version' ? 'StoreSchemaMismatch' : 'StoreCorrupt';
        const read = () => (kind === 'foreign-block' ? s.listBlocks() : s.getCluster());
        const e = await rejects(read(), code);
        assert.ok(e.field?.includes(where) || e.message.includes(where), `${e.message} names ${where}`);
        // A claim needs the cluster record: with that one corrupt it must fail rather than guess.
        if (kind !== 'foreign-block') await rejects(s.claimBlock(claim('node-b')), code);
        const again = await rejects(read(), code);
        assert.equal(again.message, e.message, 'the corrupt entry is still there, untouched');
      });
    }
  });
}
