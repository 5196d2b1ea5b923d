/**
 * `podnet ipam check`: does a node's pod address file agree with its kernel and with the cluster store? A pure
 * function of three observations, gathered by node-observe.ts (for the CLI and the lab) or by the agent. What
 * it finds is what Calico operators script around `calicoctl ipam check`: addresses held by pods that are gone
 * (leaks), plumbing left without an address, and a node serving a block it no longer leases.
 */
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
import type { PodPlumbingSeen } from '../dataplane/pod-network.js';
import type { PodAddress } from './types.js';

/** The node's pod address file, the pods' plumbing in its kernel (veths, /32 routes) and the store's leases. */
export interface NodeIpamObservation extends PodPlumbingSeen {
  node: string;
  /** The block the node's pod address file is for (null for a fresh file). */
  fileBlock: string | null;
  addresses: PodAddress[];
  /** The store's live leases; undefined when the store was not asked, and then the lease is not checked. */
  leases?: { block: string; nodeName: string }[];
  /**
   * What CNI CHECK finds wrong inside each pod whose node side is complete (interface, address, routes,
   * gateway neighbour); undefined when the pods were not looked into.
   */
  podSides?: { containerId: string; ifname: string; problems: string[] }[];
}

/** The node's lease in the store's list: null when it has none, undefined when the store was not asked. */
export function nodeLease(o: NodeIpamObservation): { block: string } | null | undefined {
  return o.leases && (o.leases.find((l) => l.nodeName === o.node) ?? null);
}

export const NODE_IPAM_FINDING_CODES = [
  'AddressWithoutInterface',
  'InterfaceWithoutAddress',
  'PodRouteMissing',
  'PodRouteStray',
  'AddressOutsideBlock',
  'BlockNotLeased',
  'PodSideIncomplete',
] as const;
export type NodeIpamFindingCode = (typeof NODE_IPAM_FINDING_CODES)[number];
/** What an observation without `podSides` can find: the agent's audit at every resync. */
export const NODE_SIDE_FINDING_CODES = NODE_IPAM_FINDING_CODES.filter((c) => c !== 'PodSideIncomplete');

export interface NodeIpamFinding {
  code: NodeIpamFindingCode;
  /** What it is about: an address, a veth, a block. */
  subject: string;
  message: string;
  hint: string;
}

const key = (containerId: string, ifname: string) => `${containerId}/${ifname}`;

/** Every disagreement between the file, the kernel and the store, sorted by code and subject. */
export function checkNodeIpam(o: NodeIpamObservation): NodeIpamFinding[] {
  const findings: NodeIpamFinding[] = [];
  const vethByAttachment = new Map(o.veths.map((v) => [key(v.containerId, v.ifname), v.hostVeth]));
  const held = new Map(o.addresses.map((a) => [a.ip, a]));
  const block = o.fileBlock ? parseCidr(o.fileBlock) : null;

  for (const a of o.addresses) {
    const release = `podnet ipam release --node ${o.node} --container ${a.containerId} --ifname ${a.ifname}`;
    if (block && !containsIp(block, parseIp(a.ip))) {
      findings.push({
        code: 'AddressOutsideBlock',
        subject: a.ip,
        message: `${a.ip} of container ${a.containerId} is outside the node's block ${o.fileBlock}`,
        hint: `the file is damaged: drain the node, then ${release}`,
      });
    }
    const veth = vethByAttachment.get(key(a.containerId, a.ifname));
    if (!veth) {
      findings.push({
        code: 'AddressWithoutInterface',
        subject: a.ip,
        message: `${a.ip} is held by container ${a.containerId} (${a.ifname}), which has no interface on this node: a leak`,
        hint: `let the runtime run CNI GC, or free it: ${release}`,
      });
      continue;
    }
    if (!o.podRoutes.some((r) => r.ip === a.ip && r.dev === veth)) {
      findings.push({
        code: 'PodRouteMissing',
        subject: a.ip,
        message: `no /32 route to ${a.ip} through ${veth}: the node cannot deliver to the pod`,
        hint: 'CNI CHECK names the broken attachment; deleting and re-creating the pod restores it',
      });
    }
  }
  for (const v of o.veths) {
    const a = o.addresses.find((x) => x.containerId === v.containerId && x.ifname === v.ifname);
    if (!a) {
      findings.push({
        code: 'InterfaceWithoutAddress',
        subject: v.hostVeth,
        message: `${v.hostVeth} belongs to container ${v.containerId} (${v.ifname}), which holds no address`,
        hint: `CNI GC removes it; by hand: ip link del ${v.hostVeth}`,
      });
    }
  }
  for (const r of o.podRoutes) {
    const a = held.get(r.ip);
    const podVeth = a && vethByAttachment.get(key(a.containerId, a.ifname));
    if (podVeth !== r.dev) {
      findings.push({
        code: 'PodRouteStray',
        subject: `${r.ip} dev ${r.dev}`,
        message: podVeth
          ? `the route to ${r.ip} goes through ${r.dev}, not through its pod's ${podVeth}`
          : `a route to ${r.ip} through ${r.dev}, and no pod on this node has ${r.ip} on an interface`,
        hint: `CNI GC removes plumbing of gone pods; by hand: ip route del ${r.ip}/32 dev ${r.dev}`,
      });
    }
  }
  for (const side of o.podSides ?? []) {
    if (side.problems.length === 0) continue;
    const a = o.addresses.find((x) => x.containerId === side.containerId && x.ifname === side.ifname);
    findings.push({
      code: 'PodSideIncomplete',
      subject: a?.ip ?? key(side.containerId, side.ifname),
      message: `container ${side.containerId} (${side.ifname}) is plumbed on the node but not inside the pod: ${side.problems.join('; ')}`,
      hint: 'its ADD stopped midway (the agent died in it) and the runtime has not deleted it yet: let the runtime run CNI DEL or GC, or delete and re-create the pod',
    });
  }
  const lease = nodeLease(o);
  if (o.fileBlock && lease !== undefined && lease?.block !== o.fileBlock) {
    const holderName = o.leases?.find((l) => l.block === o.fileBlock)?.nodeName;
    const holder = holderName ? `the block is leased to node ${holderName}` : 'nobody leases the block';
    findings.push({
      code: 'BlockNotLeased',
      subject: o.fileBlock,
      message: `the node serves pods from ${o.fileBlock}, but the store ${
        lease ? `leases the node ${lease.block}` : 'holds no lease for the node'
      }; ${holder}`,
      hint: 'is the agent running? It renews the lease; a lease gone for good means draining the node',
    });
  }
  return findings.sort((x, y) => x.code.localeCompare(y.code) || x.subject.localeCompare(y.subject));
}

/**
 * The findings seen in both of two observations taken apart: an ADD holds its address a moment before its
 * veth exists, and a DEL removes the veth a moment before the address, so one look can catch a pod midway.
 */
export function lastingFindings(first: NodeIpamFinding[], second: NodeIpamFinding[]): NodeIpamFinding[] {
  const seen = new Set(first.map((f) => `${f.code} ${f.subject}`));
  return second.filter((f) => seen.has(`${f.code} ${f.subject}`));
}
