/**
 * The lab benchmark: how long a 3-node, 30-pod lab takes to come up and to be torn down, and, in that lab,
 * pod-to-pod TCP throughput (iperf3, 1 and 4 streams) and round-trip time across nodes on different subnets,
 * next to node-to-node on the same path, next to two pods the reference ptp plugin made on the same nodes (the
 * floor for any routed veth pod), and next to two other podnet pods over a VXLAN tunnel the benchmark builds
 * between the two nodes. The host flips between CPU speeds, so the four paths are measured in
 * interleaved rounds (rotating which goes first) and each ratio is the median of per-round ratios.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BLOCK_PREFIX, cidrOf, formatCidr, formatIp, ipAt, parseIp } from '../src/addr/index.js';
import { execPlugin } from '../src/cni/testing/exec-plugin.js';
import { ipBatch } from '../src/kernel/ip.js';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../src/kernel/process.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { clusterPrefix } from '../src/lab/names.js';
import { waitFor } from '../src/lab/processes.js';
import { IPERF_OMIT, IPERF_SECONDS, iperf, iperfServer, median } from './_net.js';

const ROUNDS = 8;
const PINGS = 40;

interface Endpoint {
  netns: string;
  ip: string;
}
type Path = 'node' | 'pod' | 'ref' | 'vxlan';

/** Median round trip in microseconds over a burst of pings (bounded: count and deadline). */
async function rtt(from: Endpoint, to: Endpoint): Promise<number> {
  const r = await execInNetns(from.netns, [
    'ping',
    '-c',
    String(PINGS),
    '-i',
    '0.01',
    '-W',
    '1',
    '-w',
    '5',
    to.ip,
  ]);
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  if (times.length === 0)
    throw new Error(`ping ${to.ip} from ${from.netns} got no reply: ${r.stdout}${r.stderr}`);
  return median(times);
}

/** A point-to-point VXLAN between the two nodes (over the VNet) and /32 routes sending the pods' traffic into it. */
async function vxlan(a: Endpoint, b: Endpoint, podA: string, podB: string, on: boolean): Promise<void> {
  const op = on ? 'add' : 'del';
  await ipBatch([`route ${op} ${podB}/32 via 10.99.99.2 dev pnbvx`], a.netns);
  await ipBatch([`route ${op} ${podA}/32 via 10.99.99.1 dev pnbvx`], b.netns);
}

async function buildVxlan(a: Endpoint, b: Endpoint): Promise<void> {
  for (const [self, peer, addr] of [
    [a, b, '10.99.99.1/30'],
    [b, a, '10.99.99.2/30'],
  ] as const) {
    await ipBatch(
      [
        `link add pnbvx type vxlan id 4242 dstport 4789 local ${self.ip} remote ${peer.ip} dev eth0`,
        `addr add ${addr} dev pnbvx`,
        'link set pnbvx up',
      ],
      self.netns,
    );
  }
}

/**
 * A pod made by the reference CNI plugins (containernetworking ptp + host-local, no masquerade) on `node`, at
 * .250 of the node's block (the block of its podnet pod `podIp`) so the VNet routes it like podnet's pods: the
 * same veth-and-route shape with none of podnet in its plumbing, to tell podnet's cost from what any routed
 * veth pod costs.
 */
async function referencePod(
  node: { netns: string; podIp: string },
  netns: string,
  dataDir: string,
): Promise<Endpoint> {
  const block = cidrOf(4, parseIp(node.podIp).value, BLOCK_PREFIX[4]);
  const at = (offset: number) => formatIp(ipAt(block, offset));
  await ipBatch([`netns add ${netns}`]);
  const r = await execPlugin('/usr/lib/cni/ptp', {
    runIn: node.netns,
    command: 'ADD',
    containerId: netns,
    netns: `/run/netns/${netns}`,
    config: {
      cniVersion: '1.0.0',
      name: 'bench-reference',
      type: 'ptp',
      ipMasq: false,
      ipam: {
        type: 'host-local',
        ranges: [
          [
            {
              subnet: formatCidr(block),
              rangeStart: at(250),
              rangeEnd: at(250),
              gateway: at(254),
            },
          ],
        ],
        routes: [{ dst: '0.0.0.0/0' }],
        dataDir,
      },
    },
  });
  const ip = (r.json?.ips as { address: string }[] | undefined)?.[0]?.address.split('/')[0];
  if (r.code !== 0 || !ip) throw new Error(`ptp ADD in ${node.netns} failed: ${r.stdout}${r.stderr}`);
  return { netns, ip };
}

export default {
  name: 'lab',
  async run(): Promise<string> {
    const name = `bench${randomBytes(2).toString('hex')}`;
    const servers: NetnsProcess[] = [];
    let upMs = 0;
    let downMs = 0;
    const tput: Record<Path, Record<1 | 4, number[]>> = {
      node: { 1: [], 4: [] },
      pod: { 1: [], 4: [] },
      ref: { 1: [], 4: [] },
      vxlan: { 1: [], 4: [] },
    };
    const lat: Record<Path, number[]> = { node: [], pod: [], ref: [], vxlan: [] };
    const dataDir = mkdtempSync(join(tmpdir(), 'podnet-bench-ref-'));
    try {
      let t = performance.now();
      const state = await labUp({ name, nodes: 3, podsPerNode: 10 });
      upMs = performance.now() - t;
      const nodeA = state.nodes.find((n) => n.pool === 'sys');
      const nodeB = state.nodes.find((n) => n.pool === 'user');
      if (!nodeA || !nodeB) throw new Error('the default lab has a sys and a user node');
      // The VXLAN path gets the nodes' second pods: its 1450 MTU leaves a path-MTU exception in the sending
      // pod for ten minutes, which would shrink the routed path's packets if the pods were the same.
      const [pa, va] = state.pods.filter((p) => p.node === nodeA.name);
      const [pb, vb] = state.pods.filter((p) => p.node === nodeB.name);
      if (!pa?.ip || !pb?.ip || !va?.ip || !vb?.ip) throw new Error('pods without addresses');
      const ends: Record<Path, [Endpoint, Endpoint]> = {
        node: [
          { netns: nodeA.netns, ip: nodeA.ip },
          { netns: nodeB.netns, ip: nodeB.ip },
        ],
        pod: [
          { netns: pa.netns, ip: pa.ip },
          { netns: pb.netns, ip: pb.ip },
        ],
        ref: [
          await referencePod({ netns: nodeA.netns, podIp: pa.ip }, `${clusterPrefix(name)}ref-a`, dataDir),
          await referencePod({ netns: nodeB.netns, podIp: pb.ip }, `${clusterPrefix(name)}ref-b`, dataDir),
        ],
        vxlan: [
          { netns: va.netns, ip: va.ip },
          { netns: vb.netns, ip: vb.ip },
        ],
      };
      for (const p of ['node', 'pod', 'ref', 'vxlan'] as const) servers.push(await iperfServer(ends[p][1]));
      await buildVxlan(ends.node[0], ends.node[1]);
      const order: Path[] = ['node', 'pod', 'ref', 'vxlan'];
      // Each measurement is taken on the four paths back to back (rotating which goes first), so the
      // members of a pair are seconds apart and see the same CPU speed as far as possible.
      const measure = async (path: Path, what: (from: Endpoint, to: Endpoint) => Promise<void>) => {
        if (path === 'vxlan')
          await vxlan(ends.node[0], ends.node[1], ends.vxlan[0].ip, ends.vxlan[1].ip, true);
        try {
          await what(...ends[path]);
        } finally {
          if (path === 'vxlan')
            await vxlan(ends.node[0], ends.node[1], ends.vxlan[0].ip, ends.vxlan[1].ip, false);
        }
      };
      for (let r = 0; r < ROUNDS; r++) {
        const paths = order.map((_, k) => order[(r + k) % order.length]);
        for (const p of paths) await measure(p, async (f, t) => void lat[p].push(await rtt(f, t)));
        for (const p of paths)
          await measure(p, async (f, t) => void tput[p][1].push(await iperf(f, t.ip, 1)));
        for (const p of paths)
          await measure(p, async (f, t) => void tput[p][4].push(await iperf(f, t.ip, 4)));
      }
      for (const s of servers.splice(0)) s.kill('SIGKILL');
      t = performance.now();
      await labDown(name);
      downMs = performance.now() - t;
    } finally {
      for (const s of servers) s.kill('SIGKILL');
      await labDown(name).catch(() => {}); // also deletes the reference pods' namespaces (lab prefix)
      rmSync(dataDir, { recursive: true, force: true });
    }
    const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));
    const spread = (a: number[], b: number[]) =>
      a
        .map((x, i) => x / b[i])
        .sort((x, y) => x - y)
        .map((r) => r.toFixed(2))
        .join(', ');
    const ratioRow = (label: string, a: Path, b: Path) =>
      `| ${label} | ${ratio(tput[a][1], tput[b][1]).toFixed(2)} | ${ratio(tput[a][4], tput[b][4]).toFixed(2)} | ${ratio(lat[a], lat[b]).toFixed(2)} |`;
    const row = (label: string, p: Path) =>
      `| ${label} | ${median(tput[p][1]).toFixed(2)} | ${median(tput[p][4]).toFixed(2)} | ${median(lat[p]).toFixed(0)} |`;
    return [
      '### Lab: bring-up, tear-down, and the pod network against the node network and VXLAN',
      '',
      '| lab (3 nodes on two subnets, 30 pods through podnet-cni, sqlite store) | seconds |',
      '|---|---|',
      `| \`lab up\` (VNet, fabric router, 3 agents ready, 30 pods) | ${(upMs / 1000).toFixed(1)} |`,
      `| \`lab down\` (30 CNI DELs, agents, namespaces, VNet) | ${(downMs / 1000).toFixed(1)} |`,
      '',
      `Across nodes on different subnets (through the VNet's routing domain); iperf3 TCP ${IPERF_SECONDS} s per run (the first ${IPERF_OMIT} s left out), ${ROUNDS} rounds with the four paths measured back to back, medians:`,
      '',
      '| path | 1 stream Gbit/s | 4 streams Gbit/s | RTT p50 us |',
      '|---|---|---|---|',
      row('node to node', 'node'),
      row('pod to pod, routed (podnet)', 'pod'),
      row('pod to pod, routed (reference ptp plugin pods on the same nodes)', 'ref'),
      row('pod to pod over VXLAN (built by the benchmark)', 'vxlan'),
      '',
      '| ratio (median of per-round ratios) | 1 stream | 4 streams | RTT |',
      '|---|---|---|---|',
      ratioRow('pod / node (target >= 0.95)', 'pod', 'node'),
      ratioRow('reference ptp pod / node (the floor for any routed veth pod)', 'ref', 'node'),
      ratioRow('podnet pod / reference ptp pod', 'pod', 'ref'),
      ratioRow('pod routed / pod over VXLAN (target > 1)', 'pod', 'vxlan'),
      '',
      `Per-round pod / node throughput ratios, sorted (how much this shared machine moves them): 1 stream ${spread(tput.pod[1], tput.node[1])}; 4 streams ${spread(tput.pod[4], tput.node[4])}.`,
    ].join('\n');
  },
};
