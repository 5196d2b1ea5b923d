/**
 * The node dataplane as the agent drives it: four level-based operations over the kernel of one network
 * namespace (the agent's own, or `netns`), and one read of the pods' plumbing for the IPAM audit. An
 * interface so the agent's logic is tested without root.
 */
import { type PeerRoute, type ReconcileResult, reconcileRoutes } from '../routing/routes.js';
import { ensureIpForwarding } from './forwarding.js';
import { type NodeInterface, readNodeInterfaces } from './node-interfaces.js';
import { NodeRuleset, type RulesetOutcome } from './node-ruleset.js';
import { type PodPlumbingSeen, readPodPlumbing } from './pod-network.js';
import type { NodeRulesetInput } from './ruleset.js';

export interface NodeDataplane {
  readInterfaces(): Promise<NodeInterface[]>;
  /** True when forwarding had to be turned on. */
  ensureForwarding(): Promise<boolean>;
  ensureRuleset(input: NodeRulesetInput): Promise<RulesetOutcome>;
  reconcileRoutes(desired: readonly PeerRoute[]): Promise<ReconcileResult>;
  /** The podnet host veths (with the attachment each belongs to) and the /32 routes through them. */
  readPodPlumbing(): Promise<PodPlumbingSeen>;
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
    reconcileRoutes: (desired) => reconcileRoutes(desired, { netns: opts.netns }),
    readPodPlumbing: () => readPodPlumbing(opts.netns),
  };
}
