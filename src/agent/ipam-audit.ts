/**
 * The agent's IPAM audit: the pod addresses against the pods' plumbing in the kernel and the store's lease
 * list, the same pure check as `podnet ipam check`. It reports only what two audits in a row found: a pod
 * midway through ADD or DEL looks like a leak for a moment, and audits (one per resync) are seconds apart.
 * It reports and never repairs: the runtime's CNI GC owns the decision to free an address.
 */
import { parseCidr } from '../addr/index.js';
import type { PodPlumbingSeen } from '../dataplane/pod-network.js';
import { type NodeIpamFinding, checkNodeIpam, lastingFindings } from '../ipam/node-check.js';
import type { PodIpam } from '../ipam/types.js';
import type { BlockLease } from '../store/types.js';
import { type Logger, errFields } from './log.js';

export class IpamAudit {
  /** The last audit's findings, and those the audit before it also saw (the ones reported). */
  private seen: NodeIpamFinding[] = [];
  private lasting: NodeIpamFinding[] = [];

  constructor(
    private readonly deps: {
      node: string;
      readPodPlumbing(family: 4 | 6): Promise<PodPlumbingSeen>;
      log: Logger;
    },
  ) {}

  /** What the last two audits both found (`/v1/status` ipamProblems, `podnet_ipam_problems`). */
  get problems(): NodeIpamFinding[] {
    return this.lasting;
  }

  /**
   * One audit of each family's pod addresses (a dual-stack node has an IPv4 and an IPv6 file), each against its
   * family's routes and lease; a kernel read that fails is logged and changes nothing. New lasting findings are
   * logged once.
   */
  async run(ipams: PodIpam[], leases: BlockLease[]): Promise<void> {
    const found: NodeIpamFinding[] = [];
    try {
      for (const ipam of ipams) {
        const family = parseCidr(ipam.block).family;
        const plumbing = await this.deps.readPodPlumbing(family);
        found.push(
          ...checkNodeIpam({
            node: this.deps.node,
            fileBlock: ipam.block,
            addresses: ipam.list(),
            ...plumbing,
            leases: leases.filter((l) => parseCidr(l.block).family === family),
          }),
        );
      }
    } catch (err) {
      this.deps.log.warn(errFields(err), 'IPAM audit failed');
      return;
    }
    const lasting = lastingFindings(this.seen, found);
    this.seen = found;
    const known = new Set(this.lasting.map((f) => `${f.code} ${f.subject}`));
    for (const f of lasting.filter((x) => !known.has(`${x.code} ${x.subject}`))) {
      this.deps.log.warn({ code: f.code, subject: f.subject, hint: f.hint }, f.message);
    }
    this.lasting = lasting;
  }
}
