import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../errors/index.js';
import { profileFromObject } from '../profile/load.js';
import type { ClusterProfile } from '../profile/types.js';
import { type PlanReport, checkPlan } from './check.js';

/** A valid profile in the file format; each test changes one thing. */
function base() {
  return {
    name: 'demo',
    vnet: {
      name: 'vnet-demo',
      resourceGroup: 'rg-demo',
      addressSpaces: ['10.224.0.0/12'],
      subnets: [{ name: 'nodes', cidr: '10.224.0.0/16' }],
    },
    connectedNetworks: [] as { name: string; kind: string; cidrs: string[] }[],
    networkProfile: {
      podCidr: '10.244.0.0/16',
      serviceCidr: '10.0.0.0/16',
      dnsServiceIP: '10.0.0.10',
    } as Record<string, unknown>,
    agentPoolProfiles: [{ name: 'system', count: 3 }] as Record<string, unknown>[],
  };
}

type Data = ReturnType<typeof base>;

function plan(change: (d: Data) => void = () => {}, opts?: Parameters<typeof checkPlan>[1]): PlanReport {
  const d = base();
  change(d);
  return checkPlan(profileFromObject(d), opts);
}

function profile(change: (d: Data) => void = () => {}): ClusterProfile {
  const d = base();
  change(d);
  return profileFromObject(d);
}

const errorCodes = (r: PlanReport) => r.errors.map((f) => f.code);
const warningCodes = (r: PlanReport) => r.warnings.map((f) => f.code);

/** Asserts the plan has exactly this error (and says where), or none of that code. */
function hasError(r: PlanReport, code: ErrorCode, field?: string): void {
  const f = r.errors.find((x) => x.code === code);
  assert.ok(f, `expected error ${code}, got ${JSON.stringify(r.errors)}`);
  if (field) assert.equal(f.field, field);
  assert.ok(f.message.length > 20, 'the message explains the problem');
  assert.equal(r.valid, false);
}

function lacksError(r: PlanReport, code: ErrorCode): void {
  assert.ok(!errorCodes(r).includes(code), `did not expect ${code}: ${JSON.stringify(r.errors)}`);
}

function hasWarning(r: PlanReport, code: ErrorCode, field?: string): void {
  const f = r.warnings.find((x) => x.code === code);
  assert.ok(f, `expected warning ${code}, got ${JSON.stringify(r.warnings)}`);
  if (field) assert.equal(f.field, field);
}

function lacksWarning(r: PlanReport, code: ErrorCode): void {
  assert.ok(!warningCodes(r).includes(code), `did not expect warning ${code}: ${JSON.stringify(r.warnings)}`);
}

describe('checkPlan: the base profile', () => {
  it('is valid with no warnings', () => {
    const r = plan();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.valid, true);
  });

  it('AKS defaults alone make a valid plan', () => {
    const r = checkPlan(profileFromObject({ agentPoolProfiles: [{ name: 'nodepool1' }] }));
    assert.deepEqual(r.errors, []);
    assert.equal(r.valid, true);
  });
});

describe('pod CIDR rules', () => {
  const setPod = (cidr: string) => (d: Data) => {
    d.networkProfile.podCidr = cidr;
  };

  it('must not overlap the VNet address space (and an adjacent range is fine)', () => {
    hasError(plan(setPod('10.230.0.0/16')), 'PodCidrOverlapsVnet', 'networkProfile.podCidr');
    hasError(plan(setPod('10.0.0.0/8')), 'PodCidrOverlapsVnet');
    lacksError(plan(setPod('10.240.0.0/16')), 'PodCidrOverlapsVnet');
    lacksError(plan(setPod('10.208.0.0/12')), 'PodCidrOverlapsVnet');
  });

  it('reports a subnet overlap once, as the VNet overlap, when the subnet is inside the VNet', () => {
    const r = plan(setPod('10.224.0.0/16'));
    hasError(r, 'PodCidrOverlapsVnet');
    lacksError(r, 'PodCidrOverlapsSubnet');
  });

  it('must not overlap a node subnet that lies outside the listed address spaces', () => {
    const r = plan((d) => {
      d.vnet.subnets.push({ name: 'stray', cidr: '10.250.0.0/24' });
      d.agentPoolProfiles[0].vnetSubnetName = 'nodes';
      d.networkProfile.podCidr = '10.250.0.0/16';
    });
    hasError(r, 'PodCidrOverlapsSubnet');
    hasError(r, 'SubnetOutsideVnet', 'vnet.subnets[1].cidr');
  });

  it('must not overlap the service CIDR', () => {
    hasError(plan(setPod('10.0.0.0/15')), 'PodCidrOverlapsServiceCidr', 'networkProfile.podCidr');
    lacksError(plan(setPod('10.2.0.0/16')), 'PodCidrOverlapsServiceCidr');
  });

  it('must not overlap a connected network (peering, ExpressRoute, VPN)', () => {
    const withOnPrem = (pod: string) => (d: Data) => {
      d.connectedNetworks.push({ name: 'onprem', kind: 'expressRoute', cidrs: ['192.168.0.0/16'] });
      d.networkProfile.podCidr = pod;
    };
    hasError(
      plan(withOnPrem('192.168.128.0/17')),
      'PodCidrOverlapsConnectedNetwork',
      'networkProfile.podCidr',
    );
    lacksError(plan(withOnPrem('192.169.0.0/16')), 'PodCidrOverlapsConnectedNetwork');
  });

  it('must not overlap the ranges AKS reserves', () => {
    for (const cidr of [
      '169.254.0.0/16',
      '172.30.0.0/16',
      '172.31.0.0/20',
      '192.0.2.0/24',
      '172.16.0.0/12',
    ]) {
      hasError(plan(setPod(cidr)), 'PodCidrOverlapsReservedRange');
    }
    for (const cidr of ['172.29.0.0/16', '172.32.0.0/16', '192.0.3.0/24']) {
      lacksError(plan(setPod(cidr)), 'PodCidrOverlapsReservedRange');
    }
  });

  it('warns on public space, accepts RFC 1918 and RFC 6598, refuses loopback and multicast', () => {
    hasWarning(plan(setPod('20.0.0.0/16')), 'PodCidrPublic', 'networkProfile.podCidr');
    assert.equal(plan(setPod('20.0.0.0/16')).valid, true, 'public space is a warning, not an error');
    lacksWarning(plan(setPod('100.64.0.0/16')), 'PodCidrPublic');
    lacksWarning(plan(setPod('192.168.0.0/16')), 'PodCidrPublic');
    hasError(plan(setPod('127.0.0.0/16')), 'PodCidrSpecialRange');
    hasError(plan(setPod('224.0.0.0/16')), 'PodCidrSpecialRange');
  });

  it('needs one /24 per node: exactly enough passes, one short fails', () => {
    const nodes = (count: number, surge: number) => (d: Data) => {
      d.networkProfile.podCidr = '10.244.0.0/22';
      d.agentPoolProfiles[0] = { name: 'system', count, maxPods: 30, upgradeSettings: { maxSurge: surge } };
    };
    const exact = plan(nodes(4, 0));
    assert.deepEqual(exact.errors, []);
    assert.deepEqual(exact.warnings, []);
    hasError(plan(nodes(5, 0)), 'PodCidrTooSmall', 'networkProfile.podCidr');
    assert.match(plan(nodes(5, 0)).errors[0].message, /use a \/21 or larger/);
  });

  it('warns when the surge nodes of an upgrade would not get a block', () => {
    const nodes = (count: number) => (d: Data) => {
      d.networkProfile.podCidr = '10.244.0.0/22';
      d.agentPoolProfiles[0] = { name: 'system', count, maxPods: 30, upgradeSettings: { maxSurge: 1 } };
    };
    assert.deepEqual(plan(nodes(3)).warnings, []);
    const r = plan(nodes(4));
    hasWarning(r, 'PodCidrNoSurgeRoom', 'networkProfile.podCidr');
    assert.equal(r.valid, true);
  });

  it('refuses a pod CIDR smaller than one /24 block', () => {
    const one = (pod: string) => (d: Data) => {
      d.networkProfile.podCidr = pod;
      d.agentPoolProfiles[0] = { name: 'system', count: 1, maxPods: 30, upgradeSettings: { maxSurge: 0 } };
    };
    hasError(plan(one('10.244.0.0/25')), 'PodCidrTooSmall');
    assert.deepEqual(plan(one('10.244.0.0/24')).errors, []);
  });
});

describe('service CIDR rules', () => {
  const setSvc = (cidr: string, dns?: string) => (d: Data) => {
    d.networkProfile.serviceCidr = cidr;
    d.networkProfile.dnsServiceIP = dns ?? cidr.replace(/0\/\d+$/, '10');
  };

  it('must be smaller than /12: /11 and /12 refused, /13 accepted', () => {
    hasError(plan(setSvc('10.0.0.0/11')), 'ServiceCidrTooLarge', 'networkProfile.serviceCidr');
    hasError(plan(setSvc('10.0.0.0/12')), 'ServiceCidrTooLarge');
    lacksError(plan(setSvc('10.0.0.0/13')), 'ServiceCidrTooLarge');
    lacksError(plan(setSvc('10.0.0.0/24')), 'ServiceCidrTooLarge');
  });

  it('must not overlap a node subnet (error) and should not overlap the VNet (warning)', () => {
    hasError(plan(setSvc('10.224.0.0/20')), 'ServiceCidrOverlapsSubnet', 'networkProfile.serviceCidr');
    const inVnet = plan(setSvc('10.230.0.0/16'));
    lacksError(inVnet, 'ServiceCidrOverlapsSubnet');
    hasWarning(inVnet, 'ServiceCidrOverlapsVnet');
    assert.equal(inVnet.valid, true);
    lacksWarning(plan(setSvc('10.240.0.0/16')), 'ServiceCidrOverlapsVnet');
  });

  it('should not overlap a connected network (warning)', () => {
    const r = plan((d) => {
      d.connectedNetworks.push({ name: 'hub', kind: 'peering', cidrs: ['10.0.0.0/20'] });
    });
    hasWarning(r, 'ServiceCidrOverlapsConnectedNetwork', 'networkProfile.serviceCidr');
    assert.equal(r.valid, true);
  });

  it('must not overlap the reserved ranges nor loopback or multicast space', () => {
    hasError(plan(setSvc('127.0.0.0/16')), 'ServiceCidrSpecialRange', 'networkProfile.serviceCidr');
    lacksError(plan(setSvc('10.0.0.0/16')), 'ServiceCidrSpecialRange');
    hasError(plan(setSvc('172.31.0.0/16')), 'ServiceCidrOverlapsReservedRange');
    lacksError(plan(setSvc('172.29.0.0/16')), 'ServiceCidrOverlapsReservedRange');
  });
});

describe('DNS service IP rules', () => {
  const dns = (ip: string) =>
    plan((d) => {
      d.networkProfile.dnsServiceIP = ip;
    });

  it('refuses the network, first (kubernetes.default) and broadcast addresses', () => {
    for (const [ip, pattern] of [
      ['10.0.0.0', /network address/],
      ['10.0.0.1', /kubernetes\.default/],
      ['10.0.255.255', /broadcast/],
    ] as const) {
      const r = dns(ip);
      hasError(r, 'DnsServiceIpReserved', 'networkProfile.dnsServiceIP');
      assert.match(r.errors[0].message, pattern);
    }
  });

  it('accepts the second address and the last usable one', () => {
    assert.deepEqual(dns('10.0.0.2').errors, []);
    assert.deepEqual(dns('10.0.255.254').errors, []);
  });

  it('must lie inside the service CIDR', () => {
    hasError(dns('10.1.0.10'), 'DnsServiceIpOutsideServiceCidr', 'networkProfile.dnsServiceIP');
    assert.match(dns('10.1.0.10').errors[0].message, /e\.g\. 10\.0\.0\.10/);
  });
});

describe('max pods rules', () => {
  const pool = (maxPods: number, count: number, osType = 'Linux') =>
    plan((d) => {
      d.agentPoolProfiles[0] = { name: osType === 'Linux' ? 'system' : 'win', count, maxPods, osType };
      if (osType === 'Windows') d.agentPoolProfiles.push({ name: 'system', count: 1 });
    });

  it('allows 10..250 per node', () => {
    hasError(pool(9, 10), 'MaxPodsOutOfRange', 'agentPoolProfiles[0].maxPods');
    lacksError(pool(10, 10), 'MaxPodsOutOfRange');
    lacksError(pool(250, 10), 'MaxPodsOutOfRange');
    hasError(pool(251, 10), 'MaxPodsOutOfRange');
  });

  it('allows a low max pods only when the pool holds at least 30 pods', () => {
    assert.deepEqual(pool(10, 3).errors, []);
    hasError(pool(10, 2), 'MaxPodsPoolTooSmall', 'agentPoolProfiles[0].maxPods');
    assert.deepEqual(pool(15, 2).errors, []);
    hasError(pool(29, 1), 'MaxPodsPoolTooSmall');
    assert.deepEqual(pool(30, 1).errors, []);
  });

  it('warns when a Windows pool exceeds the recommended 110 pods per node', () => {
    lacksWarning(pool(110, 2, 'Windows'), 'WindowsMaxPodsAboveRecommended');
    hasWarning(pool(111, 2, 'Windows'), 'WindowsMaxPodsAboveRecommended', 'agentPoolProfiles[0].maxPods');
    lacksWarning(pool(250, 2), 'WindowsMaxPodsAboveRecommended');
  });
});

describe('node and subnet size rules', () => {
  const subnet = (cidr: string, count: number, surge: number) =>
    plan((d) => {
      d.vnet.subnets[0].cidr = cidr;
      d.agentPoolProfiles[0] = { name: 'system', count, maxPods: 30, upgradeSettings: { maxSurge: surge } };
    });

  it('fits nodes after Azure reserves 5 addresses: exactly enough passes, one short fails', () => {
    assert.deepEqual(subnet('10.224.0.0/29', 3, 0).errors, []);
    assert.deepEqual(subnet('10.224.0.0/29', 3, 0).warnings, []);
    hasError(subnet('10.224.0.0/29', 4, 0), 'SubnetTooSmall', 'vnet.subnets[0].cidr');
    assert.match(
      subnet('10.224.0.0/29', 4, 0).errors[0].message,
      /3 usable addresses .* need 4 node IPs; use a \/28/,
    );
    assert.deepEqual(subnet('10.224.0.0/24', 251, 0).errors, []);
    hasError(subnet('10.224.0.0/24', 252, 0), 'SubnetTooSmall');
  });

  it('warns when the subnet has no room for the surge nodes', () => {
    assert.deepEqual(subnet('10.224.0.0/29', 2, 1).warnings, []);
    const r = subnet('10.224.0.0/29', 3, 1);
    hasWarning(r, 'SubnetNoSurgeRoom', 'vnet.subnets[0].cidr');
    assert.equal(r.valid, true);
  });

  it('counts the nodes of every pool placed in the subnet', () => {
    const r = plan((d) => {
      d.vnet.subnets[0].cidr = '10.224.0.0/28';
      d.agentPoolProfiles = [
        { name: 'system', count: 6, upgradeSettings: { maxSurge: 0 } },
        { name: 'user', count: 5, upgradeSettings: { maxSurge: 0 } },
      ];
    });
    lacksError(r, 'SubnetTooSmall');
    const over = plan((d) => {
      d.vnet.subnets[0].cidr = '10.224.0.0/28';
      d.agentPoolProfiles = [
        { name: 'system', count: 6, upgradeSettings: { maxSurge: 0 } },
        { name: 'user', count: 6, upgradeSettings: { maxSurge: 0 } },
      ];
    });
    hasError(over, 'SubnetTooSmall');
  });

  it('allows at most 5,000 nodes', () => {
    const nodes = (count: number) =>
      plan((d) => {
        d.networkProfile.podCidr = '100.64.0.0/10';
        d.agentPoolProfiles[0] = { name: 'system', count, maxPods: 30 };
      });
    lacksError(nodes(5000), 'TooManyNodes');
    assert.deepEqual(nodes(5000).errors, []);
    hasError(nodes(5001), 'TooManyNodes', 'agentPoolProfiles');
  });
});

describe('name rules', () => {
  it('allows 63 characters and refuses 64 for VNet, subnet and resource group names', () => {
    const named = (n: string) =>
      plan((d) => {
        d.vnet.name = n;
        d.vnet.resourceGroup = n;
        d.vnet.subnets[0].name = n;
        d.agentPoolProfiles[0].vnetSubnetName = n;
      });
    assert.deepEqual(named('a'.repeat(63)).errors, []);
    const r = named('a'.repeat(64));
    assert.deepEqual(
      r.errors.map((f) => [f.code, f.field]),
      [
        ['NameTooLong', 'vnet.name'],
        ['NameTooLong', 'vnet.resourceGroup'],
        ['NameTooLong', 'vnet.subnets[0].name'],
      ],
    );
  });

  it('checks the cluster resource group when the VNet names none', () => {
    const r = plan((d) => {
      (d as Record<string, unknown>).resourceGroup = 'rg with spaces';
      d.vnet.resourceGroup = undefined as unknown as string;
    });
    hasError(r, 'NameNotLabelValue', 'resourceGroup');
  });

  it('needs valid Kubernetes label values', () => {
    const vnetName = (n: string) =>
      plan((d) => {
        d.vnet.name = n;
      });
    for (const ok of ['vnet', 'my-vnet_1.prod', 'A1', 'x']) assert.deepEqual(vnetName(ok).errors, [], ok);
    for (const bad of ['-vnet', 'vnet-', 'vnet_', '.vnet', 'my vnet', 'vnet/1', 'vnet:1']) {
      hasError(vnetName(bad), 'NameNotLabelValue', 'vnet.name');
    }
  });
});

describe('node pool rules', () => {
  it('refuses availability sets and DCsv2 sizes', () => {
    hasError(
      plan((d) => {
        d.agentPoolProfiles[0].type = 'AvailabilitySet';
      }),
      'AvailabilitySetNotSupported',
      'agentPoolProfiles[0].type',
    );
    for (const size of ['Standard_DC2s_v2', 'Standard_DC8_v2', 'standard_dc1s_v2']) {
      hasError(
        plan((d) => {
          d.agentPoolProfiles[0].vmSize = size;
        }),
        'VmSizeNotSupported',
        'agentPoolProfiles[0].vmSize',
      );
    }
    for (const size of ['Standard_DC2as_v5', 'Standard_DC2s_v3', 'Standard_D2s_v2']) {
      lacksError(
        plan((d) => {
          d.agentPoolProfiles[0].vmSize = size;
        }),
        'VmSizeNotSupported',
      );
    }
  });

  it('checks pool names: Linux 1-12, Windows 1-6 lower-case alphanumerics starting with a letter', () => {
    const named = (name: string, osType = 'Linux') =>
      plan((d) => {
        d.agentPoolProfiles = [{ name, osType, maxPods: 30 }, { name: 'system' }];
      });
    assert.deepEqual(named('abcdefghijkl').errors, []);
    hasError(named('abcdefghijklm'), 'NodePoolNameInvalid', 'agentPoolProfiles[0].name');
    hasError(named('Pool'), 'NodePoolNameInvalid');
    hasError(named('1pool'), 'NodePoolNameInvalid');
    assert.deepEqual(named('win123', 'Windows').errors, []);
    hasError(named('win1234', 'Windows'), 'NodePoolNameInvalid');
  });

  it('refuses duplicate pool names and unknown subnets, warns without a Linux pool', () => {
    hasError(
      plan((d) => {
        d.agentPoolProfiles.push({ name: 'system' });
      }),
      'DuplicateNodePoolName',
      'agentPoolProfiles[1].name',
    );
    hasError(
      plan((d) => {
        d.agentPoolProfiles[0].vnetSubnetName = 'nope';
      }),
      'UnknownSubnet',
      'agentPoolProfiles[0].vnetSubnetName',
    );
    const windowsOnly = plan((d) => {
      d.agentPoolProfiles[0] = { name: 'win', osType: 'Windows', maxPods: 30 };
    });
    hasWarning(windowsOnly, 'NoLinuxNodePool', 'agentPoolProfiles');
    assert.equal(windowsOnly.valid, true);
  });
});

describe('VNet rules', () => {
  it('refuses reserved address spaces, overlapping spaces, overlapping and stray subnets, duplicate names', () => {
    hasError(
      plan((d) => {
        d.vnet.addressSpaces.push('172.30.0.0/16');
      }),
      'VnetOverlapsReservedRange',
      'vnet.addressSpaces[1]',
    );
    hasError(
      plan((d) => {
        d.vnet.addressSpaces.push('10.224.0.0/16');
      }),
      'VnetAddressSpacesOverlap',
    );
    const two = (cidr: string, name = 'other') =>
      plan((d) => {
        d.vnet.subnets.push({ name, cidr });
        d.agentPoolProfiles[0].vnetSubnetName = 'nodes';
      });
    hasError(two('10.224.128.0/24'), 'SubnetsOverlap', 'vnet.subnets[1].cidr');
    assert.deepEqual(two('10.225.0.0/24').errors, []);
    hasError(two('10.225.0.0/24', 'nodes'), 'DuplicateSubnetName', 'vnet.subnets[1].name');
  });

  it('refuses connected networks overlapping the VNet', () => {
    hasError(
      plan((d) => {
        d.connectedNetworks.push({ name: 'hub', kind: 'peering', cidrs: ['10.224.0.0/24'] });
      }),
      'ConnectedNetworkOverlapsVnet',
      'connectedNetworks[0].cidrs[0]',
    );
  });

  it('allows 63 non-masquerade CIDRs besides the pod CIDR, not 64', () => {
    const masq = (n: number) =>
      plan((d) => {
        d.networkProfile.nonMasqueradeCidrs = Array.from({ length: n }, (_, i) => `192.168.${i}.0/24`);
      });
    lacksError(masq(63), 'TooManyNonMasqueradeCidrs');
    hasError(masq(64), 'TooManyNonMasqueradeCidrs');
  });
});

describe('dual-stack rules', () => {
  const dual = (change: (n: Record<string, unknown>) => void = () => {}) =>
    plan((d) => {
      d.networkProfile = { ipFamilies: ['ipv4', 'ipv6'] };
      change(d.networkProfile);
    });

  it('accepts ipv4,ipv6 with the AKS defaults', () => {
    const r = dual();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
  });

  it('refuses IPv6-only', () => {
    hasError(
      plan((d) => {
        d.networkProfile = {
          ipFamilies: ['ipv6'],
          podCidr: 'fd00::/64',
          serviceCidr: 'fd01::/108',
          dnsServiceIP: 'fd01::a',
        };
      }),
      'IpFamiliesUnsupported',
    );
  });

  it('allows an IPv6 service CIDR of /108 but not /107', () => {
    const svc6 = (cidr: string) =>
      dual((n) => {
        n.serviceCidrs = ['10.0.0.0/16', cidr];
      });
    assert.deepEqual(svc6('fd12:3456:789a:1::/108').errors, []);
    hasError(svc6('fd12:3456:789a:1::/107'), 'ServiceCidrTooLarge', 'networkProfile.serviceCidrs[1]');
  });

  it('needs one pod and service CIDR per family, in family order', () => {
    hasError(
      plan((d) => {
        d.networkProfile = { podCidrs: ['10.244.0.0/16', 'fd00::/64'] };
      }),
      'CidrFamilyMismatch',
      'networkProfile.podCidrs',
    );
    hasError(
      dual((n) => {
        n.podCidrs = ['fd00::/64', '10.244.0.0/16'];
      }),
      'CidrFamilyMismatch',
    );
    hasError(
      dual((n) => {
        n.serviceCidrs = ['10.0.0.0/16'];
      }),
      'CidrFamilyMismatch',
      'networkProfile.serviceCidrs',
    );
  });

  it('refuses an IPv6 pod CIDR with fewer /120 blocks than nodes, naming the size that fits', () => {
    // Each node leases one /120 of the IPv6 pod CIDR (AKS#5120); a /119 holds two.
    const r = plan((d) => {
      d.networkProfile = {
        ipFamilies: ['ipv4', 'ipv6'],
        podCidrs: ['10.244.0.0/16', 'fd12:3456:789a::/119'],
      };
      (d.agentPoolProfiles as Record<string, unknown>[])[0].count = 3;
    });
    hasError(r, 'PodCidrTooSmall', 'networkProfile.podCidrs[1]');
    assert.match(
      r.errors.find((e) => e.code === 'PodCidrTooSmall')?.message ?? '',
      /2 \/120 blocks.*3 nodes.*\/118/,
    );
  });

  it('warns on a non-ULA IPv6 pod CIDR and refuses a managed NAT gateway', () => {
    hasWarning(
      dual((n) => {
        n.podCidrs = ['10.244.0.0/16', '2001:4860::/64'];
      }),
      'PodCidrPublic',
      'networkProfile.podCidrs[1]',
    );
    hasError(
      dual((n) => {
        n.outboundType = 'managedNATGateway';
      }),
      'OutboundTypeUnsupportedForDualStack',
    );
    lacksError(
      plan((d) => {
        d.networkProfile.outboundType = 'managedNATGateway';
      }),
      'OutboundTypeUnsupportedForDualStack',
    );
  });
});

describe('update rules', () => {
  const current = profile();
  const next = (change: (d: Data) => void) => plan(change, { previous: current });

  it('accepts an unchanged profile and a contiguous superset of the pod CIDR', () => {
    assert.deepEqual(next(() => {}).errors, []);
    assert.deepEqual(
      next((d) => {
        d.networkProfile.podCidr = '10.244.0.0/15';
      }).errors,
      [],
    );
    assert.deepEqual(
      next((d) => {
        d.networkProfile.podCidr = '10.240.0.0/13';
      }).errors,
      [],
    );
  });

  it('refuses shrinking, moving and disjoint pod CIDRs', () => {
    hasError(
      next((d) => {
        d.networkProfile.podCidr = '10.244.0.0/17';
      }),
      'PodCidrShrunk',
      'networkProfile.podCidr',
    );
    hasError(
      next((d) => {
        d.networkProfile.podCidr = '10.245.0.0/16';
      }),
      'PodCidrReplaced',
    );
    const moved = next((d) => {
      d.networkProfile.podCidr = '10.246.0.0/15';
    });
    hasError(moved, 'PodCidrReplaced');
    assert.match(moved.errors[0].message, /e\.g\. 10\.244\.0\.0\/15/);
  });

  it('refuses growth in clusters with Windows pools, before or after the change', () => {
    const grow = (d: Data) => {
      d.networkProfile.podCidr = '10.244.0.0/15';
      d.agentPoolProfiles.push({ name: 'win', osType: 'Windows', maxPods: 30 });
    };
    hasError(next(grow), 'PodCidrGrowthWindows');
    const withWindows = profile((d) => {
      d.agentPoolProfiles.push({ name: 'win', osType: 'Windows', maxPods: 30 });
    });
    hasError(
      plan(
        (d) => {
          d.networkProfile.podCidr = '10.244.0.0/15';
        },
        { previous: withWindows },
      ),
      'PodCidrGrowthWindows',
    );
    lacksError(
      plan(
        (d) => {
          d.agentPoolProfiles.push({ name: 'win', osType: 'Windows', maxPods: 30 });
        },
        { previous: withWindows },
      ),
      'PodCidrGrowthWindows',
    );
  });

  it('refuses growing an IPv6 pod CIDR and any pod CIDR of a dual-stack cluster', () => {
    const dualNow = profile((d) => {
      d.networkProfile = { ipFamilies: ['ipv4', 'ipv6'] };
    });
    const r6 = plan(
      (d) => {
        d.networkProfile = {
          ipFamilies: ['ipv4', 'ipv6'],
          podCidrs: ['10.244.0.0/16', 'fd12:3456:789a::/63'],
        };
      },
      { previous: dualNow },
    );
    hasError(r6, 'PodCidrGrowthIpv6', 'networkProfile.podCidrs[1]');
    const r4 = plan(
      (d) => {
        d.networkProfile = {
          ipFamilies: ['ipv4', 'ipv6'],
          podCidrs: ['10.244.0.0/15', 'fd12:3456:789a::/64'],
        };
      },
      { previous: dualNow },
    );
    hasError(r4, 'PodCidrGrowthDualStack', 'networkProfile.podCidrs[0]');
  });

  it('keeps the service CIDR, DNS service IP and IP families fixed', () => {
    hasError(
      next((d) => {
        d.networkProfile.serviceCidr = '10.1.0.0/16';
        d.networkProfile.dnsServiceIP = '10.1.0.10';
      }),
      'ServiceCidrImmutable',
      'networkProfile.serviceCidr',
    );
    hasError(
      next((d) => {
        d.networkProfile.dnsServiceIP = '10.0.0.11';
      }),
      'DnsServiceIpImmutable',
      'networkProfile.dnsServiceIP',
    );
    hasError(
      next((d) => {
        d.networkProfile = { ipFamilies: ['ipv4', 'ipv6'] };
      }),
      'IpFamiliesImmutable',
    );
  });

  it('checks growth against a previous pod CIDR alone', () => {
    const grow = (prev: string) =>
      plan(
        (d) => {
          d.networkProfile.podCidr = '10.244.0.0/15';
        },
        { previousPodCidr: prev },
      );
    assert.deepEqual(grow('10.244.0.0/16').errors, []);
    hasError(grow('10.244.0.0/14'), 'PodCidrShrunk');
    hasError(grow('10.250.0.0/16'), 'PodCidrReplaced');
    hasError(grow('not-a-cidr'), 'InvalidCidr', '--previous-pod-cidr');
  });
});

describe('checkPlan on hand-built profiles', () => {
  it('reports unparseable addresses as findings instead of throwing', () => {
    const p = profile();
    const broken: ClusterProfile = {
      ...p,
      network: { ...p.network, podCidrs: ['10.244.0.0/33'], dnsServiceIp: 'ten' },
    };
    const r = checkPlan(broken);
    hasError(r, 'InvalidCidr', 'networkProfile.podCidr');
    hasError(r, 'InvalidIpAddress', 'networkProfile.dnsServiceIP');
    assert.equal(r.capacity.podCidrBlocks, 0);
  });
});
