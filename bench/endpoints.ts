/**
 * Pod endpoints at AKS's maximum: 5,000 nodes x 250 pods (1.25 M endpoints) in the layout of
 * src/endpoints/record.ts (one key per attachment, on its node's lease). Each part runs in its own process:
 *  - publisher: the agent's real EndpointPublisher over the in-memory versioned store, counting write
 *    transactions per pod start, pod delete and label change on a node that already runs 249 pods;
 *  - etcd: a local etcd this benchmark starts (one member, data on tmpfs), driven through the etcd3 client
 *    with the same keys and values (the etcd backend of the versioned store is not merged yet): load all
 *    1.25 M endpoints (batched, one lease per node), one agent's initial listing, then 100 watchers in one
 *    process (one client, as 100 agents would each hold one watch) that start at the current revision, and
 *    the time until all 100 saw one label change, and until they saw all 250 deletes of a node whose lease
 *    was revoked (a dead node).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Etcd3, type Namespace } from 'etcd3';
import { EndpointPublisher } from '../src/agent/endpoints.js';
import { agentLogger } from '../src/agent/log.js';
import {
  ENDPOINTS_PREFIX,
  type PodEndpoint,
  encodeEndpoint,
  endpointKey,
  nodeEndpointsPrefix,
  podObjectFacts,
  podObjectKey,
} from '../src/endpoints/record.js';
import { FlakyStore } from '../src/endpoints/testing/flaky-store.js';
import type { PodAddress } from '../src/ipam/types.js';
import { startEtcd } from '../src/store/testing/etcd-server.js';

const NODES = 5000;
const PODS_PER_NODE = 250;
const WATCHERS = 100;
const CHANGES = 20;
/** Puts per loading transaction (etcd refuses more than 128 operations in one). */
const LOAD_BATCH = 125;
const LOAD_IN_FLIGHT = 16;
const LIST_PAGE = 10_000;

const ms = () => performance.now();
const peakRss = () => process.resourceUsage().maxRSS / 1024;

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** A realistic endpoint: a 64-hex container id (containerd, podman), a few labels as Deployments carry. */
function endpoint(n: number, p: number, labels?: Record<string, string>): PodEndpoint {
  const hex = (n * PODS_PER_NODE + p).toString(16).padStart(8, '0');
  return {
    node: `aks-nodepool1-${String(n).padStart(8, '0')}-vmss${String(n).padStart(6, '0')}`,
    nodeIp: `10.${224 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`,
    containerId: hex.repeat(8),
    ifname: 'eth0',
    ips: [`10.${64 + (n >> 8)}.${n & 255}.${p + 1}`],
    namespace: `team-${p % 20}`,
    name: `app-${p % 20}-7d9f8c6b5-${hex.slice(-5)}`,
    labels: labels ?? {
      app: `app-${p % 20}`,
      'pod-template-hash': '7d9f8c6b5',
      'app.kubernetes.io/part-of': `team-${p % 20}`,
    },
  };
}

interface PublisherResult {
  podStart: number;
  podDelete: number;
  labelChange: number;
  restart: number;
}

async function publisher(): Promise<PublisherResult> {
  const store = new FlakyStore();
  const pods: PodAddress[] = Array.from({ length: PODS_PER_NODE - 1 }, (_, p) => ({
    ip: `10.64.0.${p + 1}`,
    block: '10.64.0.0/24',
    containerId: `c${p}`,
    ifname: 'eth0',
    podName: `web-${p}`,
    podNamespace: 'shop',
    family: 4 as const,
    allocatedAt: new Date().toISOString(),
  }));
  const opts = {
    store,
    node: 'node-0',
    nodeIp: '10.224.0.4',
    addresses: () => pods,
    log: agentLogger('silent'),
  };
  const pub = new EndpointPublisher(opts);
  pub.start();
  await pub.settled();
  const writes = async (change: () => unknown) => {
    const before = store.writes;
    await change();
    pub.podsChanged();
    await pub.settled();
    await new Promise((r) => setTimeout(r, 10));
    await pub.settled();
    return store.writes - before;
  };
  const podStart = await writes(() => {
    pods.push({ ...pods[0], ip: '10.64.0.250', containerId: 'new', podName: 'web-new' });
  });
  const podDelete = await writes(() => {
    pods.pop();
  });
  const key = 'objects/pods/shop/web-0';
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', labels: { a: 'b' } },
  };
  // The Pod object write is the user's (podnet apply), not the node's: taken off the count.
  const labelChange =
    (await writes(() => store.txn([], [{ type: 'put', key, value: JSON.stringify(pod) }]))) - 1;
  await pub.stop();
  const again = new EndpointPublisher(opts);
  const restart = await writes(() => again.start());
  await again.stop();
  return { podStart, podDelete, labelChange, restart };
}

interface EtcdResult {
  loadS: number;
  loadPerS: number;
  records: number;
  avgRecordBytes: number;
  bytesPerNode: number;
  dbMiB: number;
  listS: number;
  listMiB: number;
  watchSetupMs: number;
  labelP50Ms: number;
  labelP99Ms: number;
  labelMaxMs: number;
  applyP50Ms: number;
  applyP99Ms: number;
  changeBytes: number;
  deadNodeMs: number;
  peakRssMiB: number;
}

async function loadAll(ns: Namespace): Promise<{ leases: string[]; bytes: number }> {
  const leases: string[] = [];
  for (let n = 0; n < NODES; n += 100) {
    const ids = await Promise.all(
      Array.from({ length: Math.min(100, NODES - n) }, () => ns.leaseClient.leaseGrant({ TTL: 36_000 })),
    );
    leases.push(...ids.map((l) => l.ID));
  }
  let bytes = 0;
  const batches: { n: number; from: number }[] = [];
  for (let n = 0; n < NODES; n++)
    for (let p = 0; p < PODS_PER_NODE; p += LOAD_BATCH) batches.push({ n, from: p });
  let next = 0;
  await Promise.all(
    Array.from({ length: LOAD_IN_FLIGHT }, async () => {
      for (let i = next++; i < batches.length; i = next++) {
        const { n, from } = batches[i];
        const puts = [];
        for (let p = from; p < Math.min(PODS_PER_NODE, from + LOAD_BATCH); p++) {
          const e = endpoint(n, p);
          const key = endpointKey(e);
          const value = encodeEndpoint(e);
          bytes += key.length + value.length;
          puts.push(ns.put(key).value(value).lease(leases[n]));
        }
        // etcd3 builds a transaction from a compare; this one always holds.
        await ns
          .if(ENDPOINTS_PREFIX, 'Version', '>', -1)
          .then(...puts)
          .commit();
      }
    }),
  );
  return { leases, bytes };
}

/** One agent's initial listing of every endpoint, in pages (a watch then continues from its revision). */
async function listAll(ns: Namespace): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  let from = ENDPOINTS_PREFIX;
  const end = `${ENDPOINTS_PREFIX.slice(0, -1)}0`; // the key after every `endpoints/...`
  // etcd3's builder cannot start a prefix range at a key, so pages go through the range API (unprefixed).
  for (;;) {
    const res = await ns.kv.range({
      key: Buffer.from(`/bench/${from}`),
      range_end: Buffer.from(`/bench/${end}`),
      limit: LIST_PAGE,
    });
    for (const kv of res.kvs) bytes += kv.key.length + kv.value.length;
    count += res.kvs.length;
    if (!res.more || res.kvs.length === 0) break;
    from = `${res.kvs[res.kvs.length - 1].key.toString().slice('/bench/'.length)}\0`;
  }
  return { count, bytes };
}

async function etcd(): Promise<EtcdResult> {
  const server = await startEtcd();
  const client = new Etcd3({ hosts: server.urls });
  try {
    const ns = client.namespace('/bench/');
    const t0 = ms();
    const { leases, bytes } = await loadAll(ns);
    const loadS = (ms() - t0) / 1000;
    const records = NODES * PODS_PER_NODE;
    const status = await client.maintenance.status();
    const l0 = ms();
    const listed = await listAll(ns);
    const listS = (ms() - l0) / 1000;
    if (listed.count !== records) throw new Error(`listed ${listed.count} endpoints, expected ${records}`);

    // 100 agents' watches, each continuing from the revision its listing was read at: no replay.
    const rev = (await ns.get(ENDPOINTS_PREFIX).exec()).header.revision;
    const w0 = ms();
    const seen: ((key: string, value: string | null) => void)[] = [];
    const watchers = await Promise.all(
      Array.from({ length: WATCHERS }, async (_, i) => {
        const w = await ns
          .watch()
          .prefix(ENDPOINTS_PREFIX)
          .startRevision(String(Number(rev) + 1))
          .create();
        w.on('put', (kv) => seen[i]?.(kv.key.toString(), kv.value.toString()));
        w.on('delete', (kv) => seen[i]?.(kv.key.toString(), null));
        return w;
      }),
    );
    const watchSetupMs = ms() - w0;

    /** Runs `change` and resolves with the ms until every watcher saw `expect` events matching `match`. */
    const untilAllSaw = (
      expect: number,
      match: (key: string, value: string | null) => boolean,
      change: () => Promise<unknown>,
    ) =>
      new Promise<number>((resolve, reject) => {
        let done = 0;
        const counts = new Array<number>(WATCHERS).fill(0);
        const start = ms();
        for (let i = 0; i < WATCHERS; i++) {
          seen[i] = (key, value) => {
            if (!match(key, value) || ++counts[i] !== expect) return;
            if (++done === WATCHERS) resolve(ms() - start);
          };
        }
        change().catch(reject);
      });

    const lat: number[] = [];
    let changeBytes = 0;
    for (let c = 0; c < CHANGES; c++) {
      const e = endpoint(c * 97, c, { ...endpoint(c * 97, c).labels, track: `canary-${c}` });
      const key = endpointKey(e);
      const value = encodeEndpoint(e);
      changeBytes = key.length + value.length;
      lat.push(
        await untilAllSaw(
          1,
          (k, v) => k === key && v === value,
          () =>
            ns
              .put(key)
              .value(value)
              .lease(leases[c * 97])
              .exec(),
        ),
      );
    }
    // The whole path of `podnet apply` changing a Pod's labels: the owning node's agent sees its Pod object
    // change (a watch of that one key, as the publisher holds), puts the endpoint once, the watchers see it.
    const applyLat: number[] = [];
    for (let c = 0; c < CHANGES; c++) {
      const n = c * 89 + 1;
      const base = endpoint(n, c + 1);
      const pod = { namespace: base.namespace as string, name: base.name as string };
      const objKey = podObjectKey(pod);
      const labels = { ...base.labels, track: `apply-${c}` };
      const agent = await ns.watch().key(objKey).create();
      agent.on('put', (kv) => {
        const next = { ...base, labels: podObjectFacts({ key: objKey, value: kv.value.toString() }).labels };
        void ns.put(endpointKey(base)).value(encodeEndpoint(next)).lease(leases[n]).exec();
      });
      const object = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...pod, labels },
        spec: { nodeName: base.node, containers: [{ name: 'main' }] },
      };
      const want = encodeEndpoint({ ...base, labels });
      applyLat.push(
        await untilAllSaw(
          1,
          (k, v) => k === endpointKey(base) && v === want,
          () => ns.put(objKey).value(JSON.stringify(object)).exec(),
        ),
      );
      await agent.cancel();
    }
    // A dead node: its lease ends (revoked here instead of waiting out its TTL) and its 250 keys go.
    const dead = NODES - 1;
    const prefix = nodeEndpointsPrefix(endpoint(dead, 0).node);
    const deadNodeMs = await untilAllSaw(
      PODS_PER_NODE,
      (k, v) => v === null && k.startsWith(prefix),
      () => ns.leaseClient.leaseRevoke({ ID: leases[dead] }),
    );
    await Promise.all(watchers.map((w) => w.cancel()));
    return {
      loadS,
      loadPerS: records / loadS,
      records,
      avgRecordBytes: bytes / records,
      bytesPerNode: bytes / NODES,
      dbMiB: Number(status.dbSize) / 2 ** 20,
      listS,
      listMiB: listed.bytes / 2 ** 20,
      watchSetupMs,
      labelP50Ms: percentile(lat, 50),
      labelP99Ms: percentile(lat, 99),
      labelMaxMs: Math.max(...lat),
      applyP50Ms: percentile(applyLat, 50),
      applyP99Ms: percentile(applyLat, 99),
      changeBytes,
      deadNodeMs,
      peakRssMiB: peakRss(),
    };
  } finally {
    client.close();
    await server.stop();
  }
}

const PARTS: Record<string, () => Promise<unknown>> = { publisher, etcd };

function runPart<T>(name: string): T {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), name], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench part ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

async function run(): Promise<string> {
  const pub = runPart<PublisherResult>('publisher');
  const e = runPart<EtcdResult>('etcd');
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const verdict = (ok: boolean) => (ok ? 'yes' : '**no**');
  return [
    `### Pod endpoints: ${NODES.toLocaleString('en-US')} nodes x ${PODS_PER_NODE} pods`,
    '',
    '| measure | figure | target | met |',
    '|---|---:|---|---|',
    `| store writes per pod start (agent's publisher, node with 249 pods) | ${pub.podStart} | O(1) | ${verdict(pub.podStart === 1)} |`,
    `| store writes per pod delete | ${pub.podDelete} | O(1) | ${verdict(pub.podDelete === 1)} |`,
    `| store writes per label change of a Pod object (the node's, besides the user's own write) | ${pub.labelChange} | O(1) | ${verdict(pub.labelChange === 1)} |`,
    `| store writes when an agent restarts within the lease TTL | ${pub.restart} | 0 | ${verdict(pub.restart === 0)} |`,
    `| load: ${e.records.toLocaleString('en-US')} endpoints, ${LOAD_BATCH} per transaction, ${LOAD_IN_FLIGHT} in flight | ${e.loadS.toFixed(1)} s (${Math.round(e.loadPerS).toLocaleString('en-US')}/s) | (for scale) | |`,
    `| bytes per endpoint record (key + value) | ${e.avgRecordBytes.toFixed(0)} B | | |`,
    `| bytes per node watched (its ${PODS_PER_NODE} endpoints) | ${kib(e.bytesPerNode)} | | |`,
    `| etcd database after loading | ${e.dbMiB.toFixed(0)} MiB | below etcd's 2 GiB default quota | ${verdict(e.dbMiB < 2048)} |`,
    `| one agent's initial listing (once per start; then it watches from that revision) | ${e.listS.toFixed(1)} s, ${e.listMiB.toFixed(0)} MiB | | |`,
    `| bytes each watcher receives per change | ${e.changeBytes} B (+ gRPC framing) | not the node's ${kib(e.bytesPerNode)} | ${verdict(e.changeBytes < e.bytesPerNode / 10)} |`,
    `| ${WATCHERS} watches set up from the current revision (no replay) | ${e.watchSetupMs.toFixed(0)} ms | | |`,
    `| one endpoint put (a label change) reaches all ${WATCHERS} watchers (${CHANGES} changes) | p50 ${e.labelP50Ms.toFixed(1)} ms, p99 ${e.labelP99Ms.toFixed(1)} ms, max ${e.labelMaxMs.toFixed(1)} ms | | |`,
    `| a Pod object's labels changed (as \`podnet apply\` writes it): the owning agent's watch, its one put, all ${WATCHERS} watchers saw it (${CHANGES} changes) | p50 ${e.applyP50Ms.toFixed(1)} ms, p99 ${e.applyP99Ms.toFixed(1)} ms | | |`,
    `| a dead node's lease ends: all ${WATCHERS} watchers saw its ${PODS_PER_NODE} deletes | ${e.deadNodeMs.toFixed(0)} ms | | |`,
    '',
    `The ${WATCHERS} watchers run in one process on one etcd3 client (one gRPC stream), standing in for ${WATCHERS} agents; ` +
      'etcd is one local member with its data on tmpfs, driven through etcd3 directly with the keys and values of ' +
      'src/endpoints/record.ts until the etcd backend of the versioned store is merged. ' +
      `Peak RSS of the etcd part's client process: ${e.peakRssMiB.toFixed(0)} MiB.`,
    '',
    `Load average when the run finished: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')} on ${cpus().length} cores.`,
  ].join('\n');
}

export default { name: 'endpoints', run };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  const part = PARTS[process.argv[2]];
  if (!part) throw new Error(`unknown part ${process.argv[2]}`);
  process.stdout.write(`${JSON.stringify(await part())}\n`);
  process.exit(0);
}
