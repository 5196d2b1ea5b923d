import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileFromObject } from '../profile/load.js';
import { checkPlan } from './check.js';

describe('capacity report', () => {
  it('reports the AKS default plan: 256 blocks, 3+1 nodes, 750 pods, 65,536 service addresses', () => {
    const c = checkPlan(profileFromObject({ agentPoolProfiles: [{ name: 'nodepool1' }] })).capacity;
    assert.equal(c.podCidrBlocks, 256);
    assert.equal(c.podIpsPerBlock, 256);
    assert.equal(c.nodes, 3);
    assert.equal(c.surgeNodes, 1);
    assert.equal(c.nodesIncludingSurge, 4);
    assert.equal(c.serviceAddresses, 65536);
    assert.deepEqual(c.maxPodsPerNode, { nodepool1: 250 });
    assert.equal(c.maxClusterPods, 750);
    assert.deepEqual(c.subnets, [
      {
        name: 'aks-subnet',
        cidr: '10.224.0.0/16',
        totalAddresses: 65536,
        reserved: 5,
        usableNodeIps: 65531,
        nodes: 3,
        nodesIncludingSurge: 4,
      },
    ]);
    assert.equal(c.bindingLimit?.limit, 'podCidr');
    assert.equal(c.bindingLimit?.moreNodes, 252);
    assert.deepEqual(c.vnetAddresses, { overlay: 4, flat: 4 * 251, saved: 4 * 251 - 4 });
  });

  it('names the subnet as the binding limit when it fills before the pod CIDR', () => {
    const c = checkPlan(
      profileFromObject({
        vnet: {
          name: 'v',
          addressSpaces: ['10.224.0.0/12'],
          subnets: [
            { name: 'small', cidr: '10.224.0.0/27' },
            { name: 'big', cidr: '10.225.0.0/16' },
          ],
        },
        networkProfile: { podCidr: '10.244.0.0/14' },
        agentPoolProfiles: [
          {
            name: 'system',
            count: 10,
            maxPods: 110,
            vnetSubnetName: 'small',
            upgradeSettings: { maxSurge: 2 },
          },
          {
            name: 'user',
            count: 100,
            maxPods: 50,
            vnetSubnetName: 'big',
            upgradeSettings: { maxSurge: '10%' },
          },
        ],
      }),
    ).capacity;
    assert.equal(c.nodes, 110);
    assert.equal(c.surgeNodes, 12);
    assert.equal(c.nodesIncludingSurge, 122);
    assert.equal(c.maxClusterPods, 10 * 110 + 100 * 50);
    assert.deepEqual(c.maxPodsPerNode, { system: 110, user: 50 });
    assert.deepEqual(
      c.limits.map((l) => [l.limit, l.field, l.maxNodes, l.moreNodes]),
      [
        ['subnet', 'vnet.subnets[0].cidr', 27, 15],
        ['podCidr', 'networkProfile.podCidr', 1024, 902],
        ['clusterNodes', 'agentPoolProfiles', 5000, 4890],
        ['subnet', 'vnet.subnets[1].cidr', 65531, 65421],
      ],
    );
    assert.equal(c.bindingLimit?.field, 'vnet.subnets[0].cidr');
    assert.equal(c.vnetAddresses.overlay, 122);
    assert.equal(c.vnetAddresses.flat, 12 * 111 + 110 * 51);
  });

  it('counts the smaller family in dual-stack and the IPv4 service range', () => {
    const c = checkPlan(
      profileFromObject({
        networkProfile: { ipFamilies: 'ipv4,ipv6', podCidrs: ['10.244.0.0/20', 'fd12:3456:789a::/112'] },
        agentPoolProfiles: [{ name: 'system', count: 3 }],
      }),
    ).capacity;
    assert.equal(c.podCidrBlocks, 16);
    assert.equal(c.serviceAddresses, 65536);
    assert.equal(c.bindingLimit?.field, 'networkProfile.podCidrs[0]');
  });

  it('never reports negative growth room: 0 when a limit is already reached', () => {
    const r = checkPlan(
      profileFromObject({
        networkProfile: { podCidr: '10.244.0.0/23' },
        agentPoolProfiles: [{ name: 'system', count: 3 }],
      }),
    );
    assert.equal(r.valid, false);
    assert.equal(r.capacity.bindingLimit?.moreNodes, 0);
    assert.ok(r.capacity.limits.every((l) => l.moreNodes >= 0));
  });
});
