/**
 * What the node's dataplane should look like, computed from plain data (the cluster profile, the live
 * leases, what the node is attached to): pure, so every reconcile decision is unit-tested without root.
 */
import type { NodeRulesetInput } from '../dataplane/ruleset.js';
import type { ClusterProfile } from '../profile/types.js';
import { type PeerRoute, desiredPeerRoutes } from '../routing/routes.js';
import type { BlockLease } from '../store/types.js';
import type { PeerRoutesMode } from './config.js';

export interface NodeDesiredState {
  ruleset: NodeRulesetInput;
  peerRoutes: PeerRoute[];
}

export function desiredNodeState(input: {
  profile: ClusterProfile;
  leases: readonly BlockLease[];
  selfNode: string;
  attachedSubnets: readonly string[];
  peerRoutes: PeerRoutesMode;
}): NodeDesiredState {
  return {
    ruleset: {
      podCidrs: input.profile.network.podCidrs,
      nonMasqueradeCidrs: input.profile.network.nonMasqueradeCidrs,
    },
    // Mode off: a fabric router carries pod traffic, so the node keeps no peer routes of its own (and removes
    // any left from an earlier direct-mode run: they carry podnet's proto).
    peerRoutes:
      input.peerRoutes === 'off'
        ? []
        : desiredPeerRoutes(input.leases, {
            selfNode: input.selfNode,
            attachedSubnets: input.attachedSubnets,
          }),
  };
}
