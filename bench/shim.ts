/**
 * The shim's time for a large config beside a small one (issue 14, Speed): a GC call (cniVersion 1.1.0) whose
 * `cni.dev/valid-attachments` come first, as Go's libcni sorts keys, with 1 KB and with 1 MiB of config, through
 * the installed shim to the real agent handler (a node namespace of its own, an empty pod IPAM). The floor, in
 * the same run: the same two requests POSTed straight to the agent from this process (no sh, head or nc).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shimFor } from '../src/cni/testing/exec-plugin.js';
import { gcConfigOfSize } from '../src/cni/testing/gc-config.js';
import { startTestAgent } from '../src/cni/testing/test-agent.js';
import { openPodIpam } from '../src/ipam/pod-ipam.js';
import { execInNetns } from '../src/kernel/process.js';
import { netnsScope } from '../src/testing/netns-fixture.js';

const RUNS = 30;

function post(socketPath: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path: '/v1/cni', method: 'POST', headers: { 'x-cni-command': 'GC' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export default {
  name: 'shim',
  async run(): Promise<string> {
    const scope = netnsScope('ps');
    const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-shim-'));
    try {
      const node = await scope.add('node');
      const agent = await startTestAgent({
        socket: join(dir, 'agent.sock'),
        nodeName: 'bench-node',
        nodeNetns: node,
        ipam: openPodIpam({ path: join(dir, 'pod-ipam.db'), block: '10.251.1.0/24', maxPods: 250 }),
        podCidrs: ['10.251.0.0/16'],
      });
      try {
        const shim = shimFor(agent.socket);
        const sizes = { '1 KB': gcConfigOfSize(1024), '1 MiB': gcConfigOfSize(1 << 20) };
        const t: Record<string, { shim: number[]; agent: number[] }> = {};
        for (const [k, conf] of Object.entries(sizes)) {
          writeFileSync(join(dir, `${k}.json`), conf);
          t[k] = { shim: [], agent: [] };
        }
        // Interleaved, so a busy moment of the machine hits both sizes alike.
        for (let i = 0; i < RUNS; i++) {
          for (const [k, conf] of Object.entries(sizes)) {
            let s = performance.now();
            const r = await execInNetns(
              null,
              ['sh', '-c', 'exec "$0" < "$1"', shim, join(dir, `${k}.json`)],
              {
                env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'GC' },
              },
            );
            t[k].shim.push(performance.now() - s);
            if (r.code !== 0) throw new Error(`shim GC with ${k} failed: ${r.stdout}`);
            s = performance.now();
            const status = await post(agent.socket, conf);
            t[k].agent.push(performance.now() - s);
            if (status !== 200) throw new Error(`agent GC with ${k} answered ${status}`);
          }
        }
        const row = (k: string) =>
          `| ${k} (${sizes[k as keyof typeof sizes].length} bytes) | ${p50(t[k].shim).toFixed(1)} | ${p50(t[k].agent).toFixed(1)} |`;
        const ratio = (w: 'shim' | 'agent') => (p50(t['1 MiB'][w]) / p50(t['1 KB'][w])).toFixed(2);
        return [
          '### CNI shim: 1 MiB config beside 1 KB',
          '',
          `GC (1.1.0) with the attachment list first, through the installed shim (stdin from a file) to the real handler; p50 of ${RUNS} interleaved runs, milliseconds. Floor: the same request POSTed straight to the agent from the benchmark process.`,
          '',
          '| config | shim + agent p50 | straight to the agent p50 |',
          '|---|---|---|',
          row('1 KB'),
          row('1 MiB'),
          '',
          `1 MiB / 1 KB: shim **${ratio('shim')}x** (target: within 2x), straight to the agent ${ratio('agent')}x.`,
        ].join('\n');
      } finally {
        await agent.close();
      }
    } finally {
      await scope.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
