/**
 * Test support for the agent: a small cluster profile, an in-memory pod IPAM and a recording dataplane, so the
 * agent's logic is tested without root, a kernel or files.
 */
import type { NodeDataplane } from '../dataplane/node-dataplane.js';
import type { NodeInterface } from '../dataplane/node-interfaces.js';
import type { EnsureOutcome } from '../dataplane/node-ruleset.js';
import type { PodPlumbingSeen } from '../dataplane/pod-network.js';
import type { NodeTableInput } from '../dataplane/ruleset.js';
import { PodnetError } from '../errors/index.js';
import type { AllocateRequest, PodAddress, PodIpam } from '../ipam/types.js';
import { profileFromObject } from '../profile/load.js';
import type { ClusterProfile } from '../profile/types.js';
import { type PeerRoute, diffRoutes } from '../routing/routes.js';

/** A small valid profile, AKS defaults filled in by the profile loader; `over` replaces network fields. */
export function testProfile(over: Partial<ClusterProfile['network']> = {}): ClusterProfile {
  const profile = profileFromObject({
    name: 'lab',
    vnet: {
      name: 'vnet',
      addressSpaces: ['10.224.0.0/12'],
      subnets: [{ name: 'nodes', cidr: '10.224.0.0/16' }],
    },
    agentPoolProfiles: [{ name: 'system', vnetSubnetName: 'nodes', vmSize: 'Standard_D2s_v5', maxPods: 30 }],
  });
  return { ...profile, network: { ...profile.network, ...over } };
}

/** Pod IPAM over a map: addresses .2, .3, ... of the block, capped at maxPods. */
export class MemoryPodIpam implements PodIpam {
  readonly pods = new Map<string, PodAddress>();
  closed = false;
  constructor(
    readonly block: string,
    readonly maxPods: number,
  ) {}
  allocate(req: AllocateRequest): PodAddress {
    const key = `${req.containerId}/${req.ifname}`;
    const have = this.pods.get(key);
    if (have) return have;
    if (this.pods.size >= this.maxPods) throw new PodnetError('MaxPodsReached', 'max pods reached');
    const used = new Set([...this.pods.values()].map((p) => p.ip));
    const base = this.block.split('.').slice(0, 3).join('.');
    let n = 2;
    while (used.has(`${base}.${n}`)) n++;
    const pod = {
      ...req,
      family: 4 as const,
      ip: `${base}.${n}`,
      block: this.block,
      allocatedAt: new Date().toISOString(),
    };
    this.pods.set(key, pod);
    return pod;
  }
  release(containerId: string, ifname: string): PodAddress | null {
    const key = `${containerId}/${ifname}`;
    const have = this.pods.get(key) ?? null;
    this.pods.delete(key);
    return have;
  }
  get(containerId: string, ifname: string): PodAddress | null {
    return this.pods.get(`${containerId}/${ifname}`) ?? null;
  }
  list(): PodAddress[] {
    return [...this.pods.values()];
  }
  close(): void {
    this.closed = true;
  }
}

/** A dataplane that keeps its "kernel" in memory and records what the agent asked for. */
export class RecordingDataplane implements NodeDataplane {
  interfaces: NodeInterface[];
  routes: PeerRoute[] = [];
  ruleset: NodeTableInput | null = null;
  forwarding = false;
  /** While set, ensureRuleset throws it (a failing nft). */
  fail: Error | null = null;
  calls = 0;

  constructor(nodeIp: string, prefix = 16, mtu = 1450) {
    this.interfaces = [{ ifname: 'eth0', mtu, addrs: [{ ip: nodeIp, prefix }] }];
  }
  async readInterfaces() {
    return this.interfaces;
  }
  async ensureForwarding() {
    const was = this.forwarding;
    this.forwarding = true;
    return !was;
  }
  async ensureRuleset(input: NodeTableInput): Promise<EnsureOutcome> {
    this.calls++;
    if (this.fail) throw this.fail;
    const same = JSON.stringify(this.ruleset) === JSON.stringify(input);
    this.ruleset = input;
    return same ? 'unchanged' : 'applied';
  }
  lastRulesetWrite() {
    return null;
  }
  async reconcileRoutes(desired: readonly PeerRoute[]) {
    const d = diffRoutes(desired, this.routes);
    this.routes = [...desired];
    return { added: d.add.length, replaced: d.replace.length, removed: d.remove.length };
  }
  /** The pods' plumbing as a test sets it. */
  plumbing: PodPlumbingSeen = { veths: [], podRoutes: [] };
  async readPodPlumbing() {
    return this.plumbing;
  }
}
