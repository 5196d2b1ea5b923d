/**
 * trace's outbound step: after the node's masquerade, a flow from the cluster (a pod or a node) to the
 * internet leaves through the cluster's outbound type (learn.microsoft.com/azure/aks/egress-outboundtype),
 * the hop that SNATs it (the load balancer's outbound frontend, the NAT gateway, or the firewall the UDR leads
 * to) and the address the internet sees. Decided by `src/outbound`, from the same plan the lab's VNet is built
 * from; without that plan (objects from files or a store) only the profile's outbound type is known.
 */
import type { ClusterOutbound } from '../outbound/model.js';
import { internetBound, outboundHop } from '../outbound/plan.js';
import type { ClusterProfile } from '../profile/types.js';
import type { Decision, Hop } from './trace.js';

export interface OutboundStep {
  hop: Hop;
  decision?: Decision;
  /** The source the internet sees. */
  sourceSeen: string;
}

/**
 * The step for a flow from the cluster (`fromCluster`) to `dst` whose source is `sourceSeen` after the node;
 * null when the flow does not leave for the internet.
 */
export function outboundStep(
  profile: ClusterProfile,
  outbound: ClusterOutbound | undefined,
  fromCluster: boolean,
  dst: string,
  sourceSeen: string,
): OutboundStep | null {
  if (!fromCluster || !internetBound(profile, dst)) return null;
  const v6 = dst.includes(':');
  if (outbound && v6 && !outbound.publicIp6)
    return {
      hop: {
        layer: 'outbound',
        at: 'vnet',
        verdict: 'info',
        detail: `outbound type ${outbound.type} translates IPv4: IPv6 egress leaves with the node's IPv6 address ${sourceSeen}`,
      },
      sourceSeen,
    };
  if (!outbound) {
    return {
      hop: {
        layer: 'outbound',
        at: 'vnet',
        verdict: 'info',
        detail: `outbound type ${profile.network.outboundType}: SNAT to the cluster's public outbound address, which the objects given do not name (trace --lab knows the lab's)`,
      },
      sourceSeen,
    };
  }
  const publicIp = v6 ? (outbound.publicIp6 as string) : outbound.publicIp;
  const { at, detail } = outboundHop({ ...outbound, publicIp });
  return {
    hop: { layer: 'outbound', at, verdict: 'info', detail },
    decision: { layer: 'outbound', object: outbound.type, rule: publicIp },
    sourceSeen: publicIp,
  };
}
