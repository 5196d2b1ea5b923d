/**
 * `podnet status` end to end: the real executable against a SQLite store holding a cluster, block leases and
 * agents' heartbeats as agents write them; what a user and a script see (tables, JSON, YAML, exit codes).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { PodnetError } from '../../errors/index.js';
import { agentKey, encodeHeartbeat } from '../../status/heartbeat.js';
import { openStore } from '../../store/open.js';
import { mulberry32, mutateChars } from '../../testing/fuzz.js';
import { parseDuration } from './status.js';
import { runPodnet } from './testing/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-status-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STORE = `sqlite:${join(dir, 'cluster.db')}`;

const podnet = (args: string[]) => runPodnet(args);

async function heartbeat(node: string, ip: string, block: string) {
  const store = await openStore(STORE);
  try {
    const now = new Date().toISOString();
    const value = encodeHeartbeat({
      node,
      nodeIp: ip,
      pool: 'system',
      block,
      version: '0.1.0',
      pid: 1,
      startedAt: now,
      heartbeatAt: now,
      ready: true,
      generation: 1,
      lastReconcile: { at: now, result: 'ok', trigger: 'start' },
      reconciles: 1,
      reconcileErrors: 0,
      drift: {},
      lastDriftAt: null,
      ipamProblems: [],
      pods: 0,
      maxPods: 30,
    });
    await store.kv.txn([], [{ type: 'put', key: agentKey(node), value }]);
  } finally {
    await store.close();
  }
}

async function claim(node: string, ip: string): Promise<string> {
  const store = await openStore(STORE);
  try {
    return (
      await store.claimBlock({ nodeName: node, nodeIp: ip, pool: 'system', maxPods: 30, ttlSeconds: 3600 })
    ).block;
  } finally {
    await store.close();
  }
}

describe('podnet status', () => {
  before(() => {
    const r = podnet(['cluster', 'create', '-f', 'examples/basic.yaml', '--store', STORE]);
    assert.equal(r.code, 0, r.err);
  });

  it('is healthy (exit 0) when every leased node heartbeats, in table, JSON and YAML', async () => {
    await heartbeat('aks-system-0', '10.224.0.4', await claim('aks-system-0', '10.224.0.4'));
    const t = podnet(['status', '--store', STORE]);
    assert.equal(t.code, 0, t.out + t.err);
    assert.match(t.out, /^NODE +IP +POOL +BLOCK +LEASE +AGENT +HEARTBEAT/m);
    assert.match(t.out, /^aks-system-0 +10\.224\.0\.4 +system +10\.244\.0\.0\/24 +60m +ready +\ds ago +ok /m);
    assert.match(t.out, /healthy: 1\/1 nodes/);
    const j = JSON.parse(podnet(['status', '--store', STORE, '-o', 'json']).out);
    assert.equal(j.kind, 'Status');
    assert.equal(j.healthy, true);
    assert.equal(j.podCidr.blocks.leased, 1);
    const y = parse(podnet(['status', '--store', STORE, '-o', 'yaml']).out);
    assert.deepEqual(
      y.nodes.map((n: { name: string }) => n.name),
      ['aks-system-0'],
    );
  });

  it('is degraded (exit 1) naming a leased node with no heartbeat; --wait gives up at its timeout', async () => {
    await claim('aks-system-1', '10.224.0.5');
    const t = podnet(['status', '--store', STORE]);
    assert.equal(t.code, 1);
    assert.match(t.out, /^aks-system-1 .* none +- +- /m);
    assert.match(t.out, /DEGRADED: 1\/2 nodes with problems\n {2}aks-system-1: AgentSilent: no heartbeat/);
    const started = Date.now();
    const w = podnet(['status', '--store', STORE, '--wait', '--timeout', '3s', '-o', 'json']);
    assert.equal(w.code, 1);
    assert.ok(Date.now() - started >= 3000, 'waited for the timeout');
    assert.match(w.err, /not healthy yet \(1 problems\)/);
    assert.deepEqual(
      JSON.parse(w.out).problems.map((p: { code: string }) => p.code),
      ['AgentSilent'],
    );
  });

  it('refuses bad input with a code, never a stack', () => {
    const both = podnet(['status', '--store', STORE, '--lab', 'x', '-o', 'json']);
    assert.equal(both.code, 2);
    assert.equal(JSON.parse(both.out).error.code, 'UsageError');
    const format = podnet(['status', '--store', STORE, '-o', 'xml']);
    assert.equal(format.code, 2);
    assert.match(format.err, /^error UsageError \(--output\)/);
    const timeout = podnet(['status', '--store', STORE, '--wait', '--timeout', '5 minutes']);
    assert.equal(timeout.code, 2);
    assert.match(timeout.err, /^error InvalidDuration \(--timeout\)/);
    const lab = podnet(['status', '--lab', 'nosuchlab0']);
    assert.equal(lab.code, 1);
    assert.match(lab.err, /^error LabNotFound/);
    const missing = podnet(['status', '--store', `sqlite:${join(dir, 'none.db')}`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /^error [A-Z][A-Za-z]+/);
  });

  it('reads durations as kubectl and cilium write them; fuzzed near misses are InvalidDuration or a duration', () => {
    assert.equal(parseDuration('90', '--timeout'), 90);
    assert.equal(parseDuration('5m', '--timeout'), 300);
    assert.equal(parseDuration('1h30m', '--timeout'), 5400);
    assert.equal(parseDuration('500ms', '--timeout'), 0.5);
    for (const bad of ['', '0', '-1s', '1.5m', '2d', '25h', 'm', '5m5', '5 m', '1e3']) {
      assert.throws(
        () => parseDuration(bad, '--timeout'),
        (e) => e instanceof PodnetError && e.code === 'InvalidDuration',
        bad,
      );
    }
    const rnd = mulberry32(13);
    for (let i = 0; i < 2000; i++) {
      const v = mutateChars('1h30m', '0123456789hms .-+eE', rnd);
      try {
        const s = parseDuration(v, '--timeout');
        assert.ok(s > 0 && s <= 86_400, `seed 13 #${i}: ${v} -> ${s}`);
      } catch (e) {
        assert.ok(e instanceof PodnetError && e.code === 'InvalidDuration', `seed 13 #${i}: ${v}: ${e}`);
      }
    }
  });
});
