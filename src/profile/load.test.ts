import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { PROFILE_MAX_BYTES, loadProfileFile, parseProfileText, profileFromFlags } from './load.js';

function fails(fn: () => unknown, code: string, field?: string, pattern?: RegExp): PodnetError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PodnetError, `expected PodnetError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.field, field);
  if (pattern) assert.match(caught.message, pattern);
  assert.ok(caught.hint, 'every error carries a hint');
  return caught;
}

const parse = (text: string) => parseProfileText(text, 'test.yaml');

const MINIMAL = 'agentPoolProfiles:\n  - name: system\n';

describe('parseProfileText: format and defaults', () => {
  it('fills the AKS defaults', () => {
    const p = parse(MINIMAL);
    assert.deepEqual(p.network, {
      podCidrs: ['10.244.0.0/16'],
      serviceCidrs: ['10.0.0.0/16'],
      dnsServiceIp: '10.0.0.10',
      ipFamilies: ['ipv4'],
      outboundType: 'loadBalancer',
      nonMasqueradeCidrs: [],
    });
    assert.deepEqual(p.vnet, {
      name: 'aks-vnet',
      addressSpaces: ['10.224.0.0/12'],
      subnets: [{ name: 'aks-subnet', cidr: '10.224.0.0/16' }],
    });
    assert.deepEqual(p.nodePools, [
      {
        name: 'system',
        subnet: 'aks-subnet',
        osType: 'Linux',
        osSku: 'Ubuntu',
        vmSize: 'Standard_DS2_v2',
        count: 3,
        maxPods: 250,
        maxSurge: 1,
        type: 'VirtualMachineScaleSets',
      },
    ]);
    assert.deepEqual(p.connectedNetworks, []);
    assert.equal(p.name, 'podnet');
  });

  it('fills dual-stack defaults for both families', () => {
    const p = parse(`networkProfile:\n  ipFamilies: [IPv4, IPv6]\n${MINIMAL}`);
    assert.deepEqual(p.network.ipFamilies, ['ipv4', 'ipv6']);
    assert.deepEqual(p.network.podCidrs, ['10.244.0.0/16', 'fd12:3456:789a::/64']);
    assert.deepEqual(p.network.serviceCidrs, ['10.0.0.0/16', 'fd12:3456:789a:1::/108']);
  });

  it('reads a full profile, canonicalizing addresses and enum spellings', () => {
    const p = parse(`
apiVersion: podnet.io/v1alpha1
kind: ClusterProfile
name: prod
resourceGroup: rg-prod
vnet:
  name: vnet-prod
  resourceGroup: rg-net
  addressSpaces: [10.224.0.0/12, "FD00:0::/48"]
  subnets:
    - {name: system, cidr: 10.224.0.0/24}
    - {name: user, cidr: 10.225.0.0/16}
connectedNetworks:
  - {name: onprem, kind: expressRoute, cidrs: "192.168.0.0/16, 172.20.0.0/16"}
networkProfile:
  networkPlugin: azure
  networkPluginMode: overlay
  podCidr: 10.244.0.0/14
  serviceCidr: 10.0.0.0/16
  dnsServiceIP: 10.0.0.10
  outboundType: userdefinedrouting
  nonMasqueradeCidrs: [10.50.0.0/16]
agentPoolProfiles:
  - name: system
    vnetSubnetName: system
    count: 3
    vmSize: Standard_D4s_v5
    osType: linux
    osSKU: AzureLinux
    maxPods: 110
    upgradeSettings: {maxSurge: "33%"}
  - name: win
    vnetSubnetName: user
    count: 10
    osType: Windows
    maxPods: 30
    upgradeSettings: {maxSurge: 2}
`);
    assert.equal(p.name, 'prod');
    assert.equal(p.resourceGroup, 'rg-prod');
    assert.deepEqual(p.vnet.addressSpaces, ['10.224.0.0/12', 'fd00::/48']);
    assert.equal(p.vnet.resourceGroup, 'rg-net');
    assert.deepEqual(p.connectedNetworks, [
      { name: 'onprem', kind: 'expressRoute', cidrs: ['192.168.0.0/16', '172.20.0.0/16'] },
    ]);
    assert.equal(p.network.outboundType, 'userDefinedRouting');
    assert.deepEqual(p.network.nonMasqueradeCidrs, ['10.50.0.0/16']);
    assert.equal(p.nodePools[0].osType, 'Linux');
    assert.equal(p.nodePools[0].osSku, 'AzureLinux');
    assert.equal(p.nodePools[0].maxSurge, 1, '33% of 3 nodes rounds up to 1');
    assert.equal(p.nodePools[1].osSku, 'Windows2022');
    assert.equal(p.nodePools[1].maxSurge, 2);
    assert.equal(p.nodePools[1].subnet, 'user');
  });

  it('reads JSON', () => {
    const p = parse(
      JSON.stringify({ networkProfile: { podCidr: '10.250.0.0/16' }, agentPoolProfiles: [{ name: 'a' }] }),
    );
    assert.deepEqual(p.network.podCidrs, ['10.250.0.0/16']);
  });

  it('turns surge percentages into nodes, rounding up', () => {
    const surge = (count: number, s: unknown) =>
      parse(JSON.stringify({ agentPoolProfiles: [{ name: 'a', count, upgradeSettings: { maxSurge: s } }] }))
        .nodePools[0].maxSurge;
    assert.equal(surge(10, '10%'), 1);
    assert.equal(surge(11, '10%'), 2);
    assert.equal(surge(10, '100%'), 10);
    assert.equal(surge(10, '3'), 3);
    assert.equal(surge(10, 0), 0);
    fails(() => surge(10, '0%'), 'InvalidProfile', 'agentPoolProfiles[0].upgradeSettings.maxSurge');
    fails(() => surge(10, '101%'), 'InvalidProfile');
    fails(() => surge(10, -1), 'InvalidProfile');
    fails(() => surge(10, 'lots'), 'InvalidProfile');
  });
});

describe('parseProfileText: unusable input', () => {
  it('refuses empty and comment-only profiles', () => {
    fails(() => parse(''), 'ProfileEmpty');
    fails(() => parse('  \n\t\n'), 'ProfileEmpty');
    fails(() => parse('# just a comment\n# another\n'), 'ProfileEmpty');
    fails(() => parse('---\n'), 'ProfileEmpty');
  });

  it('refuses profiles over the size cap', () => {
    fails(() => parse(`# ${'x'.repeat(PROFILE_MAX_BYTES)}\n${MINIMAL}`), 'ProfileTooLarge');
  });

  it('refuses malformed YAML with the line', () => {
    fails(() => parse('agentPoolProfiles: [\n  - name: a\n'), 'MalformedProfile', '--file', /line \d+/);
    fails(() => parse('name: a\nname: b\n'), 'MalformedProfile', '--file');
    fails(() => parse('{"name": "a",'), 'MalformedProfile');
    fails(() => parse('a: b\n---\nc: d\n'), 'MalformedProfile');
  });

  it('refuses YAML alias bombs', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n');
    fails(() => parse(bomb), 'MalformedProfile', '--file');
  });

  it('refuses a top level that is not a mapping', () => {
    fails(() => parse('- a\n- b\n'), 'InvalidProfile', '(top level)');
    fails(() => parse('just text'), 'InvalidProfile', '(top level)');
  });

  it('names unknown fields with their path and the likely intended one', () => {
    fails(
      () => parse(`networkProfile:\n  podCIDR: 10.244.0.0/16\n${MINIMAL}`),
      'InvalidProfile',
      'networkProfile.podCIDR',
      /did you mean "podCidr"/,
    );
    fails(
      () => parse(`networkProfile:\n  dnsServiceIp: 10.0.0.10\n${MINIMAL}`),
      'InvalidProfile',
      'networkProfile.dnsServiceIp',
      /did you mean "dnsServiceIP"/,
    );
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    maxpod: 3\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].maxpod',
      /did you mean "maxPods"/,
    );
    fails(() => parse(`colour: blue\n${MINIMAL}`), 'InvalidProfile', 'colour');
  });

  it('names fields with wrong types', () => {
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    maxPods: "30"\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].maxPods',
      /whole number/,
    );
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    count: 2.5\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].count',
    );
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    count: -1\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].count',
    );
    fails(() => parse('agentPoolProfiles:\n  - name: 5\n'), 'InvalidProfile', 'agentPoolProfiles[0].name');
    fails(
      () => parse('agentPoolProfiles: {name: a}\n'),
      'InvalidProfile',
      'agentPoolProfiles',
      /expected a list/,
    );
    fails(() => parse(`vnet: [a]\n${MINIMAL}`), 'InvalidProfile', 'vnet', /expected a mapping/);
    fails(
      () => parse(`networkProfile:\n  outboundType: natGateway\n${MINIMAL}`),
      'InvalidProfile',
      'networkProfile.outboundType',
    );
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    osType: Mac\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].osType',
    );
    fails(
      () => parse('agentPoolProfiles:\n  - name: a\n    vmSize: "Standard D4"\n'),
      'InvalidProfile',
      'agentPoolProfiles[0].vmSize',
    );
    fails(
      () => parse(`networkProfile:\n  networkPlugin: kubenet\n${MINIMAL}`),
      'InvalidProfile',
      'networkProfile.networkPlugin',
    );
    fails(() => parse(`apiVersion: v2\n${MINIMAL}`), 'InvalidProfile', 'apiVersion');
  });

  it('names malformed CIDRs and IPs, with the aligned form for host bits', () => {
    fails(
      () => parse(`networkProfile:\n  podCidr: 10.244.1.0/16\n${MINIMAL}`),
      'CidrHostBitsSet',
      'networkProfile.podCidr',
      /10\.244\.0\.0\/16/,
    );
    fails(
      () => parse(`networkProfile:\n  serviceCidr: 10.0.0.0/33\n${MINIMAL}`),
      'InvalidCidr',
      'networkProfile.serviceCidr',
    );
    fails(
      () => parse(`networkProfile:\n  dnsServiceIP: 10.0.0.300\n${MINIMAL}`),
      'InvalidIpAddress',
      'networkProfile.dnsServiceIP',
    );
    fails(
      () =>
        parse(
          `vnet:\n  addressSpaces: [10.224.0.0/12]\n  subnets: [{name: a, cidr: 10.224.0.0}]\n${MINIMAL}`,
        ),
      'InvalidCidr',
      'vnet.subnets[0].cidr',
    );
    fails(
      () => parse(`connectedNetworks:\n  - {name: x, cidrs: [10.0.0.0/8, bad]}\n${MINIMAL}`),
      'InvalidCidr',
      'connectedNetworks[0].cidrs[1]',
    );
  });

  it('requires what has no default', () => {
    fails(() => parse('name: x\n'), 'InvalidProfile', 'agentPoolProfiles', /at least one node pool/);
    fails(() => parse('agentPoolProfiles:\n  - count: 3\n'), 'InvalidProfile', 'agentPoolProfiles[0].name');
    fails(
      () =>
        parse(
          `vnet:\n  addressSpaces: [10.224.0.0/12]\n  subnets: [{name: a, cidr: 10.224.0.0/16}, {name: b, cidr: 10.225.0.0/16}]\n${MINIMAL}`,
        ),
      'InvalidProfile',
      'agentPoolProfiles[0].vnetSubnetName',
    );
    fails(
      () => parse(`vnet:\n  subnets: [{name: a, cidr: 10.224.0.0/16}]\n${MINIMAL}`),
      'InvalidProfile',
      'vnet.addressSpaces',
    );
    fails(
      () => parse(`networkProfile:\n  podCidr: 10.244.0.0/16\n  podCidrs: [10.244.0.0/16]\n${MINIMAL}`),
      'InvalidProfile',
      'networkProfile.podCidrs',
    );
  });
});

describe('loadProfileFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-profile-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file and refuses missing files, directories and huge files before reading them', () => {
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, MINIMAL);
    assert.equal(loadProfileFile(ok).nodePools[0].name, 'system');
    fails(() => loadProfileFile(join(dir, 'missing.yaml')), 'ProfileUnreadable', '--file', /no such file/);
    fails(() => loadProfileFile(dir), 'ProfileUnreadable', '--file', /not a regular file/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, Buffer.alloc(PROFILE_MAX_BYTES + 1, 0x20));
    fails(() => loadProfileFile(big), 'ProfileTooLarge', '--file');
  });
});

describe('profileFromFlags', () => {
  it('builds a one-pool profile with AKS defaults', () => {
    const p = profileFromFlags({});
    assert.deepEqual(p.vnet.addressSpaces, ['10.224.0.0/12']);
    assert.equal(p.nodePools.length, 1);
    assert.equal(p.nodePools[0].count, 3);
  });

  it('maps every flag onto the profile', () => {
    const p = profileFromFlags({
      podCidr: '10.244.0.0/16,fd00:1::/64',
      serviceCidr: '10.0.0.0/16,fd00:2::/108',
      dnsServiceIp: '10.0.0.20',
      ipFamilies: 'ipv4,ipv6',
      vnetCidr: ['10.224.0.0/16', '10.225.0.0/16'],
      nodeSubnet: 'nodes=10.224.0.0/20',
      connectedCidr: ['192.168.0.0/16'],
      nodeCount: '7',
      maxPods: '110',
      maxSurge: '50%',
      osType: 'Windows',
      vmSize: 'Standard_D8s_v5',
    });
    assert.deepEqual(p.network.podCidrs, ['10.244.0.0/16', 'fd00:1::/64']);
    assert.deepEqual(p.network.serviceCidrs, ['10.0.0.0/16', 'fd00:2::/108']);
    assert.equal(p.network.dnsServiceIp, '10.0.0.20');
    assert.deepEqual(p.vnet.addressSpaces, ['10.224.0.0/16', '10.225.0.0/16']);
    assert.deepEqual(p.vnet.subnets, [{ name: 'nodes', cidr: '10.224.0.0/20' }]);
    assert.deepEqual(p.connectedNetworks[0].cidrs, ['192.168.0.0/16']);
    assert.deepEqual(
      [p.nodePools[0].count, p.nodePools[0].maxPods, p.nodePools[0].maxSurge, p.nodePools[0].osType],
      [7, 110, 4, 'Windows'],
    );
    assert.equal(p.nodePools[0].vmSize, 'Standard_D8s_v5');
  });

  it('uses the node subnet as the VNet when no VNet CIDR is given, and the VNet as subnet the other way round', () => {
    assert.deepEqual(profileFromFlags({ nodeSubnet: '10.1.0.0/24' }).vnet.addressSpaces, ['10.1.0.0/24']);
    assert.deepEqual(profileFromFlags({ vnetCidr: ['10.2.0.0/16'] }).vnet.subnets, [
      { name: 'aks-subnet', cidr: '10.2.0.0/16' },
    ]);
  });

  // az aks create --vnet-subnet-id: a subnet resource id, which names the subnet and its VNet but not its prefix.
  it('--vnet-subnet-id names the node subnet and VNet as az aks create takes it; the prefix comes from --node-subnet', () => {
    const id =
      '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub-vnet/subnets/nodes';
    const p = profileFromFlags({ vnetSubnetId: id, nodeSubnet: '10.224.0.0/20' });
    assert.equal(p.vnet.name, 'hub-vnet');
    assert.deepEqual(p.vnet.subnets, [{ name: 'nodes', cidr: '10.224.0.0/20' }]);
    assert.equal(p.nodePools[0].subnet, 'nodes');
    assert.deepEqual(profileFromFlags({ vnetSubnetId: id, nodeSubnet: 'nodes=10.224.0.0/20' }).vnet.subnets, [
      { name: 'nodes', cidr: '10.224.0.0/20' },
    ]);
    fails(() => profileFromFlags({ vnetSubnetId: id }), 'AksVnetMissing', '--node-subnet');
    fails(
      () => profileFromFlags({ vnetSubnetId: id, nodeSubnet: 'other=10.224.0.0/20' }),
      'InvalidFlag',
      '--node-subnet',
    );
    fails(
      () => profileFromFlags({ vnetSubnetId: 'nodes', nodeSubnet: '10.224.0.0/20' }),
      'InvalidFlag',
      '--vnet-subnet-id',
    );
  });

  it('names the flag in errors', () => {
    fails(() => profileFromFlags({ podCidr: '10.244.1.0/16' }), 'CidrHostBitsSet', '--pod-cidr');
    fails(() => profileFromFlags({ nodeCount: 'three' }), 'InvalidFlag', '--node-count');
    fails(() => profileFromFlags({ maxPods: '-5' }), 'InvalidFlag', '--max-pods');
    fails(() => profileFromFlags({ osType: 'Plan9' }), 'InvalidFlag', '--os-type');
    fails(() => profileFromFlags({ dnsServiceIp: 'x' }), 'InvalidIpAddress', '--dns-service-ip');
    fails(() => profileFromFlags({ nodeSubnet: '=10.0.0.0/24' }), 'InvalidFlag', '--node-subnet');
    // Issue 14, fault 8: without --vnet-cidr the subnet is also the address space, and the error named --vnet-cidr.
    fails(() => profileFromFlags({ nodeSubnet: 'x' }), 'InvalidCidr', '--node-subnet');
    fails(() => profileFromFlags({ nodeSubnet: 'nodes=10.0.0/24' }), 'InvalidCidr', '--node-subnet');
    fails(() => profileFromFlags({ connectedCidr: ['nope'] }), 'InvalidCidr', '--connected-cidr');
    fails(() => profileFromFlags({ maxSurge: '200%' }), 'InvalidFlag', '--max-surge');
  });
});
