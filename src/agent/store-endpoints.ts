/**
 * Where the cluster store listens, as the node table's guard section needs it (addresses and TCP ports pods
 * must never reach): the etcd endpoints of the agent's store URL, names resolved once when the agent starts
 * (a sqlite store is a file and has none).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { StoreEndpoint } from '../dataplane/ruleset.js';
import { parseStoreUrl } from '../store/open.js';

/** The hosts and ports of a store URL (pure); a unix socket endpoint is a file, not an address. */
export function storeHosts(url: string): { host: string; port: number }[] {
  if (!url.startsWith('etcd:')) return [];
  const p = parseStoreUrl(url);
  return (p.hosts ?? [])
    .filter((h) => !h.startsWith('unix'))
    .map((h) => {
      const u = new URL(h);
      return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) };
    });
}

export async function resolveStoreEndpoints(url: string): Promise<StoreEndpoint[]> {
  const out: StoreEndpoint[] = [];
  for (const { host, port } of storeHosts(url)) {
    const family = isIP(host);
    const addrs = family ? [{ address: host, family }] : await lookup(host, { all: true });
    for (const a of addrs) out.push({ family: a.family === 6 ? 6 : 4, ip: a.address, port });
  }
  return out;
}
