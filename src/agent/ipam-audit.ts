/**
 * The agent's IPAM audit: the pod addresses against the pods' plumbing in the kernel and the store's lease
 * list, the same pure check as `podnet ipam check`. It reports only what two audits in a row found: a pod
 * midway through ADD or DEL looks like a leak for a moment, and audits (one per resync) are seconds apart.
 * It reports and never repairs: the runtime's CNI GC owns the decision to free an address.
 */
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
      readPodPlumbing(): Promise<PodPlumbingSeen>;
      log: Logger;
    },
  ) {}

  /** What the last two audits both found (`/v1/status` ipamProblems, `podnet_ipam_problems`). */
  get problems(): NodeIpamFinding[] {
    return this.lasting;
  }

  /** One audit; a kernel read that fails is logged and changes nothing. New lasting findings are logged once. */
  async run(ipam: PodIpam, leases: BlockLease[]): Promise<void> {
    let found: NodeIpamFinding[];
    try {
      const plumbing = await this.deps.readPodPlumbing();
      found = checkNodeIpam({
        node: this.deps.node,
        fileBlock: ipam.block,
        addresses: ipam.list(),
        ...plumbing,
        leases,
      });
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
