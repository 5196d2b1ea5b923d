/**
 * The VNet's NSG enforcer for one cluster: a small level-based daemon (run inside the lab's fabric process,
 * which owns the cluster's part of the VNet) that follows the cluster's NSG and NIC objects, its block leases
 * and its profile in the store, and keeps the cluster's NSG table (nsg-nft.ts) equal to them. Every change
 * replaces the table in one nft transaction; connections admitted before it keep their conntrack entries and
 * pass, as NSG flows do when a rule changes.
 */
import { daemonLogger } from '../agent/log.js';
import { nftApply, nftListTable } from '../kernel/nft.js';
import { writeSysctl } from '../kernel/sysctl.js';
import type { FrontendRange } from '../loadbalancer/frontends.js';
import { vnetTagContext } from '../nsg/tags.js';
import type { Nic, Nsg } from '../nsg/types.js';
import { nicKind, nicOfObject, nsgKind, nsgOfObject } from '../objects/kinds/azure.js';
import { fromStored, objectPrefix } from '../objects/types.js';
import type { ClusterProfile } from '../profile/types.js';
import { openStore } from '../store/open.js';
import type { BlockLease } from '../store/types.js';
import type { KeyValue, WatchUpdate } from '../store/versioned.js';
import { type VnetNsgInput, renderVnetNsgs, renderVnetNsgsRemoval, vnetNsgTable } from './nsg-nft.js';

/** The enforcer's input from what the store holds (pure): objects that do not decode are left out, named. */
export function vnetNsgInput(
  cluster: string,
  profile: ClusterProfile,
  objects: { nsgs: KeyValue[]; nics: KeyValue[] },
  leases: readonly BlockLease[],
  frontends?: FrontendRange,
): { input: VnetNsgInput; skipped: string[] } {
  const skipped: string[] = [];
  const decode = <T>(kvs: KeyValue[], of: (o: ReturnType<typeof fromStored>) => T): T[] =>
    kvs.flatMap((kv) => {
      try {
        return [of(fromStored(kv))];
      } catch (e) {
        skipped.push(`${kv.key}: ${e instanceof Error ? e.message : String(e)}`);
        return [];
      }
    });
  const nsgs: Nsg[] = decode(objects.nsgs, nsgOfObject);
  const nics: Nic[] = decode(objects.nics, nicOfObject);
  return {
    input: {
      cluster,
      nsgs,
      nics,
      subnets: profile.vnet.subnets.map((s) => ({
        name: s.name,
        cidrs: s.cidr6 ? [s.cidr, s.cidr6] : [s.cidr],
      })),
      blocks: leases.map((l) => ({ node: l.nodeName, nodeIp: l.nodeIp, block: l.block })),
      tags: vnetTagContext(profile),
      ...(frontends ? { frontends } : {}),
    },
    skipped,
  };
}

/** Bridged frames go through the inet hooks (and conntrack) only with the bridge's netfilter calls on, per family. */
export const BRIDGE_NETFILTER_SYSCTLS = [
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
];

/** Replaces the cluster's NSG table in the VNet namespace in one transaction. */
export async function applyVnetNsgs(netns: string, input: VnetNsgInput): Promise<void> {
  await nftApply(renderVnetNsgs(input), { netns });
}

export async function removeVnetNsgs(netns: string, cluster: string): Promise<void> {
  await nftApply(renderVnetNsgsRemoval(cluster), { netns });
}

const RESYNC_MS = 5000;

export interface NsgEnforcerOptions {
  cluster: string;
  storeUrl: string;
  /** The VNet namespace. */
  netns: string;
  /** The cluster's load balancer frontends (their traffic meets the NSGs of the node it is sent to). */
  frontends?: FrontendRange | undefined;
}

/** Keeps one prefix's keys from a watch's snapshots and events. */
function keysOf(rows: Map<string, KeyValue>, u: WatchUpdate): void {
  if (u.type === 'snapshot') {
    rows.clear();
    for (const kv of u.items) rows.set(kv.key, kv);
  } else {
    for (const e of u.events) {
      if (e.type === 'put') rows.set(e.kv.key, e.kv);
      else rows.delete(e.key);
    }
  }
}

/** Runs the NSG enforcer of one cluster until SIGTERM or SIGINT; the table is removed when it stops. */
export async function runNsgEnforcer(o: NsgEnforcerOptions): Promise<void> {
  const log = daemonLogger({ component: 'lab-nsg', cluster: o.cluster });
  try {
    for (const key of BRIDGE_NETFILTER_SYSCTLS) await writeSysctl(key, '1', o.netns);
  } catch (e) {
    log.warn(
      { err: e instanceof Error ? e.message : String(e) },
      'no bridge netfilter in this kernel: NSGs filter routed traffic, not node-to-node traffic inside a subnet',
    );
  }
  const store = await openStore(o.storeUrl);
  const nsgRows = new Map<string, KeyValue>();
  const nicRows = new Map<string, KeyValue>();
  let leases: BlockLease[] | null = null;
  let profile: ClusterProfile | null = null;
  let applied = '';
  let busy: Promise<void> = Promise.resolve();
  const table = vnetNsgTable(o.cluster);
  const reconcile = (resync = false) => {
    busy = busy.then(async () => {
      if (leases === null || profile === null) return;
      try {
        const { input, skipped } = vnetNsgInput(
          o.cluster,
          profile,
          { nsgs: [...nsgRows.values()], nics: [...nicRows.values()] },
          leases,
          o.frontends,
        );
        for (const s of skipped) log.warn({ object: s }, 'object left out');
        const text = renderVnetNsgs(input);
        const missing = resync && (await nftListTable(table.family, table.name, { netns: o.netns })) === null;
        if (text === applied && !missing) return;
        await applyVnetNsgs(o.netns, input);
        applied = text;
        log.info({ nsgs: input.nsgs.map((n) => n.name), nics: input.nics.length }, 'NSG table applied');
      } catch (e) {
        applied = '';
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'NSG table apply failed');
      }
    });
  };
  const stops = [
    await store.kv.watch(objectPrefix(nsgKind.resource), (u) => {
      keysOf(nsgRows, u);
      reconcile();
    }),
    await store.kv.watch(objectPrefix(nicKind.resource), (u) => {
      keysOf(nicRows, u);
      reconcile();
    }),
    await store.watchBlocks((l) => {
      leases = l;
      reconcile();
    }),
    await store.watchCluster((record) => {
      if (record) profile = record.profile;
      reconcile();
    }),
  ];
  const timer = setInterval(() => reconcile(true), RESYNC_MS);
  log.info({ store: store.url, table: table.name }, 'NSG enforcer started');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  clearInterval(timer);
  for (const stop of stops) stop();
  await busy;
  await store.close();
  await removeVnetNsgs(o.netns, o.cluster).catch(() => {});
  log.info('NSG enforcer stopped');
}
