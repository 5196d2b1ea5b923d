/**
 * Dual-stack costs (issue 12), each against its IPv4-only floor measured in the same run:
 *
 * - CNI ADD/DEL of a dual-stack pod (an IPv4 and an IPv6 address, a second /128 route, the link-local IPv6
 *   gateway) against an IPv4-only pod: two test agents in one throw-away node namespace, pods interleaved
 *   pod by pod. Target: ADD p50 within 1.2x.
 * - Pod-to-pod TCP throughput across nodes on different subnets in a dual-stack lab, over IPv6 against IPv4
 *   between the same two pods, in interleaved rounds (rotating which goes first); the ratio is the median of
 *   per-round ratios. Target: within noise (the IPv4 runs' own spread between rounds).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipBatch } from '../src/kernel/ip.js';
import { type NetnsProcess, spawnInNetns } from '../src/kernel/process.js';
import { defaultLabProfile } from '../src/lab/default-profile.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { netnsScope } from '../src/testing/netns-fixture.js';
import { pct, runDriver, untilReady } from './_cni-run.js';
import { iperf, iperfServer, median } from './_net.js';

const SEQUENTIAL = 100;
const ROUNDS = 8;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function cniAdd(): Promise<string[]> {
  const scope = netnsScope('pds');
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-dual-'));
  const r = 200 + (randomBytes(1)[0] % 50);
  const agents: NetnsProcess[] = [];
  try {
    const node = await scope.add('node');
    await ipBatch([`addr add 172.31.${r}.1/32 dev lo`], node);
    const start = async (socket: string, blocks: string[]) => {
      const [b4, b6] = blocks;
      const args = [here('../src/cni/testing/test-agent-main.js'), socket, b4, '250', ...(b6 ? [b6] : [])];
      const agent = spawnInNetns(node, [process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      agents.push(agent);
      await untilReady(agent);
      return { cniVersion: '1.1.0', name: 'podnet', type: 'podnet-cni', agentSocket: socket };
    };
    const v4 = await start(join(dir, 'v4.sock'), [`10.${r}.1.0/24`]);
    const dual = await start(join(dir, 'dual.sock'), [`10.${r}.2.0/24`, `fd12:${r.toString(16)}::200/120`]);
    const exec = here('../../bin/podnet-cni');
    const t = await runDriver(node, {
      prefix: scope.prefix,
      sequential: SEQUENTIAL,
      burst: 0,
      plugins: [
        { name: 'podnet-cni, IPv4-only pod', exec, config: v4, burst: false },
        { name: 'podnet-cni, dual-stack pod', exec, config: dual, burst: false },
      ],
    });
    const [a, b] = Object.keys(t);
    const f = (ms: number) => ms.toFixed(1);
    const rows = [a, b].map(
      (n) =>
        `| ${n} | ${f(pct(t[n].add, 0.5))} | ${f(pct(t[n].add, 0.95))} | ${f(pct(t[n].del, 0.5))} | ${f(pct(t[n].del, 0.95))} |`,
    );
    const ratio = pct(t[b].add, 0.5) / pct(t[a].add, 0.5);
    const failures = [a, b].flatMap((n) => t[n].failures.slice(0, 3).map((e) => `- ${n}: ${e}`));
    return [
      '#### CNI ADD of a dual-stack pod',
      '',
      `${SEQUENTIAL} sequential pods of each kind, interleaved pod by pod, in one throw-away node namespace (two test agents: one IPv4-only, one dual-stack); milliseconds.`,
      '',
      '| pod | ADD p50 | ADD p95 | DEL p50 | DEL p95 |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      `dual-stack / IPv4-only: ADD p50 **${ratio.toFixed(2)}x** (target <= 1.2x: ${ratio <= 1.2 ? 'met' : 'NOT met'}), DEL p50 ${(pct(t[b].del, 0.5) / pct(t[a].del, 0.5)).toFixed(2)}x.`,
      ...(failures.length > 0 ? ['', 'Failures:', ...failures] : []),
    ];
  } finally {
    for (const agent of agents) if (agent.exitCode === null) agent.kill('SIGTERM');
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(): Promise<string[]> {
  const name = `bds${randomBytes(2).toString('hex')}`;
  const servers: NetnsProcess[] = [];
  const gbps: Record<4 | 6, number[]> = { 4: [], 6: [] };
  try {
    const state = await labUp({
      name,
      profile: defaultLabProfile(name, 0, { dualStack: true }),
      podsPerNode: 1,
    });
    const a = state.pods.find((p) => state.nodes.find((n) => n.name === p.node)?.pool === 'sys');
    const b = state.pods.find((p) => state.nodes.find((n) => n.name === p.node)?.pool === 'user');
    if (!a?.ip || !a.ip6 || !b?.ip || !b.ip6) throw new Error('the dual-stack lab has pods of both families');
    servers.push(await iperfServer(b));
    for (let round = 0; round < ROUNDS; round++) {
      const order: (4 | 6)[] = round % 2 === 0 ? [4, 6] : [6, 4];
      for (const f of order) {
        gbps[f].push(await iperf(a, f === 4 ? b.ip : b.ip6));
      }
    }
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    await labDown(name).catch(() => {});
  }
  const ratios = gbps[6].map((x, i) => x / gbps[4][i]);
  const ratio = median(ratios);
  // The IPv4 runs' own spread: how far one round's IPv4 figure strays from their median.
  const m4 = median(gbps[4]);
  const noise = Math.max(...gbps[4].map((x) => Math.abs(x / m4 - 1)));
  const within = Math.abs(ratio - 1) <= noise;
  const g = (xs: number[]) => median(xs).toFixed(2);
  return [
    '#### IPv6 against IPv4 pod-to-pod throughput',
    '',
    `A dual-stack lab (3 nodes), one pod on a sys node to one on the user node (different subnets, through the VNet's routing domain), iperf3 TCP 1 stream, ${ROUNDS} interleaved rounds; Gbit/s medians:`,
    '',
    '| family | Gbit/s |',
    '|---|---|',
    `| IPv4 | ${g(gbps[4])} |`,
    `| IPv6 | ${g(gbps[6])} |`,
    '',
    `IPv6 / IPv4: **${ratio.toFixed(2)}x** (median of per-round ratios; per round ${ratios
      .map((x) => x.toFixed(2))
      .sort()
      .join(
        ', ',
      )}); the IPv4 rounds stray up to ${(noise * 100).toFixed(0)}% from their median: ${within ? 'within noise (target met)' : 'outside noise (target NOT met)'}.`,
  ];
}

export default {
  name: 'dual-stack',
  async run(): Promise<string> {
    return ['### Dual-stack', '', ...(await cniAdd()), '', ...(await throughput())].join('\n');
  },
};
