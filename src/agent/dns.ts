import { DNS_PORT } from '../dns/nft.js';
import { resolve } from '../dns/records.js';
/**
 * The node's cluster DNS: the agent serves the cluster's records (src/dns) itself, on a node-local address,
 * from the Services and endpoints its ObjectWatch already follows, so pods get answers without any DNS pod
 * and without ever reaching the cluster store (the store's credentials stay in the agent, issue 14). The
 * node table's `dns` section (src/dns/nft.ts) sends the DNS service IP's port 53 here. Names outside the
 * cluster zone are relayed to the upstream resolver (`--dns-upstream`).
 *
 * The address is NodeLocal DNSCache's 169.254.20.10 (link-local, never routed off the node), a /32 on the
 * node's loopback (node-local-dns puts it on a dummy link; loopback needs no kernel module and is on every node).
 * It has host scope: the kernel picks a source address for a link-scope route (a pod's veth has none of its own)
 * from the first device's addresses, lo's included, so a global address here would become the source of the
 * node's masquerade towards its pods (a LoadBalancer's Cluster traffic was seen from 169.254.20.10).
 */
import { DnsServer } from '../dns/server.js';
import { ipBatch } from '../kernel/ip.js';
import type { ServiceWorld } from '../services/proxy.js';

export const NODE_DNS_IP = '169.254.20.10';

/** What the agent needs of its DNS server: where it listens, and start/stop. */
export interface ClusterDnsServer {
  readonly listenIp: string;
  start(world: () => ServiceWorld): Promise<void>;
  stop(): Promise<void>;
}

export class NodeDns implements ClusterDnsServer {
  readonly listenIp = NODE_DNS_IP;
  private server: DnsServer | null = null;

  constructor(private readonly o: { upstream: { host: string; port: number } | null; netns?: string }) {}

  /** Puts the node-local address in place (idempotent) and serves it; answers read `world()` per query. */
  async start(world: () => ServiceWorld): Promise<void> {
    await ipBatch([`addr replace ${NODE_DNS_IP}/32 dev lo scope host`], this.o.netns);
    this.server = new DnsServer({
      host: NODE_DNS_IP,
      port: DNS_PORT,
      resolve: (name, type) => resolve(world(), name, type),
      ...(this.o.upstream ? { upstream: this.o.upstream } : {}),
    });
    await this.server.start();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }
}
