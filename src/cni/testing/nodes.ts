/**
 * Nodes for the CNI plugin's kernel tests: node namespaces on one bridge (`br0` in a LAN namespace), each with
 * an uplink, forwarding on, and a test agent serving the real handler on its own socket with a pod IPAM per
 * family. Node i is `172.31.R.i` and leases `10.R.i.0/24`; a dual-stack node is also `fd00:RR::i` (RR: R in
 * hex) with the block `fd12:RR::i00/120`. The test's scope removes the namespaces; `agent.close()` the agents.
 */
import { join } from 'node:path';
import { openPodIpam } from '../../ipam/pod-ipam.js';
import { ipBatch } from '../../kernel/ip.js';
import { writeSysctl } from '../../kernel/sysctl.js';
import type { NetnsScope } from '../../testing/netns-fixture.js';
import { type TestAgent, startTestAgent } from './test-agent.js';

export interface TestNode {
  name: string;
  netns: string;
  ip: string;
  /** Dual-stack nodes only. */
  ip6?: string;
  /** Its blocks, IPv4 first. */
  blocks: string[];
  agent: TestAgent;
}

export interface TestNodeOptions {
  scope: NetnsScope;
  /** Where the sockets and pod IPAM files go. */
  dir: string;
  /** The LAN namespace holding `br0`. */
  lan: string;
  /** The test's random octet R (200-249), so runs side by side do not share addresses. */
  r: number;
  podCidrs: string[];
  dualStack?: boolean;
  /** The uplink's MTU (the veth default otherwise). */
  mtu?: number;
  /** A default route via this address, on the uplink (onlink). */
  defaultVia?: string;
}

export async function addTestNode(o: TestNodeOptions, i: number): Promise<TestNode> {
  const netns = await o.scope.add(`n${i}`);
  const hex = o.r.toString(16);
  const ip = `172.31.${o.r}.${i}`;
  const ip6 = o.dualStack ? `fd00:${hex}::${i}` : undefined;
  const blocks = [`10.${o.r}.${i}.0/24`, ...(o.dualStack ? [`fd12:${hex}::${i}00/120`] : [])];
  const up = `${o.scope.prefix}u${i}`;
  const mtu = o.mtu ? ` mtu ${o.mtu}` : '';
  await ipBatch([`link add ${up}${mtu} type veth peer name uplink${mtu} netns /run/netns/${netns}`]);
  await ipBatch([`link set ${up} netns /run/netns/${o.lan}`]);
  await ipBatch([`link set ${up} master br0 up`], o.lan);
  await ipBatch(
    [
      `addr add ${ip}/24 dev uplink`,
      ...(ip6 ? [`addr add ${ip6}/64 dev uplink nodad`] : []),
      'link set uplink up',
      ...(o.defaultVia ? [`route add default via ${o.defaultVia} dev uplink onlink`] : []),
    ],
    netns,
  );
  await writeSysctl('net/ipv4/ip_forward', '1', netns);
  if (ip6) await writeSysctl('net/ipv6/conf/all/forwarding', '1', netns);
  const ipam = (b: string, suffix: string) =>
    openPodIpam({ path: join(o.dir, `n${i}-pod-ipam${suffix}.db`), block: b, maxPods: 250 });
  const agent = await startTestAgent({
    socket: join(o.dir, `n${i}.sock`),
    nodeName: `node${i}`,
    nodeNetns: netns,
    ipam: ipam(blocks[0], ''),
    ...(blocks[1] ? { ipam6: ipam(blocks[1], '6') } : {}),
    podCidrs: o.podCidrs,
  });
  return { name: `node${i}`, netns, ip, ...(ip6 ? { ip6 } : {}), blocks, agent };
}

/** Each node's blocks routed via the others' addresses of the block's family (the agent's job in production). */
export async function routeBetween(nodes: TestNode[]): Promise<void> {
  for (const a of nodes)
    await ipBatch(
      nodes
        .filter((b) => b !== a)
        .flatMap((b) =>
          b.blocks.map((block) => `route add ${block} via ${block.includes(':') ? b.ip6 : b.ip}`),
        ),
      a.netns,
    );
}
