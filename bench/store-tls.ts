/**
 * CNI ADD with the store over mutual TLS against the same with a plain store, in one run: two real
 * `podnet agent` processes, each managing its own throw-away node namespace, one on an etcd without TLS and one
 * on an etcd with `--client-cert-auth` (its own client certificate from `podnet store certs`), driven pod by
 * pod in turn through the sh shim. The store is not on the ADD path (the agent answers from its node-local
 * pod IPAM; endpoints are published after), so the ratio should be 1 within noise. The agents reach their etcd
 * on etcd's unix sockets, which every network namespace sees.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipBatch } from '../src/kernel/ip.js';
import { spawnDaemon } from '../src/kernel/process.js';
import { defaultLabProfile } from '../src/lab/default-profile.js';
import { podnetCommand, stopProcess, unixGet, waitFor } from '../src/lab/processes.js';
import { writeStoreCerts } from '../src/store/certs.js';
import { openStore } from '../src/store/open.js';
import { type EtcdCluster, startEtcd } from '../src/store/testing/etcd-server.js';
import { netnsScope } from '../src/testing/netns-fixture.js';
import type { DriverTimings } from './_cni-driver.js';
import { pct, runDriver } from './_cni-run.js';

const SEQUENTIAL = 100;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ARMS = ['plain', 'tls'] as const;
const label = { plain: 'podnet-cni, store plain etcd', tls: 'podnet-cni, store etcd over mutual TLS' };

export default {
  name: 'store-tls',
  async run(): Promise<string> {
    const scope = netnsScope('pt');
    const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-tls-'));
    const etcds: EtcdCluster[] = [];
    const agents: number[] = [];
    try {
      const pki = join(dir, 'pki');
      await writeStoreCerts({
        out: pki,
        servers: [{ name: 'etcd', sans: ['localhost', '127.0.0.1'] }],
        clients: ['node-tls'],
      });
      const plain = await startEtcd();
      etcds.push(plain);
      const tls = await startEtcd({
        tls: { caFile: join(pki, 'ca.crt'), certFile: join(pki, 'etcd.crt'), keyFile: join(pki, 'etcd.key') },
      });
      etcds.push(tls);
      const url = {
        plain: `etcd:${plain.members[0].socketUrl}`,
        tls: `etcd:${tls.members[0].socketUrl}?credentials=${join(pki, 'node-tls.yaml')}`,
      };
      const sockets = { plain: join(dir, 'plain.sock'), tls: join(dir, 'tls.sock') };
      const netns: Record<string, string> = {};
      for (const [i, arm] of ARMS.entries()) {
        const store = await openStore(url[arm]);
        await store.putCluster(defaultLabProfile(`bench${arm}`), 0);
        await store.close();
        netns[arm] = await scope.add(arm);
        const nodeIp = `10.224.0.${4 + i}`;
        await ipBatch([`addr add ${nodeIp}/32 dev lo`, 'link set lo up'], netns[arm]);
        agents.push(
          spawnDaemon(
            [
              ...podnetCommand(),
              'agent',
              '--store',
              url[arm],
              '--node',
              `bench-${arm}`,
              '--node-ip',
              nodeIp,
              '--pool',
              'sys',
              '--netns',
              netns[arm],
              '--socket',
              sockets[arm],
              '--state-dir',
              join(dir, `${arm}-state`),
              '--metrics-socket',
              join(dir, `${arm}.metrics`),
              '--peer-routes',
              'off',
            ],
            { logFile: join(dir, `${arm}.log`), netns: netns[arm] },
          ),
        );
      }
      for (const arm of ARMS)
        await waitFor(`the ${arm} agent to be ready`, 30_000, async () =>
          (await unixGet(sockets[arm], '/readyz').catch(() => ({ status: 0 }))).status === 200
            ? true
            : undefined,
        );
      const t = await runDriver(netns.plain, {
        prefix: scope.prefix,
        sequential: SEQUENTIAL,
        burst: 0,
        plugins: ARMS.map((arm) => ({
          name: label[arm],
          exec: here('../../bin/podnet-cni'),
          config: { cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni', agentSocket: sockets[arm] },
          burst: false,
        })),
      });
      return render(t);
    } finally {
      for (const pid of agents) await stopProcess(pid, dir).catch(() => {});
      for (const e of etcds) await e.stop();
      await scope.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function render(t: DriverTimings): string {
  const f = (ms: number) => ms.toFixed(1);
  const rows = ARMS.map((arm) => {
    const x = t[label[arm]];
    return `| ${label[arm]} | ${f(pct(x.add, 0.5))} | ${f(pct(x.add, 0.95))} | ${f(pct(x.del, 0.5))} | ${f(pct(x.del, 0.95))} |`;
  });
  const ratio = (q: number, k: 'add' | 'del') =>
    (pct(t[label.tls][k], q) / pct(t[label.plain][k], q)).toFixed(2);
  const failures = ARMS.flatMap((arm) => t[label[arm]].failures.slice(0, 3).map((e) => `- ${arm}: ${e}`));
  return [
    '### CNI ADD with the store over mutual TLS',
    '',
    `${SEQUENTIAL} pods per arm, the two agents driven pod by pod in turn through the sh shim; each agent on its own etcd (unix socket), one plain, one with client-certificate auth; milliseconds.`,
    '',
    '| arm | ADD p50 | ADD p95 | DEL p50 | DEL p95 |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `TLS / plain: ADD p50 **${ratio(0.5, 'add')}x**, ADD p95 ${ratio(0.95, 'add')}x, DEL p50 ${ratio(0.5, 'del')}x (target: 1 within noise; the store is not on the ADD path).`,
    ...(failures.length > 0 ? ['', 'Failures:', ...failures] : []),
  ].join('\n');
}
