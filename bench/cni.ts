/**
 * CNI ADD/DEL latency of podnet-cni (sh shim → warm agent) against the reference chain ptp + host-local from
 * Debian's containernetworking-plugins, measured in the same run in the same throw-away node namespace; plus
 * the same podnet request through a Node.js forwarder, the design podnet did not choose.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPodIpam } from '../src/ipam/pod-ipam.js';
import { ipBatch } from '../src/kernel/ip.js';
import { type NetnsProcess, spawnInNetns } from '../src/kernel/process.js';
import { netnsScope } from '../src/testing/netns-fixture.js';
import type { DriverTimings } from './_cni-driver.js';
import { pct, runDriver, untilReady } from './_cni-run.js';

const SEQUENTIAL = 100;
const BURST = 250;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default {
  name: 'cni',
  async run(): Promise<string> {
    const scope = netnsScope('pb');
    const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-cni-'));
    const r = 200 + (randomBytes(1)[0] % 50);
    let agent: NetnsProcess | undefined;
    try {
      const node = await scope.add('node');
      await ipBatch([`addr add 172.31.${r}.1/32 dev lo`], node);
      const socket = join(dir, 'agent.sock');
      // The agent serves from inside the node namespace, as `podnet agent --netns` does.
      agent = spawnInNetns(
        node,
        [process.execPath, here('../src/cni/testing/test-agent-main.js'), socket, `10.${r}.1.0/24`, '250'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await untilReady(agent);
      const podnet = { cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni', agentSocket: socket };
      const ptp = {
        cniVersion: '1.0.0',
        name: 'bench-ptp',
        type: 'ptp',
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: `10.${r}.2.0/24` }]],
          dataDir: join(dir, 'host-local'),
        },
      };
      const t = await runDriver(node, {
        prefix: scope.prefix,
        sequential: SEQUENTIAL,
        burst: BURST,
        plugins: [
          {
            name: 'podnet-cni (sh shim + agent)',
            exec: here('../../bin/podnet-cni'),
            config: podnet,
            burst: true,
          },
          { name: 'ptp + host-local (reference)', exec: '/usr/lib/cni/ptp', config: ptp, burst: true },
          {
            name: 'Node.js forwarder + agent (not chosen)',
            exec: [process.execPath, here('./_node-forwarder.js')],
            config: podnet,
            burst: false,
          },
        ],
      });
      // Every pod was DELeted: the agent's pod IPAM must be empty again.
      const stopped = new Promise((resolve) => agent?.once('exit', resolve));
      agent.kill('SIGTERM');
      await stopped;
      const ipam = openPodIpam({ path: `${socket}.pod-ipam.db`, block: `10.${r}.1.0/24`, maxPods: 250 });
      const held = ipam.list();
      ipam.close();
      return render(
        t,
        held.map((a) => `${a.containerId}/${a.ifname} ${a.ip}`),
      );
    } finally {
      if (agent?.pid && agent.exitCode === null) agent.kill('SIGTERM');
      await scope.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function render(t: DriverTimings, heldAfter: string[]): string {
  const names = Object.keys(t);
  const [podnet, ref] = names;
  const f = (ms: number | undefined) => (ms === undefined ? '-' : ms.toFixed(1));
  const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
  const rows = names.map((n) => {
    const x = t[n];
    return `| ${n} | ${f(pct(x.add, 0.5))} | ${f(pct(x.add, 0.95))} | ${f(Math.max(...x.add))} | ${f(pct(x.del, 0.5))} | ${f(pct(x.del, 0.95))} | ${f(Math.max(...x.del))} | ${s(x.burstAdd)} | ${s(x.burstDel)} |`;
  });
  const ratio = (q: number, k: 'add' | 'del') => (pct(t[podnet][k], q) / pct(t[ref][k], q)).toFixed(2);
  const burstRatio = ((t[podnet].burstAdd ?? 0) / (t[ref].burstAdd ?? 1)).toFixed(2);
  const failures = [
    ...names.flatMap((n) => t[n].failures.slice(0, 3).map((e) => `- ${n}: ${e}`)),
    ...(heldAfter.length > 0
      ? [`- podnet addresses still held after every DEL: ${heldAfter.join(', ')}`]
      : []),
  ];
  const addRatio = Number(ratio(0.5, 'add'));
  return [
    '### CNI plugin latency',
    '',
    `${SEQUENTIAL} sequential pods (plugins interleaved pod by pod), then ${BURST} pods at once, in one throw-away node namespace; milliseconds unless noted.`,
    '',
    '| plugin | ADD p50 | ADD p95 | ADD max | DEL p50 | DEL p95 | DEL max | 250 ADD at once (s) | 250 DEL at once (s) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `podnet-cni / reference: ADD p50 **${ratio(0.5, 'add')}x** (target <= 1.5x: ${addRatio <= 1.5 ? 'met' : 'NOT met'}), ADD p95 ${ratio(0.95, 'add')}x, DEL p50 ${ratio(0.5, 'del')}x, 250 at once ${burstRatio}x.`,
    ...(failures.length > 0 ? ['', 'Failures:', ...failures] : []),
  ].join('\n');
}
