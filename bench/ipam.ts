/**
 * IPAM at AKS's maximum: 5,000 nodes each claiming a /24 block and 250 pod addresses on each (1.25 M pod
 * allocations). Each part runs in its own child process so its peak RSS is its own:
 *  - in-process: the block policy over the in-memory store + the pod address policy (target: all in < 2 s);
 *  - sqlite: 5,000 block claims through the SQLite cluster store (target: p99 < 1 ms per claim), plus pod
 *    addresses through node-local files for a sample of 20 nodes (the pod path never touches the cluster store);
 *  - etcd: a local etcd this benchmark starts, 5,000 node joins with 50 at once through one client (target:
 *    < 10 s in all, p99 < 50 ms per join), a cold and a warm round, next to a baseline in the same run: the
 *    bare etcd3 transaction a join commits, with nothing of podnet around it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Etcd3 } from 'etcd3';
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
    const base = Number(parseCidr((await store.claimBlock(req(n))).block).network);
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

/** 50 workers share one client and run `op` over NODES indices, 50 in flight; latency per op. */
async function fiftyAtOnce(op: (i: number) => Promise<unknown>) {
  const lat: number[] = [];
  let next = 0;
  const t0 = ms();
  await Promise.all(
    Array.from({ length: ETCD_CONCURRENCY }, async () => {
      for (let n = next++; n < NODES; n = next++) {
        const s = ms();
        await op(n);
        lat.push(ms() - s);
      }
    }),
  );
  return { totalMs: ms() - t0, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
}

/**
 * Node joins through the etcd store, in two rounds in one process against one local member: `cold` is the
 * first burst of a fresh process (the client and V8 still warming up), `warm` the same burst into a second
 * cluster right after.
 */
async function etcd(): Promise<PartResult[]> {
  const server = await startEtcd();
  try {
    const results: PartResult[] = [];
    for (const round of ['cold', 'warm']) {
      const store = await openStore(server.storeUrl());
      await store.putCluster(testProfile(POD_CIDR), 0);
      const run = await fiftyAtOnce((n) => store.claimBlock(req(n)));
      const blocks = await store.listBlocks();
      await store.close();
      if (blocks.length !== NODES || new Set(blocks.map((b) => b.block)).size !== NODES) {
        throw new Error(`etcd run: ${blocks.length} leases, expected ${NODES} distinct`);
      }
      results.push({
        part: `podnet etcd store, ${round} (1 local member, data on tmpfs)`,
        work: `${NODES} node joins, ${ETCD_CONCURRENCY} at once`,
        ops: NODES,
        ...run,
        peakRssMiB: peakRss(),
      });
    }
    return results;
  } finally {
    await server.stop();
  }
}

/**
 * The floor under a join: the same etcd3 client sending the transaction a join commits (three compares,
 * two puts on a lease, two reads on failure) with nothing of podnet around it, in the same two rounds.
 */
async function etcdBaseline(): Promise<PartResult[]> {
  const server = await startEtcd();
  const client = new Etcd3({ hosts: server.urls });
  try {
    const results: PartResult[] = [];
    for (const round of ['cold', 'warm']) {
      const ns = client.namespace(`/baseline-${round}/`);
      await ns.put('cluster').value('{}');
      const cluster = (await ns.get('cluster').exec()).kvs[0].mod_revision;
      const lease = (await ns.leaseClient.leaseGrant({ TTL: 4000 })).ID;
      const run = await fiftyAtOnce(async (n) => {
        const row = JSON.stringify({ ...req(n), block: `10.${n >> 8}.${n & 255}.0/24`, at: Date.now() });
        const res = await ns
          .if(`blocks/${n}`, 'Create', '==', 0)
          .and(`nodes/${n}`, 'Create', '==', 0)
          .and('cluster', 'Mod', '==', cluster)
          .then(ns.put(`blocks/${n}`).value(row).lease(lease), ns.put(`nodes/${n}`).value(row).lease(lease))
          .else(ns.get(`nodes/${n}`), ns.get('cluster'))
          .commit();
        if (!res.succeeded) throw new Error(`baseline transaction ${n} failed`);
      });
      results.push({
        part: `baseline: bare etcd3 transaction of a join, ${round}`,
        work: `${NODES} transactions, ${ETCD_CONCURRENCY} at once`,
        ops: NODES,
        ...run,
        peakRssMiB: peakRss(),
      });
    }
    return results;
  } finally {
    client.close();
    await server.stop();
  }
}

const PARTS: Record<string, () => Promise<PartResult | PartResult[]>> = {
  inProcess,
  sqlite,
  etcd,
  etcdBaseline,
};

function runPart<T = PartResult>(name: string): T {
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
  const [cold, warm] = runPart<PartResult[]>('etcd');
  const [baseCold, baseWarm] = runPart<PartResult[]>('etcdBaseline');
  const pod = sql.extra as PartResult;
  const verdict = (ok: boolean) => (ok ? 'yes' : '**no**');
  const rows: [PartResult, string, string][] = [
    [mem, '1.25 M in < 2 s', verdict(mem.totalMs < 2000)],
    [sql, 'claim p99 < 1 ms', verdict((sql.p99Ms ?? 1e9) < 1)],
    [pod, '(none; for scale)', ''],
    ...[cold, warm].map((r): [PartResult, string, string] => [
      r,
      '< 10 s, p99 < 50 ms',
      `${verdict(r.totalMs < 10_000)} (total); ${verdict((r.p99Ms ?? 1e9) < 50)} (p99)`,
    ]),
    [baseCold, '(floor for the row above)', ''],
    [baseWarm, '(floor for the row above)', ''],
  ];
  const vsBase = (r: PartResult, b: PartResult) =>
    `total ${(r.totalMs / b.totalMs).toFixed(2)}x, p50 ${((r.p50Ms ?? 0) / (b.p50Ms ?? 1)).toFixed(2)}x, p99 ${((r.p99Ms ?? 0) / (b.p99Ms ?? 1)).toFixed(2)}x`;
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
    `etcd join / bare transaction, same run: cold ${vsBase(cold, baseCold)}; warm ${vsBase(warm, baseWarm)}.`,
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
