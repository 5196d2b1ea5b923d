/**
 * IPAM at AKS's maximum: 5,000 nodes each claiming a /24 block and 250 pod addresses on each (1.25 M pod
 * allocations). Each part runs in its own child process so its peak RSS is its own:
 *  - in-process: the block policy over the in-memory store + the pod address policy (target: all in < 2 s);
 *  - sqlite: 5,000 block claims through the SQLite cluster store (target: p99 < 1 ms per claim), plus pod
 *    addresses through node-local files for a sample of 20 nodes (the pod path never touches the cluster store);
 *  - etcd: a local etcd this benchmark starts, 5,000 node joins with 50 clients at once (target: < 10 s in
 *    all, p99 < 50 ms per join).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCidr } from '../src/addr/index.js';
import { nextFreeOffset } from '../src/ipam/addresses.js';
import { openPodIpam } from '../src/ipam/pod-ipam.js';
import { MemoryStore } from '../src/store/memory.js';
import { openStore } from '../src/store/open.js';
import { startEtcd } from '../src/store/testing/etcd-server.js';
import { testProfile } from '../src/store/testing/profile.js';
import type { ClaimRequest } from '../src/store/types.js';

const NODES = 5000;
const PODS_PER_NODE = 250;
const POD_CIDR = '10.64.0.0/11'; // 8,192 blocks: room for 5,000 nodes
const ETCD_CONCURRENCY = 50;
const SQLITE_POD_SAMPLE_NODES = 20;

interface PartResult {
  part: string;
  work: string;
  ops: number;
  totalMs: number;
  p50Ms?: number;
  p99Ms?: number;
  peakRssMiB: number;
  extra?: PartResult;
}

const req = (i: number): ClaimRequest => ({
  nodeName: `node-${i}`,
  nodeIp: '10.224.0.4',
  pool: 'pool1',
  maxPods: 250,
  ttlSeconds: 3600,
});

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const peakRss = () => process.resourceUsage().maxRSS / 1024;
const ms = () => performance.now();

async function inProcess(): Promise<PartResult> {
  const store = new MemoryStore();
  await store.putCluster(testProfile(POD_CIDR), 0);
  const addresses = new Uint32Array(NODES * PODS_PER_NODE);
  const used = new Uint8Array(256);
  const t0 = ms();
  for (let n = 0; n < NODES; n++) {
    const base = Number(parseCidr(store.claimSync(req(n)).block).network);
    used.fill(0);
    let cursor = 0;
    for (let p = 0; p < PODS_PER_NODE; p++) {
      const offset = nextFreeOffset((o) => used[o] === 1, cursor) as number;
      used[offset] = 1;
      cursor = offset;
      addresses[n * PODS_PER_NODE + p] = base + offset;
    }
  }
  const totalMs = ms() - t0;
  if (new Set(addresses).size !== addresses.length)
    throw new Error('duplicate address in the in-process run');
  return {
    part: 'in-process (policy + memory store)',
    work: `${NODES} block claims + ${NODES * PODS_PER_NODE} pod addresses`,
    ops: NODES * PODS_PER_NODE,
    totalMs,
    peakRssMiB: peakRss(),
  };
}

async function sqlite(): Promise<PartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-'));
  try {
    const store = await openStore(`sqlite:${join(dir, 'cluster.db')}`);
    await store.putCluster(testProfile(POD_CIDR), 0);
    const lat: number[] = [];
    const t0 = ms();
    for (let n = 0; n < NODES; n++) {
      const s = ms();
      await store.claimBlock(req(n));
      lat.push(ms() - s);
    }
    const totalMs = ms() - t0;
    const blocks = await store.listBlocks();
    await store.close();
    if (new Set(blocks.map((b) => b.block)).size !== NODES)
      throw new Error('sqlite run handed out a block twice');
    const podLat: number[] = [];
    const p0 = ms();
    for (const lease of blocks.slice(0, SQLITE_POD_SAMPLE_NODES)) {
      const ipam = openPodIpam({
        path: join(dir, lease.nodeName, 'pod-ipam.db'),
        block: lease.block,
        maxPods: PODS_PER_NODE,
      });
      for (let p = 0; p < PODS_PER_NODE; p++) {
        const s = ms();
        ipam.allocate({ containerId: `c${p}`, ifname: 'eth0' });
        podLat.push(ms() - s);
      }
      ipam.close();
    }
    const podMs = ms() - p0;
    return {
      part: 'sqlite cluster store',
      work: `${NODES} block claims, one after another, ${NODES} leases at the end`,
      ops: NODES,
      totalMs,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      peakRssMiB: peakRss(),
      extra: {
        part: 'sqlite node-local pod IPAM',
        work: `${SQLITE_POD_SAMPLE_NODES} nodes x ${PODS_PER_NODE} pod addresses (sample; each node has its own file)`,
        ops: podLat.length,
        totalMs: podMs,
        p50Ms: percentile(podLat, 50),
        p99Ms: percentile(podLat, 99),
        peakRssMiB: peakRss(),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `clients` etcd clients share the 50 joins in flight: 50 = one per joining host (all in this one process, so
 * each join's watch event is decoded 50 times here); 1 = one client with 50 joins in flight.
 */
async function etcd(clients: number): Promise<PartResult> {
  const server = await startEtcd();
  try {
    const url = server.storeUrl();
    const admin = await openStore(url);
    await admin.putCluster(testProfile(POD_CIDR), 0);
    const stores = await Promise.all(Array.from({ length: clients }, () => openStore(url)));
    const lat: number[] = [];
    let next = 0;
    const t0 = ms();
    await Promise.all(
      Array.from({ length: ETCD_CONCURRENCY }, async (_, k) => {
        const c = stores[k % clients];
        for (let n = next++; n < NODES; n = next++) {
          const s = ms();
          await c.claimBlock(req(n));
          lat.push(ms() - s);
        }
      }),
    );
    const totalMs = ms() - t0;
    const blocks = await admin.listBlocks();
    await Promise.all([admin, ...stores].map((c) => c.close()));
    if (blocks.length !== NODES || new Set(blocks.map((b) => b.block)).size !== NODES) {
      throw new Error(`etcd run: ${blocks.length} leases, expected ${NODES} distinct`);
    }
    return {
      part: `etcd cluster store (1 local member, data on tmpfs), ${clients === 1 ? 'one client' : `${clients} clients`}`,
      work: `${NODES} node joins, ${ETCD_CONCURRENCY} at once`,
      ops: NODES,
      totalMs,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      peakRssMiB: peakRss(),
    };
  } finally {
    await server.stop();
  }
}

const PARTS: Record<string, () => Promise<PartResult>> = {
  inProcess,
  sqlite,
  etcd: () => etcd(ETCD_CONCURRENCY),
  etcdOneClient: () => etcd(1),
};

function runPart(name: string): PartResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench part ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

const rate = (r: PartResult) => Math.round(r.ops / (r.totalMs / 1000)).toLocaleString('en-US');

async function run(): Promise<string> {
  const mem = runPart('inProcess');
  const sql = runPart('sqlite');
  const et = runPart('etcd');
  const et1 = runPart('etcdOneClient');
  const pod = sql.extra as PartResult;
  const verdict = (ok: boolean) => (ok ? 'yes' : '**no**');
  const rows: [PartResult, string, string][] = [
    [mem, '1.25 M in < 2 s', verdict(mem.totalMs < 2000)],
    [sql, 'claim p99 < 1 ms', verdict((sql.p99Ms ?? 1e9) < 1)],
    [pod, '(none; for scale)', ''],
    ...[et, et1].map((r): [PartResult, string, string] => [
      r,
      '< 10 s, p99 < 50 ms',
      `${verdict(r.totalMs < 10_000)} (total); ${verdict((r.p99Ms ?? 1e9) < 50)} (p99)`,
    ]),
  ];
  const cell = (v: number | undefined, unit: string, digits = 3) =>
    v === undefined ? '' : `${v.toFixed(digits)} ${unit}`;
  return [
    '### IPAM: 5,000 nodes x 250 pods',
    '',
    '| allocator | work | total | per second | p50 | p99 | peak RSS | target | met |',
    '|---|---|---:|---:|---:|---:|---:|---|---|',
    ...rows.map(
      ([r, target, met]) =>
        `| ${r.part} | ${r.work} | ${cell(r.totalMs / 1000, 's', 2)} | ${rate(r)} | ${cell(r.p50Ms, 'ms')} | ${cell(r.p99Ms, 'ms')} | ${cell(r.peakRssMiB, 'MiB', 0)} | ${target} | ${met} |`,
    ),
    '',
    'Per second counts pod addresses for the in-process row, block claims (node joins) for the store rows. ' +
      `Pod addresses never go through the cluster store; the sqlite pod IPAM row is a ${SQLITE_POD_SAMPLE_NODES}-node sample of the node-local path. ` +
      'p50/p99 are wall-clock latencies per request, so they include time spent waiting for a core on a shared machine.',
    '',
    `Load average when the run finished: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')} on ${cpus().length} cores.`,
  ].join('\n');
}

export default { name: 'ipam', run };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  const part = PARTS[process.argv[2]];
  if (!part) throw new Error(`unknown part ${process.argv[2]}`);
  process.stdout.write(`${JSON.stringify(await part())}\n`);
  process.exit(0);
}
