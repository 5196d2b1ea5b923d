import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AGENTS_PREFIX,
  type AgentHeartbeat,
  HEARTBEAT_REFRESH_S,
  agentKey,
  decodeHeartbeat,
} from '../status/heartbeat.js';
import { MemoryStore } from '../store/memory.js';
import { MemoryVersionedStore } from '../store/versioned-memory.js';
import type { TxnOp, VersionedStore } from '../store/versioned.js';
import { parseAgentFlags } from './config.js';
import { NodeHeartbeat } from './heartbeat.js';
import { agentLogger } from './log.js';
import { NodeAgent } from './node-agent.js';
import { MemoryPodIpam, RecordingDataplane, testProfile } from './test-fixtures.js';

const log = agentLogger('silent');

/** A versioned store that counts the writes and keep-alives reaching it. */
class CountingStore extends MemoryVersionedStore {
  puts = 0;
  keepAlives = 0;
  override async txn(c: Parameters<VersionedStore['txn']>[0], ops: TxnOp[]) {
    this.puts += ops.filter((o) => o.type === 'put').length;
    return super.txn(c, ops);
  }
  override async keepAlive(lease: string) {
    this.keepAlives++;
    return super.keepAlive(lease);
  }
}

function record(node: string, over: Partial<AgentHeartbeat> = {}): Omit<AgentHeartbeat, 'heartbeatAt'> {
  return {
    node,
    nodeIp: '10.224.0.4',
    pool: 'sys',
    block: '10.244.0.0/24',
    version: '0.1.0',
    pid: 42,
    startedAt: '2026-12-01T00:00:00.000Z',
    ready: true,
    generation: 1,
    lastReconcile: { at: '2026-12-01T00:00:00.000Z', result: 'ok', trigger: 'resync' },
    reconciles: 1,
    reconcileErrors: 0,
    drift: {},
    lastDriftAt: null,
    ipamProblems: [],
    pods: 2,
    maxPods: 110,
    ...over,
  };
}

describe('the agent heartbeat', () => {
  it('writes on change or once a refresh period, never per tick: the write rate measured at 50 nodes', async () => {
    const store = new CountingStore();
    const nodes = 50;
    const tick = 10;
    const minutes = 10;
    let now = Date.parse('2026-12-01T00:00:00Z');
    const lease = (await store.grantLease(600)).id;
    const state = new Map<string, Omit<AgentHeartbeat, 'heartbeatAt'>>();
    const beats = Array.from({ length: nodes }, (_, i) => {
      const node = `n${i}`;
      state.set(node, record(node));
      return new NodeHeartbeat({
        store,
        node,
        lease: () => lease,
        // Every tick brings a new reconcile time and counter: that alone is no reason to write.
        record: () => {
          const r = state.get(node) as Omit<AgentHeartbeat, 'heartbeatAt'>;
          return {
            ...r,
            reconciles: r.reconciles + now,
            lastReconcile: { at: new Date(now).toISOString(), result: 'ok', trigger: 'resync' },
          };
        },
        log,
        tickSeconds: tick,
        now: () => now,
      });
    });
    const ticks = (minutes * 60) / tick;
    for (let t = 0; t <= ticks; t++) {
      // One node gains a pod in the middle of the run: one extra write, for that node only.
      const changed = t === ticks / 2 + 1;
      if (changed) state.set('n7', record('n7', { pods: 3 }));
      for (const b of beats) await b.tick();
      if (changed) {
        const n7 = decodeHeartbeat((await store.get(agentKey('n7'))) ?? assert.fail('no record'));
        assert.deepEqual(
          [n7.pods, n7.heartbeatAt],
          [3, new Date(now).toISOString()],
          'written at the change',
        );
      }
      now += tick * 1000;
    }
    const refreshes = (minutes * 60) / HEARTBEAT_REFRESH_S;
    // The first write, then one per refresh period (n7's change write restarted its refresh period, which
    // here leaves its count the same).
    assert.equal(store.puts, nodes * (1 + refreshes));
    assert.equal(
      store.keepAlives,
      0,
      'the heartbeat rides on the endpoint lease and keeps nothing alive itself',
    );
    // Steady state: the writes after each node's first one, over the run.
    const perNodePerSecond = (store.puts - nodes) / nodes / (minutes * 60);
    // docs/operations.md: 5,000 nodes write 5,000 / 60 s = 83 heartbeats per second in steady state.
    assert.ok(
      Math.abs(perNodePerSecond * 5000 - 5000 / HEARTBEAT_REFRESH_S) < 5,
      `${perNodePerSecond * 5000}/s`,
    );
  });

  it('writes again on a new lease when the old one took the record with it', async () => {
    const store = new MemoryVersionedStore();
    let lease: string | null = null;
    const hb = new NodeHeartbeat({
      store,
      node: 'n1',
      lease: () => lease,
      record: () => record('n1'),
      log,
      tickSeconds: 10,
    });
    await hb.tick();
    assert.equal(await store.get(agentKey('n1')), null, 'no lease yet: nothing written');
    lease = (await store.grantLease(30)).id;
    await hb.tick();
    assert.equal((await store.get(agentKey('n1')))?.lease, lease);
    await store.revokeLease(lease);
    assert.equal(await store.get(agentKey('n1')), null, 'the record goes with its lease');
    // The publisher grants a new lease; the next tick writes the unchanged record on it.
    lease = (await store.grantLease(30)).id;
    await hb.tick();
    assert.equal((await store.get(agentKey('n1')))?.lease, lease);
    assert.equal(hb.writes, 2);
  });

  it('is written by a running agent on its endpoint lease, with its block, generation and readiness', async () => {
    const store = new MemoryStore();
    await store.putCluster(testProfile(), 0);
    const cfg = parseAgentFlags({ store: 'memory:', node: 'n1', nodeIp: '10.224.0.4', resync: '1' });
    const agent = new NodeAgent(cfg, {
      store: Object.assign(Object.create(store), { close: async () => {} }),
      openIpam: (block, maxPods) => new MemoryPodIpam(block, maxPods),
      dataplane: new RecordingDataplane(cfg.nodeIp),
      log,
      objects: store.kv,
    });
    await agent.start();
    try {
      let kv = await store.kv.get(agentKey('n1'));
      for (let i = 0; i < 100 && !kv; i++) {
        await new Promise((r) => setTimeout(r, 20));
        kv = await store.kv.get(agentKey('n1'));
      }
      const h = decodeHeartbeat(kv ?? assert.fail('no heartbeat'));
      assert.equal(h.block, '10.244.0.0/24');
      assert.equal(h.generation, 1);
      assert.equal(h.ready, true);
      assert.equal(h.lastReconcile?.result, 'ok');
      assert.notEqual(kv?.lease, null, 'on a lease');
      const { items } = await store.kv.list(AGENTS_PREFIX);
      assert.equal(items.length, 1);
    } finally {
      await agent.stop();
    }
  });
});
