/**
 * 250 pods added at once on one node through the real shim: 250 distinct addresses, every pod reachable, the
 * 251st refused with a clear error and nothing left of it; then 250 DELs at once leave the node clean.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPodVeths, podLinkNames } from '../dataplane/pod-network.js';
import { openPodIpam } from '../ipam/pod-ipam.js';
import { ipBatch, ipJson } from '../kernel/ip.js';
import { execInNetns } from '../kernel/process.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { SHIM_PATH, execPlugin } from './testing/exec-plugin.js';
import { type TestAgent, startTestAgent } from './testing/test-agent.js';

const PODS = 250;
const block = `10.${200 + (randomBytes(1)[0] % 50)}.${randomBytes(1)[0]}.0/24`;
let scope: NetnsScope;
let dir: string;
let agent: TestAgent;
let node: string;
const pods: string[] = [];
let config: Record<string, unknown>;

describe(`${PODS} pods at once on one node`, () => {
  before(async () => {
    scope = netnsScope('ps');
    dir = mkdtempSync(join(tmpdir(), 'podnet-scale-'));
    node = await scope.add('node');
    // The node's own address, the source of its probes (a real node has its uplink address).
    await ipBatch([`addr add 172.31.${randomBytes(1)[0]}.1/32 dev lo`], node);
    for (let i = 0; i <= PODS; i++) pods.push(`${scope.prefix}-p${i}`);
    // One exec for all pod namespaces; the scope removes everything with its prefix.
    await ipBatch(pods.map((p) => `netns add ${p}`));
    agent = await startTestAgent({
      socket: join(dir, 'agent.sock'),
      nodeName: 'scale',
      nodeNetns: node,
      ipam: openPodIpam({ path: join(dir, 'pod-ipam.db'), block, maxPods: PODS }),
      podCidrs: [block],
    });
    config = { cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni', agentSocket: agent.socket };
  });

  after(async () => {
    await agent?.close();
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const add = (i: number) =>
    execPlugin(SHIM_PATH, { command: 'ADD', containerId: `c${i}`, netns: `/run/netns/${pods[i]}`, config });

  it('gives 250 distinct, reachable addresses; the 251st fails cleanly', async () => {
    const results = await Promise.all(pods.slice(0, PODS).map((_, i) => add(i)));
    const failed = results.filter((r) => r.code !== 0);
    assert.deepEqual(
      failed.map((r) => r.stdout),
      [],
      'every ADD succeeds',
    );
    const ips = results.map(
      (r) => String((r.json as { ips: { address: string }[] }).ips[0].address).split('/')[0],
    );
    assert.equal(new Set(ips).size, PODS, 'distinct addresses');

    const unreachable: string[] = [];
    for (let i = 0; i < ips.length; i += 25) {
      const batch = ips.slice(i, i + 25);
      const pings = await Promise.all(
        batch.map((ip) => execInNetns(node, ['ping', '-c', '1', '-W', '1', ip])),
      );
      pings.forEach((p, j) => p.code !== 0 && unreachable.push(batch[j]));
    }
    assert.deepEqual(unreachable, [], 'every pod answers the node');

    const extra = await add(PODS);
    assert.equal(extra.code, 1);
    assert.equal(extra.json?.code, 100);
    assert.match(String(extra.json?.msg), /^MaxPodsReached: /);
    assert.equal(agent.node.ipam()?.list().length, PODS);
    const links = await ipJson<{ ifname: string }>(['link', 'show'], node);
    assert.ok(
      !links.some((l) => l.ifname === podLinkNames(`c${PODS}`, 'eth0').hostVeth),
      'no veth for the 251st',
    );
    const inPod = await ipJson<{ ifname: string }>(['link', 'show'], pods[PODS]);
    assert.deepEqual(
      inPod.map((l) => l.ifname),
      ['lo'],
      'nothing in the 251st pod',
    );
  });

  it('250 DELs at once leave no veth, route or address', async () => {
    const results = await Promise.all(
      pods
        .slice(0, PODS)
        .map((p, i) =>
          execPlugin(SHIM_PATH, { command: 'DEL', containerId: `c${i}`, netns: `/run/netns/${p}`, config }),
        ),
    );
    assert.deepEqual(
      results.filter((r) => r.code !== 0).map((r) => r.stdout),
      [],
    );
    assert.equal(agent.node.ipam()?.list().length, 0);
    assert.deepEqual(await listPodVeths(node), []);
    assert.deepEqual(await ipJson(['route', 'show', 'match', block], node), []);
  });
});
