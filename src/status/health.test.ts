import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testProfile } from '../agent/test-fixtures.js';
import type { BlockLease, ClusterRecord } from '../store/types.js';
import { DRIFT_WINDOW_S, SILENT_AFTER_S, type StatusInput, assessStatus } from './health.js';
import type { AgentHeartbeat } from './heartbeat.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const HOUR = 3600_000;

const cluster: ClusterRecord = {
  profile: testProfile(),
  generation: 2,
  podCidrHistory: [],
  updatedAt: iso(10 * HOUR),
};

function lease(node: string, i: number, renewedMsAgo = 60_000, ttlMs = HOUR): BlockLease {
  return {
    block: `10.244.${i}.0/24`,
    family: 4,
    nodeName: node,
    nodeIp: `10.224.0.${4 + i}`,
    pool: 'system',
    maxPods: 30,
    claimedAt: iso(5 * HOUR),
    renewedAt: iso(renewedMsAgo),
    expiresAt: new Date(NOW - renewedMsAgo + ttlMs).toISOString(),
  };
}

function beat(node: string, over: Partial<AgentHeartbeat> = {}): AgentHeartbeat {
  return {
    node,
    nodeIp: '10.224.0.4',
    pool: 'system',
    block: '10.244.0.0/24',
    version: '0.1.0',
    pid: 7,
    startedAt: iso(HOUR),
    heartbeatAt: iso(5000),
    ready: true,
    generation: 2,
    lastReconcile: { at: iso(3000), result: 'ok', trigger: 'resync' },
    reconciles: 100,
    reconcileErrors: 0,
    drift: {},
    lastDriftAt: null,
    ipamProblems: [],
    pods: 2,
    maxPods: 30,
    ...over,
  };
}

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    storeUrl: 'memory:',
    cluster,
    leases: [lease('n1', 0), lease('n2', 1)],
    quarantined: [{ block: '10.244.9.0/24', nodeName: 'old', until: iso(-60_000) }],
    heartbeats: [beat('n1'), beat('n2')],
    endpoints: { n1: 2, n2: 2 },
    ...over,
  };
}

const codes = (i: StatusInput) => assessStatus(i, NOW).problems.map((p) => `${p.node} ${p.code}`);

describe('podnet status: the health decision', () => {
  it('is healthy when every leased node has a recent heartbeat, and counts the pod CIDR', () => {
    const s = assessStatus(input(), NOW);
    assert.equal(s.healthy, true);
    assert.deepEqual(s.problems, []);
    assert.deepEqual(
      s.nodes.map((n) => [
        n.name,
        n.block,
        n.agent.state,
        n.agent.heartbeatAgeSeconds,
        n.endpoints,
        n.lease?.expiresInSeconds,
      ]),
      [
        ['n1', '10.244.0.0/24', 'ok', 5, 2, 3540],
        ['n2', '10.244.1.0/24', 'ok', 5, 2, 3540],
      ],
    );
    // testProfile's pod CIDR is 10.244.0.0/16: 256 blocks of /24.
    assert.deepEqual(s.podCidr.blocks, { total: 256, leased: 2, quarantined: 1, free: 253 });
    assert.equal(s.apiVersion, 'podnet.io/v1alpha1');
    assert.equal(s.kind, 'Status');
  });

  it('names a node whose agent wrote no heartbeat (expired with its lease) or a stale one: AgentSilent', () => {
    assert.deepEqual(codes(input({ heartbeats: [beat('n1')] })), ['n2 AgentSilent']);
    const stale = beat('n2', { heartbeatAt: iso((SILENT_AFTER_S + 1) * 1000) });
    assert.deepEqual(codes(input({ heartbeats: [beat('n1'), stale] })), ['n2 AgentSilent']);
    const fresh = beat('n2', { heartbeatAt: iso((SILENT_AFTER_S - 1) * 1000) });
    assert.deepEqual(codes(input({ heartbeats: [beat('n1'), fresh] })), []);
  });

  it("reports a lab's node that has neither lease nor heartbeat", () => {
    const s = assessStatus(input({ expectedNodes: ['n1', 'n2', 'n3'] }), NOW);
    assert.deepEqual(
      s.problems.map((p) => `${p.node} ${p.code}`),
      ['n3 AgentSilent'],
    );
    assert.equal(s.nodes.find((n) => n.name === 'n3')?.agent.state, 'none');
  });

  it('flags a block lease with less than half its TTL left (a renewal missed), not one renewed on time', () => {
    // Renewals come every third of the TTL: 2/3 left is normal, under 1/2 is one renewal missed.
    const late = lease('n2', 1, 0.51 * HOUR);
    assert.deepEqual(codes(input({ leases: [lease('n1', 0), late] })), ['n2 LeaseNearExpiry']);
    const onTime = lease('n2', 1, 0.34 * HOUR);
    assert.deepEqual(codes(input({ leases: [lease('n1', 0), onTime] })), []);
    const reservation = { ...lease('n2', 1), expiresAt: null };
    assert.deepEqual(codes(input({ leases: [lease('n1', 0), reservation] })), []);
  });

  it('flags kernel drift repaired within the window, and forgets it after', () => {
    const drifted = beat('n1', { drift: { routes: 2, ruleset: 0 }, lastDriftAt: iso(60_000) });
    const s = assessStatus(input({ heartbeats: [drifted, beat('n2')] }), NOW);
    assert.deepEqual(
      s.problems.map((p) => `${p.node} ${p.code}`),
      ['n1 KernelDrift'],
    );
    assert.match(s.problems[0].message, /routes 2x/);
    const old = beat('n1', { drift: { routes: 2 }, lastDriftAt: iso((DRIFT_WINDOW_S + 1) * 1000) });
    assert.deepEqual(codes(input({ heartbeats: [old, beat('n2')] })), []);
  });

  it('flags a failing reconcile with its part, an unready agent, IPAM audit findings and an old generation', () => {
    const failing = beat('n1', {
      ready: false,
      lastReconcile: {
        at: iso(1000),
        result: 'error',
        trigger: 'resync',
        error: { code: 'KernelCommandFailed', message: 'nft failed', part: 'ruleset' },
      },
    });
    const leaky = beat('n2', {
      ipamProblems: [{ code: 'AddressWithoutInterface', subject: '10.244.1.9' }],
      generation: 1,
    });
    const s = assessStatus(input({ heartbeats: [failing, leaky] }), NOW);
    assert.deepEqual(
      s.problems.map((p) => `${p.node} ${p.code}`),
      ['n1 ReconcileFailing', 'n2 AgentIpamProblems', 'n2 ProfileNotApplied'],
    );
    assert.match(s.problems[0].message, /KernelCommandFailed in part ruleset/);
    const unready = beat('n1', { ready: false });
    assert.deepEqual(codes(input({ heartbeats: [unready, beat('n2')] })), ['n1 AgentNotReady']);
    // A profile changed a moment ago: the agent's heartbeat may not carry it yet.
    const justChanged = { ...cluster, updatedAt: iso(5000) };
    assert.deepEqual(codes(input({ cluster: justChanged, heartbeats: [beat('n1'), leaky] })), [
      'n2 AgentIpamProblems',
    ]);
  });

  it('reports a heartbeating node the store leases no block to', () => {
    assert.deepEqual(codes(input({ leases: [lease('n1', 0)] })), ['n2 NodeWithoutBlock']);
  });
});
