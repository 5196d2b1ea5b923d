/**
 * The VNet's load balancer for one cluster (the kernel edge of src/loadbalancer/balancer.ts): a small
 * level-based daemon in the lab's fabric process, which runs inside the VNet namespace so its health probes
 * reach the nodes as Azure's do. Every round it probes each node (the cluster's block leases) as the
 * cluster's LoadBalancer Services ask, then makes the kernel say what the probes said: the rules table in
 * one nft transaction (when it changed or went missing) and, per frontend, one `ip route replace` with the
 * healthy nodes as next hops (each replace is atomic; a flow's packets keep their node while its set stays).
 */
import { request } from 'node:http';
import { destination, pino } from 'pino';
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
import { ipBatch, ipJson } from '../kernel/ip.js';
import { nftApply, nftListTable } from '../kernel/nft.js';
import { writeSysctl } from '../kernel/sysctl.js';
import {
  LB_ROUTE_PROTO,
  type LbNode,
  type ListedRoute,
  type Probe,
  chooseBackends,
  lbFrontends,
  lbTable,
  plannedProbes,
  probeKey,
  renderLbRules,
  renderLbRulesRemoval,
  renderRouteChanges,
  routesOf,
} from '../loadbalancer/balancer.js';
import { objectPrefix } from '../objects/types.js';
import type { Service } from '../services/types.js';
import { openStore } from '../store/open.js';
import type { BlockLease } from '../store/types.js';
import type { KeyValue } from '../store/versioned.js';

/** Azure's default probe interval is 5 s; the lab probes every second so a test waits little. */
const PROBE_INTERVAL_MS = 1000;
const PROBE_TIMEOUT_MS = 800;
/** Layer 4 hash of multipath routes: each flow (5-tuple) picks its node, as Azure's hash distribution. */
export const MULTIPATH_HASH_SYSCTL = 'net/ipv4/fib_multipath_hash_policy';

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

/** The load balancer's routes in the VNet namespace for addresses of `frontendCidr`. */
export async function readLbRoutes(netns: string, frontendCidr: string) {
  const cidr = parseCidr(frontendCidr);
  const listed = await ipJson<ListedRoute>(['-4', 'route', 'show', 'proto', String(LB_ROUTE_PROTO)], netns);
  return routesOf(listed).filter((r) => containsIp(cidr, parseIp(r.ip)));
}

/** Removes the cluster's load balancer from the VNet: its rules table and its frontends' routes. */
export async function removeLoadBalancer(
  netns: string,
  cluster: string,
  frontendCidr: string,
): Promise<void> {
  await nftApply(renderLbRulesRemoval(cluster), { netns });
  await ipBatch(renderRouteChanges([], await readLbRoutes(netns, frontendCidr)), netns, {
    force: true,
    ignoreMissing: true,
  });
}

export interface LoadBalancerOptions {
  cluster: string;
  storeUrl: string;
  /** The VNet namespace (the process runs inside it). */
  netns: string;
  frontendCidr: string;
}

/** Runs the load balancer of one cluster until SIGTERM or SIGINT; its table and routes go when it stops. */
export async function runLoadBalancer(o: LoadBalancerOptions): Promise<void> {
  const log = pino(
    {
      base: { component: 'lab-lb', cluster: o.cluster },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest: 2, sync: true }),
  );
  await writeSysctl(MULTIPATH_HASH_SYSCTL, '1', o.netns);
  const store = await openStore(o.storeUrl);
  const range = parseCidr(o.frontendCidr);
  const inRange = (ip: string) => {
    try {
      return containsIp(range, parseIp(ip));
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
    const rules = renderLbRules(o.cluster, o.frontendCidr, frontends);
    if (rules !== applied || (await nftListTable(table.family, table.name, { netns: o.netns })) === null) {
      await nftApply(rules, { netns: o.netns });
      applied = rules;
    }
    const probes = plannedProbes(frontends, nodes);
    const answers = await Promise.all(probes.map((p) => probeOnce(p)));
    const healthy = new Set(probes.filter((_, i) => answers[i]).map(probeKey));
    const want = chooseBackends(frontends, nodes, healthy);
    const lines = renderRouteChanges(want, await readLbRoutes(o.netns, o.frontendCidr));
    if (lines.length) await ipBatch(lines, o.netns);
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
      nodes = leases.map((l) => ({ name: l.nodeName, ip: l.nodeIp }));
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
  log.info({ store: store.url, frontends: o.frontendCidr, table: table.name }, 'load balancer started');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  stopped = true;
  await loop;
  for (const stop of stops) stop();
  await store.close();
  await removeLoadBalancer(o.netns, o.cluster, o.frontendCidr).catch(() => {});
  log.info('load balancer stopped');
}
