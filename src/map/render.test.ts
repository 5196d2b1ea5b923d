/**
 * The map renderer, pure: what a person looking at the map relies on. One cell per block, coloured by its
 * node's use; quarantined and free blocks told apart; aggregation past 4,096 blocks so 5,000 nodes stay
 * readable; NSG boundaries; the service CIDR and DNS IP; no markup injection from names.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { numberToIpv4 } from '../addr/index.js';
import { type IpamInput, ipamView } from '../ipam/show.js';
import { profileFromObject } from '../profile/load.js';
import type { BlockLease } from '../store/types.js';
import { MAX_CELLS, MAX_NODES_SHOWN, renderMapHtml, renderMapSvg, useColour } from './render.js';

function cluster(podCidr: string, nodes: number, name = 'demo'): IpamInput {
  const profile = profileFromObject({
    name,
    vnet: {
      name: 'v',
      addressSpaces: ['10.224.0.0/12'],
      subnets: [{ name: 'nodes', cidr: '10.224.0.0/16' }],
    },
    networkProfile: { podCidr },
    agentPoolProfiles: [{ name: 'p', count: nodes, maxPods: 100 }],
  });
  const base = (10 << 24) + (128 << 16);
  const leases: BlockLease[] = Array.from({ length: nodes }, (_, i) => ({
    block: `${numberToIpv4(base + i * 256)}/24`,
    family: 4,
    nodeName: `n${i}`,
    nodeIp: numberToIpv4((10 << 24) + (224 << 16) + 4 + i),
    pool: 'p',
    maxPods: 100,
    claimedAt: '',
    renewedAt: '',
    expiresAt: null,
  }));
  const endpoints = leases.slice(0, 2).flatMap((l, k) =>
    Array.from({ length: (k + 1) * 50 }, (_, j) => ({
      node: l.nodeName,
      nodeIp: l.nodeIp,
      containerId: `c${k}-${j}`,
      ifname: 'eth0',
      ips: [l.block.replace(/0\/24$/, String(j + 1))],
      namespace: 'default',
      name: `p${j}`,
      labels: {},
    })),
  );
  return {
    profile,
    podCidrHistory: [],
    leases,
    quarantined: [
      { block: `${numberToIpv4(base + nodes * 256)}/24`, nodeName: 'gone', until: '2026-12-01T12:00:00Z' },
    ],
    endpoints,
  };
}

const count = (svg: string, cls: string) => (svg.match(new RegExp(`class="block ${cls}"`, 'g')) ?? []).length;
const map = (input: IpamInput, nsgBySubnet: Record<string, string> = {}) => ({
  view: ipamView(input),
  vnet: { name: input.profile.vnet.name, addressSpaces: input.profile.vnet.addressSpaces },
  nsgBySubnet,
});

describe('podnet map renderer', () => {
  it('draws one cell per block: leased coloured by use, the quarantined hatched, the rest free', () => {
    const svg = renderMapSvg(map(cluster('10.128.0.0/16', 3)));
    assert.equal(count(svg, 'leased'), 3);
    assert.equal(count(svg, 'quarantined'), 1);
    assert.equal(count(svg, 'free'), 256 - 4);
    // n1 holds 100 pods of 100: full; n0 50 of 100: half; n2 none.
    assert.match(
      svg,
      new RegExp(`fill="${useColour(1).replace(/[()]/g, '\\$&')}"><title>10\\.128\\.1\\.0/24: node n1`),
    );
    assert.match(
      svg,
      new RegExp(`fill="${useColour(0.5).replace(/[()]/g, '\\$&')}"><title>10\\.128\\.0\\.0/24: node n0`),
    );
    assert.match(svg, /id="dns-ip">DNS service IP 10\.0\.0\.10/);
    assert.match(svg, /service CIDR 10\.0\.0\.0\/16/);
  });

  it('stays readable at 5,000 nodes: cells aggregate blocks, subnets name the busiest nodes only', () => {
    const input = cluster('10.128.0.0/10', 5000);
    const svg = renderMapSvg(map(input));
    const cells = count(svg, 'leased') + count(svg, 'free') + count(svg, 'quarantined') + count(svg, 'mixed');
    assert.ok(cells <= MAX_CELLS, `${cells} cells`);
    assert.match(svg, /one cell = 4 blocks/);
    assert.equal((svg.match(/class="node"/g) ?? []).length, MAX_NODES_SHOWN);
    assert.match(svg, /\+ 4,976 more nodes/);
    assert.ok(Buffer.byteLength(svg) < 2_000_000, `${Buffer.byteLength(svg)} bytes`);
  });

  it('frames a subnet with an NSG as an NSG boundary', () => {
    const svg = renderMapSvg(map(cluster('10.128.0.0/16', 1), { nodes: 'nsg-nodes' }));
    assert.match(svg, /class="nsg"><title>NSG nsg-nodes<\/title>/);
    assert.doesNotMatch(renderMapSvg(map(cluster('10.128.0.0/16', 1))), /class="nsg"/);
  });

  it('escapes names, and the HTML page is self-contained', () => {
    const html = renderMapHtml(map(cluster('10.128.0.0/16', 1, 'a<b>&"c')));
    assert.match(html, /cluster a&lt;b&gt;&amp;&quot;c/);
    assert.doesNotMatch(html, /<script|src=|href=|url\((?!#hatch)/);
  });
});
