/**
 * `podnet ipam check` against a real kernel: a pod whose ADD stopped after the node side (the agent killed
 * between its two `ip -batch` steps) is found by looking inside the pod, as CNI CHECK looks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addPodNetwork, renderPodPlumbing } from '../dataplane/pod-network.js';
import { ipBatch } from '../kernel/ip.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { checkNode } from './node-observe.js';
import { openPodIpam } from './pod-ipam.js';

let scope: NetnsScope;
let dir: string;

describe('ipam check looks inside the pods', () => {
  before(() => {
    scope = netnsScope('ic');
    dir = mkdtempSync(join(tmpdir(), 'podnet-ipam-check-'));
  });
  after(async () => {
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a pod plumbed on the node only (PodSideIncomplete), and nothing for a whole pod', async () => {
    const node = await scope.add('node');
    const [whole, half] = [await scope.add('p1'), await scope.add('p2')];
    const file = join(dir, 'pod-ipam.db');
    const ipam = openPodIpam({ path: file, block: '10.244.7.0/24', maxPods: 10 });
    const plumb = (containerId: string, netns: string) => {
      const a = ipam.allocate({ containerId, ifname: 'eth0', netns: `/run/netns/${netns}` });
      return { containerId, ifname: 'eth0', netns: `/run/netns/${netns}`, ip: a.ip, mtu: 1500 };
    };
    await addPodNetwork(plumb('whole', whole), node);
    // The node half of ADD only, as when the agent died between its two steps.
    await ipBatch(renderPodPlumbing(plumb('half', half)).node, node);
    ipam.close();

    const { findings } = await checkNode({ node: 'n1', podIpamFile: file, netns: node });
    assert.deepEqual(
      findings.map((f) => [f.code, f.subject]),
      [['PodSideIncomplete', '10.244.7.2']],
    );
    assert.match(findings[0].message, /container half .*lacks address 10\.244\.7\.2\/32/);
  });
});
