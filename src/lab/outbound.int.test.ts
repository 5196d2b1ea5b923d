/**
 * The three outbound types seen from outside (learn.microsoft.com/azure/aks/egress-outboundtype): one VNet,
 * one small cluster of each type on its own subnets. Each pod's connection to the internet host must arrive
 * from its cluster's public address (the load balancer's outbound frontend, the NAT gateway's public IP, the
 * firewall's public IP: "Azure Firewall ... SNATs to its public IP for internet destinations",
 * learn.microsoft.com/azure/firewall/snat-private-range), never from the node; the on-premises network keeps
 * seeing the node IP; the UDR firewall logs each flow; and `lab down` leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
import { listNetns } from '../kernel/netns.js';
import { nftListTable } from '../kernel/nft.js';
import { outboundFrontend } from '../loadbalancer/frontends.js';
import { outboundOf } from '../outbound/plan.js';
import { lbOutboundTable } from '../outbound/render.js';
import type { OutboundType } from '../profile/types.js';
import type { Vnet } from '../vnet/model.js';
import { ensureOutbound, readFirewallLog } from '../vnet/outbound.js';
import { defaultLabProfile, withNodeCount } from './default-profile.js';
import { labCheck, labDown, labUp } from './lab.js';
import { readVnet, requireLab } from './state.js';

const tag = randomBytes(2).toString('hex');
const vnetName = `egv${tag}`;
const clusters: [string, OutboundType][] = [
  [`egl${tag}`, 'loadBalancer'],
  [`egn${tag}`, 'managedNATGateway'],
  [`egu${tag}`, 'userDefinedRouting'],
];
const made: string[] = [];

after(async () => {
  for (const name of made) await labDown(name).catch(() => {});
});

describe('outbound types seen from outside the lab', { concurrency: false }, () => {
  let vnet: Vnet;

  before(async () => {
    for (const [i, [name, type]] of clusters.entries()) {
      made.push(name);
      const base = withNodeCount(defaultLabProfile(name, i), 1);
      await labUp({
        name,
        vnet: vnetName,
        profile: { ...base, network: { ...base.network, outboundType: type } },
        podsPerNode: 1,
      });
    }
    vnet = readVnet(vnetName) as Vnet;
  });

  for (const [i, [name, type]] of clusters.entries()) {
    it(`${type}: the internet sees the cluster's public address, the connected network the node's`, async () => {
      const plan = outboundOf(vnet, name);
      const block = vnet.clusters.find((c) => c.name === name)?.frontendCidr as string;
      assert.ok(containsIp(parseCidr(block), parseIp(plan.publicIp)), plan.publicIp);
      assert.equal(
        plan.publicIp,
        outboundFrontend(block),
        "the cluster's outbound frontend, whatever the type",
      );
      const r = await labCheck(name, { test: '^pod-external:' });
      const node = requireLab(name).nodes[0];
      assert.deepEqual(r.outbound.seen, [plan.publicIp], 'the internet host saw the public address');
      assert.notEqual(plan.publicIp, node.ip);
      assert.equal(r.outbound.ok, true);
      const onprem = r.probes.find((p) => p.to === 'external/onprem');
      assert.equal(onprem?.sourceSeen, node.ip, 'a VPN-connected network sees the node IP');
      assert.ok(
        r.probes.every((p) => p.ok),
        JSON.stringify(r.probes.filter((p) => !p.ok)),
      );
      // Every cluster has its own address, so the internet tells them apart.
      const others = clusters.filter((_, j) => j !== i).map(([n]) => outboundOf(vnet, n).publicIp);
      assert.ok(!others.includes(plan.publicIp));
    });
  }

  it('userDefinedRouting: the firewall logged the flow from the node to the internet host', async () => {
    const [name] = clusters[2];
    const plan = outboundOf(vnet, name);
    const node = requireLab(name).nodes[0];
    const r = await labCheck(name, { test: '^pod-external:.*->external/internet$' });
    const log = await readFirewallLog(plan);
    const internet = vnet.externalHosts.find((h) => h.kind === 'internet')?.ip;
    assert.ok(
      log.some((f) => f.source === node.ip && f.destination === internet && f.protocol === 'tcp'),
      JSON.stringify(log),
    );
    assert.equal(r.outbound.logged, 1);
    assert.equal(r.outbound.ok, true);
  });

  it("applying a plan again changes nothing; lab down removes each cluster's own appliance or table, and nothing is left", async () => {
    const [name] = clusters[1];
    await ensureOutbound(vnet, name);
    assert.equal((await labCheck(name, { test: '->external/internet$' })).outbound.ok, true);
    const appliances = clusters.flatMap(([n]) => outboundOf(vnet, n).appliance?.netns ?? []);
    assert.equal(appliances.length, 2);
    for (const n of appliances) assert.ok((await listNetns()).includes(n), n);
    // The load-balancer cluster leaves the shared VNet: its SNAT table goes, the others keep their way out.
    const lb = lbOutboundTable(clusters[0][0]);
    assert.notEqual(await nftListTable(lb.family, lb.name, { netns: vnet.netns }), null);
    await labDown(clusters[0][0]);
    assert.equal(await nftListTable(lb.family, lb.name, { netns: vnet.netns }), null);
    assert.equal((await labCheck(clusters[2][0], { test: '->external/internet$' })).outbound.ok, true);
    for (const [n] of clusters.slice(1)) await labDown(n);
    const left = (await listNetns()).filter((n) => n.startsWith(`plv-${vnetName}`) || n.includes(tag));
    assert.deepEqual(left, []);
  });
});
