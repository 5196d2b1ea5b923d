/**
 * The node dataplane as the agent drives it: the kernel edges of its dataplane parts (`agent/parts.ts`), each
 * level-based over the kernel of one network namespace (the agent's own, or `netns`), the interface read that
 * every reconcile starts with, and one read of the pods' plumbing for the IPAM audit. An interface so the
 * agent's logic is tested without root.
 */
import { type PeerRoute, type ReconcileResult, reconcileRoutes } from '../routing/routes.js';
import { ensureIpForwarding } from './forwarding.js';
import { type NodeInterface, readNodeInterfaces } from './node-interfaces.js';
import { type EnsureOutcome, NodeRuleset, type RulesetWrite } from './node-ruleset.js';
import { type PodPlumbingSeen, readPodPlumbing } from './pod-network.js';
import type { NodeTableInput } from './ruleset.js';

export interface NodeDataplane {
  readInterfaces(): Promise<NodeInterface[]>;
  /** True when forwarding had to be turned on. */
  ensureForwarding(): Promise<boolean>;
  /** The node's nftables table, all its sections in one transaction. */
  ensureRuleset(input: NodeTableInput): Promise<EnsureOutcome>;
  /** How the last ruleset write reached the kernel: element edits (how many) or a whole-table replace. */
  lastRulesetWrite(): RulesetWrite | null;
  reconcileRoutes(desired: readonly PeerRoute[]): Promise<ReconcileResult>;
  /** The podnet host veths (with the attachment each belongs to) and the /32 routes through them. */
  readPodPlumbing(family?: 4 | 6): Promise<PodPlumbingSeen>;
}

/**
 * The kernel dataplane of the namespace `netns`, or of the calling process when it is unset (the agent, which
 * re-executes itself inside the node namespace).
 */
export function kernelDataplane(opts: { netns?: string } = {}): NodeDataplane {
  const ruleset = new NodeRuleset(opts);
  return {
    readInterfaces: () => readNodeInterfaces(opts),
    ensureForwarding: () => ensureIpForwarding(opts),
    ensureRuleset: (input) => ruleset.ensure(input),
    lastRulesetWrite: () => ruleset.lastWrite,
    reconcileRoutes: (desired) => reconcileRoutes(desired, { netns: opts.netns }),
    readPodPlumbing: (family) => readPodPlumbing(opts.netns, family),
  };
}
