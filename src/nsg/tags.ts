/**
 * Service tags as this VNet defines them (service-tags-overview.md; effective rules show VirtualNetwork
 * expanded to the address spaces plus 168.63.129.16, azure-docs#32725):
 * - VirtualNetwork: the VNet's address spaces, its connected (peered, VPN, ExpressRoute) networks, the host's
 *   virtual IP 168.63.129.16, and the pod CIDR. Whether Azure counts the overlay pod CIDR in it is not stated
 *   (azure-docs#117857 asked and got no answer); AKS overlay clusters work with default NSGs, whose only allow
 *   for pod-to-pod traffic is AllowVnetInBound, so podnet counts it in and says so in every trace.
 * - AzureLoadBalancer: 168.63.129.16 (health probes).
 * - Internet: everything outside VirtualNetwork.
 * - AzurePlatformDNS, AzurePlatformIMDS, AzurePlatformLKM: the platform addresses, which NSGs do not filter
 *   unless a rule names these tags.
 */
import type { TagContext } from './types.js';

export const HOST_VIRTUAL_IP = '168.63.129.16';
export const IMDS_IP = '169.254.169.254';
export const PLATFORM_ADDRESSES = [HOST_VIRTUAL_IP, IMDS_IP];
export const PLATFORM_TAGS = ['AzurePlatformDNS', 'AzurePlatformIMDS', 'AzurePlatformLKM'];

export const SERVICE_TAGS = ['VirtualNetwork', 'AzureLoadBalancer', 'Internet', ...PLATFORM_TAGS] as const;

/** The prefixes a tag stands for (Internet is "not VirtualNetwork" and has none of its own). */
export function tagCidrs(tag: string, ctx: TagContext): string[] {
  switch (tag) {
    case 'VirtualNetwork':
      return [...ctx.virtualNetwork, `${HOST_VIRTUAL_IP}/32`];
    case 'AzureLoadBalancer':
    case 'AzurePlatformDNS':
    case 'AzurePlatformLKM':
      return [`${HOST_VIRTUAL_IP}/32`];
    case 'AzurePlatformIMDS':
      return [`${IMDS_IP}/32`];
    default:
      return [];
  }
}

/** The VirtualNetwork tag of a cluster's VNet: address spaces, connected networks and the pod CIDRs. */
export function vnetTagContext(profile: {
  vnet: { addressSpaces: string[] };
  connectedNetworks: { cidrs: string[] }[];
  network: { podCidrs: string[] };
}): TagContext {
  return {
    virtualNetwork: [
      ...profile.vnet.addressSpaces,
      ...profile.connectedNetworks.flatMap((c) => c.cidrs),
      ...profile.network.podCidrs,
    ],
  };
}
