import { request } from 'node:http';
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
/**
 * The VNet's load balancer for one cluster (the kernel edge of src/loadbalancer/balancer.ts): a small
 * level-based daemon in the lab's fabric process, which runs inside the VNet namespace so its health probes
 * reach the nodes as Azure's do. Every round it probes each node (the cluster's block leases) as the
 * cluster's LoadBalancer Services ask, then makes the kernel say what the probes said: the load balancer's
 * table (rules, and per frontend the healthy nodes new flows are marked for) in one nft transaction when it
 * changed or went missing, and a policy routing rule and table per node, so marked packets reach that node
 * with the frontend still their destination (floating IP).
 */
import { daemonLogger } from '../agent/log.js';
import { ipBatch, ipJson } from '../kernel/ip.js';
import { nftApply, nftListTable } from '../kernel/nft.js';
import {
  type LbNode,
  type ListedRule,
  type Probe,
  backendsOfListing,
  chooseBackends,
  lbFrontends,
  lbNodes,
  lbRulePriority,
  lbTable,
  plannedProbes,
  probeKey,
  renderLbRulesRemoval,
  renderLbTable,
  renderNodeRouting,
} from '../loadbalancer/balancer.js';
import type { FrontendRange } from '../loadbalancer/frontends.js';
import { objectPrefix } from '../objects/types.js';
import type { Service } from '../services/types.js';
import { openStore } from '../store/open.js';
import type { BlockLease } from '../store/types.js';
import type { KeyValue } from '../store/versioned.js';

/** Azure's default probe interval is 5 s; the lab probes every second so a test waits little. */
const PROBE_INTERVAL_MS = 1000;
const PROBE_TIMEOUT_MS = 800;
/** One HTTP probe: true on a 200 within the timeout. */
export function probeOnce(p: Probe, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: p.ip, port: p.port, path: p.path, method: 'GET', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** What the kernel's load balancer table says: each frontend's nodes for new flows. */
export async function readLbBackends(netns: string, cluster: string) {
  const t = lbTable(cluster);
  return backendsOfListing((await nftListTable(t.family, t.name, { netns })) ?? '');
}

const listRules = (netns: string, family: 4 | 6) =>
  ipJson<ListedRule>([family === 4 ? '-4' : '-6', 'rule', 'show'], netns);

/** Removes the cluster's load balancer from the VNet: its table, and its per-node rules and tables. */
export async function removeLoadBalancer(
  netns: string,
  cluster: string,
  clusterTable: number,
): Promise<void> {
  await nftApply(renderLbRulesRemoval(cluster), { netns });
  for (const family of [4, 6] as const) {
    const lines = renderNodeRouting([], lbRulePriority(clusterTable), await listRules(netns, family), family);
    await ipBatch(lines, netns, { force: true, ignoreMissing: true, family });
  }
}

export interface LoadBalancerOptions {
  cluster: string;
  storeUrl: string;
  /** The VNet namespace (the process runs inside it). */
  netns: string;
  /** The cluster's frontend ranges: IPv4, and IPv6 when dual-stack. */
  frontends: FrontendRange;
  /** The cluster's routing table in the VNet namespace (its per-node rules' priority derives from it). */
  table: number;
}

/** Runs the load balancer of one cluster until SIGTERM or SIGINT; its table and routes go when it stops. */
export async function runLoadBalancer(o: LoadBalancerOptions): Promise<void> {
  const log = daemonLogger({ component: 'lab-lb', cluster: o.cluster });
  const store = await openStore(o.storeUrl);
  const ranges = [o.frontends.cidr, ...(o.frontends.cidr6 ? [o.frontends.cidr6] : [])].map((c) =>
    parseCidr(c),
  );
  const inRange = (ip: string) => {
    try {
      const a = parseIp(ip);
      return ranges.some((r) => r.family === a.family && containsIp(r, a));
    } catch {
      return false;
    }
  };
  const services = new Map<string, KeyValue>();
  let nodes: LbNode[] | null = null;
  let applied = '';
  let said = '';
  let stopped = false;
  const table = lbTable(o.cluster);
  const priority = lbRulePriority(o.table);
  const round = async () => {
    if (nodes === null) return;
    const list: Service[] = [];
    for (const kv of services.values()) {
      try {
        list.push(JSON.parse(kv.value) as Service);
      } catch {
        log.warn({ key: kv.key }, 'stored Service unreadable; left out');
      }
    }
    const frontends = lbFrontends(list, inRange);
    const probes = plannedProbes(frontends, nodes);
    const answers = await Promise.all(probes.map((p) => probeOnce(p)));
    const healthy = new Set(probes.filter((_, i) => answers[i]).map(probeKey));
    const want = chooseBackends(frontends, nodes, healthy);
    // Routes first: a node a flow is marked for is routed before the table names it.
    for (const family of o.frontends.cidr6 ? ([4, 6] as const) : ([4] as const))
      await ipBatch(renderNodeRouting(nodes, priority, await listRules(o.netns, family), family), o.netns, {
        family,
      });
    const text = renderLbTable(o.cluster, o.frontends, frontends, want);
    if (text !== applied || (await nftListTable(table.family, table.name, { netns: o.netns })) === null) {
      await nftApply(text, { netns: o.netns });
      applied = text;
    }
    const now = JSON.stringify(want);
    if (now !== said) {
      said = now;
      log.info({ frontends: want }, 'backends follow the health probes');
    }
  };
  const stops = [
    await store.kv.watch(objectPrefix('services'), (u) => {
      if (u.type === 'snapshot') {
        services.clear();
        for (const kv of u.items) services.set(kv.key, kv);
      } else
        for (const e of u.events) {
          if (e.type === 'put') services.set(e.kv.key, e.kv);
          else services.delete(e.key);
        }
    }),
    await store.watchBlocks((leases: BlockLease[]) => {
      nodes = lbNodes(leases);
    }),
  ];
  const loop = (async () => {
    while (!stopped) {
      try {
        await round();
      } catch (e) {
        applied = '';
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'load balancer round failed');
      }
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  })();
  log.info({ store: store.url, frontends: o.frontends, table: table.name }, 'load balancer started');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  stopped = true;
  await loop;
  for (const stop of stops) stop();
  await store.close();
  await removeLoadBalancer(o.netns, o.cluster, o.table).catch(() => {});
  log.info('load balancer stopped');
}
