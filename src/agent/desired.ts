/**
 * What the node's dataplane should look like, computed from plain data (the cluster profile, the live
 * leases, what the node is attached to): pure, so every reconcile decision is unit-tested without root.
 * One function per dataplane part (`parts.ts`), each from the same snapshot.
 */
import { type NodeTableInput, type StoreEndpoint, nodeTableInput } from '../dataplane/ruleset.js';
import { compilePolicies } from '../policy/engine.js';
import { compileNodePolicy } from '../policy/nft.js';
import type { PolicyWorld } from '../policy/types.js';
import type { ClusterProfile } from '../profile/types.js';
import { type PeerRoute, desiredPeerRoutes } from '../routing/routes.js';
import { type ServiceWorld, compileServiceProxy } from '../services/proxy.js';
import type { BlockLease } from '../store/types.js';
import type { PeerRoutesMode } from './config.js';

/** What one reconcile knows: read once, then every part computes its desired state from it. */
export interface NodeSnapshot {
  profile: ClusterProfile;
  leases: readonly BlockLease[];
  selfNode: string;
  /** The subnets the node has addresses on (direct peer routes need a connected next hop). */
  attachedSubnets: readonly string[];
  peerRoutes: PeerRoutesMode;
  /** Where the cluster store listens: pods are kept from it. */
  storeEndpoints: readonly StoreEndpoint[];
  /** The cluster's Services and pod endpoints; none = no service proxy (a store without objects). */
  services?: ServiceWorld;
  /** The cluster's NetworkPolicies, namespaces and pods; none = no policy is enforced. */
  policy?: PolicyWorld;
  /** The node's cluster DNS server's address (src/agent/dns.ts); none = the node serves no DNS. */
  dns?: { listenIp: string };
}

/**
 * The node table's sections: SNAT exemptions and anti-spoofing per family of the profile's pod CIDRs, the
 * guard that keeps pods from the store's endpoints, the Service proxy, and the NetworkPolicy of the node's own
 * pods, compiled by the policy engine (the one `podnet trace` runs). `previous`, the table last applied, keeps
 * each service endpoint in its slot, so an endpoint change is a few element edits.
 */
export function desiredNodeTable(s: NodeSnapshot, previous?: NodeTableInput): NodeTableInput {
  const table = nodeTableInput(s.profile.network, [...s.storeEndpoints]);
  return {
    ...table,
    ...(s.services
      ? {
          services: compileServiceProxy(
            proxiedWorld(s, s.services),
            s.selfNode,
            table.snat.families,
            previous?.services,
          ),
        }
      : {}),
    ...(s.dns
      ? {
          dns: {
            serviceIp: s.profile.network.dnsServiceIp,
            listenIp: s.dns.listenIp,
            podCidrs: table.snat.families.find((f) => f.family === 4)?.podCidrs ?? [],
          },
        }
      : {}),
    ...(s.policy
      ? {
          policy: compileNodePolicy(
            compilePolicies(s.policy),
            s.policy.pods,
            s.selfNode,
            table.policy.families,
          ),
        }
      : {}),
  };
}

/**
 * The Services the proxy programs: all of them, less the one at the DNS service IP (kube-dns) when the node
 * answers that address itself (its `dns` section), as NodeLocal DNSCache's NOTRACK rules keep kube-proxy off
 * it; else the proxy would reject it as a service without endpoints before the DNAT to the node's server.
 */
function proxiedWorld(s: NodeSnapshot, world: ServiceWorld): ServiceWorld {
  if (!s.dns) return world;
  const dnsIp = s.profile.network.dnsServiceIp;
  return { ...world, services: world.services.filter((x) => !x.spec.clusterIPs?.includes(dnsIp)) };
}

/**
 * Direct routes to peers' blocks. Mode off: a fabric router carries pod traffic, so the node keeps no peer
 * routes of its own (and removes any left from an earlier direct-mode run: they carry podnet's proto).
 */
export function desiredNodeRoutes(s: NodeSnapshot): PeerRoute[] {
  if (s.peerRoutes === 'off') return [];
  return desiredPeerRoutes(s.leases, { selfNode: s.selfNode, attachedSubnets: s.attachedSubnets });
}
