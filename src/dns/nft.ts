/**
 * The `dns` section of the node table: pods (and the node itself) asking the cluster DNS service IP on port 53,
 * UDP or TCP, reach the node's own DNS server on its node-local address, as NodeLocal DNSCache intercepts
 * kube-dns's ClusterIP (https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/). One fixed DNAT
 * target per node: no random choice among backends, so glibc's parallel A and AAAA queries on one socket never
 * race to different conntrack entries (the 5 s timeouts of Azure/AKS#667, kubernetes#56903).
 *
 *   dns_dnat       nat prerouting, priority -120 (nat chains run in priority order, all at the kernel's
 *                  NAT hook, -100): pods' queries
 *   dns_dnat_out   nat output, priority -120: the node's own processes (host-network pods) the same way
 *
 * The service proxy leaves the Service at the DNS service IP (kube-dns, no endpoint pod) out while the node
 * serves DNS (agent/desired.ts), or its reject of services without endpoints (filter -110, before any NAT)
 * would refuse the queries.
 *
 * Pure; IPv4 only (the node-local address is IPv4, as NodeLocal DNSCache's 169.254.20.10).
 */
import { parseIp } from '../addr/index.js';
import type { TableSection } from '../dataplane/nft-table.js';

export interface NodeDnsInput {
  /** The profile's DNS service IP (kube-dns's ClusterIP). */
  serviceIp: string;
  /** The node-local address the node's DNS server listens on. */
  listenIp: string;
  /** The cluster's IPv4 pod CIDRs: queries from pods. */
  podCidrs: string[];
}

export const DNS_PORT = 53;

export function dnsSection(input: NodeDnsInput): TableSection {
  if (parseIp(input.serviceIp).family !== 4 || input.podCidrs.length === 0)
    return { name: 'dns', sets: [], chains: [] };
  const match = `ip daddr ${input.serviceIp} meta l4proto { tcp, udp } th dport ${DNS_PORT}`;
  const to = `dnat ip to ${input.listenIp}`;
  return {
    name: 'dns',
    sets: [],
    chains: [
      {
        name: 'dns_dnat',
        base: { type: 'nat', hook: 'prerouting', priority: '-120' },
        rules: [
          `ip saddr { ${input.podCidrs.join(', ')} } ${match} ${to} comment "podnet: cluster DNS answered by this node"`,
        ],
      },
      {
        name: 'dns_dnat_out',
        base: { type: 'nat', hook: 'output', priority: '-120' },
        rules: [`${match} ${to} comment "podnet: cluster DNS answered by this node"`],
      },
    ],
  };
}
