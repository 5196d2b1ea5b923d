/**
 * The versioned store, each backend in one run: 10,000 object writes (create-if-absent transactions of JSON
 * values of about 300 bytes, 16 in flight) while one watch on the prefix sees every one of them. Reported:
 * writes per second, and the watch lag (commit acknowledged -> watcher told) p50/p99, next to the bare
 * backend operation in the same run as the floor: a better-sqlite3 insert in its own BEGIN IMMEDIATE on a
 * WAL file, and an etcd3 put (with a bare etcd3 watch for the lag). Each part runs in its own child process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { openVersionedStore } from '../src/store/open.js';
import { startEtcd } from '../src/store/testing/etcd-server.js';
import { createKey } from '../src/store/versioned.js';

const WRITES = 10_000;
const IN_FLIGHT = 16;

interface PartResult {
  part: string;
  writes: number;
  totalMs: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
}

const ms = () => performance.now();

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** A Pod-like object of about 300 bytes of JSON. */
function object(i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-${i}`,
      namespace: 'default',
      uid: `0b7c6a2e-4f1d-4c3b-9a8e-${String(i).padStart(12, '0')}`,
      resourceVersion: String(i),
      labels: { app: 'web', tier: 'frontend', shard: String(i % 16) },
    },
    spec: { nodeName: `node-${i % 5000}`, containers: [{ name: 'web', image: 'nginx:1.27' }] },
    status: { podIP: `10.244.${(i >> 8) & 255}.${i & 255}`, hostIP: '10.224.0.4', phase: 'Running' },
  });
}

/** Runs `op` over WRITES indices, IN_FLIGHT at once; returns each write's acknowledgement time. */
async function writeAll(op: (i: number) => Promise<unknown>): Promise<{ totalMs: number; acked: number[] }> {
  const acked = new Array<number>(WRITES);
  let next = 0;
  const t0 = ms();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < WRITES; i = next++) {
        await op(i);
        acked[i] = ms();
      }
    }),
  );
  return { totalMs: ms() - t0, acked };
}

/** Waits until the watcher saw every key; the lag of each is seen - acknowledged (never below 0). */
async function lags(seen: number[], acked: number[]): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  while (seen.filter((t) => t !== undefined).length < WRITES) {
    if (Date.now() > deadline) throw new Error('the watch did not see every write within 60 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  return acked.map((a, i) => Math.max(0, seen[i] - a));
}

const indexOf = (key: string) => Number(key.slice(key.lastIndexOf('-') + 1));

async function backend(url: string, part: string): Promise<PartResult> {
  const store = await openVersionedStore(url);
  try {
    const seen = new Array<number>(WRITES);
    const stop = await store.watch('objects/', (u) => {
      const now = ms();
      if (u.type === 'events') for (const e of u.events) if (e.type === 'put') seen[indexOf(e.kv.key)] = now;
    });
    const { totalMs, acked } = await writeAll((i) =>
      createKey(store, `objects/v1/pods/default/web-${i}`, object(i)),
    );
    const lag = await lags(seen, acked);
    stop();
    return { part, writes: WRITES, totalMs, lagP50Ms: percentile(lag, 50), lagP99Ms: percentile(lag, 99) };
  } finally {
    await store.close();
  }
}

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-store-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function withEtcd<T>(fn: (urls: string[], storeUrl: string) => Promise<T>): Promise<T> {
  const server = await startEtcd();
  try {
    return await fn(server.urls, server.storeUrl());
  } finally {
    await server.stop();
  }
}

/** Absolute time in ms, comparable between the processes of one host. */
const wall = () => performance.timeOrigin + performance.now();

/**
 * The sqlite store as it is used: the writer (the CLI) in one process, the watcher (an agent) in another,
 * which learns of commits by polling. The child prints `ready`, then the wall time it saw each write.
 */
async function sqliteAcrossProcesses(dir: string): Promise<PartResult> {
  const url = `sqlite:${join(dir, 'store.db')}`;
  const store = await openVersionedStore(url);
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'watchChild', url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise<void>((resolve) =>
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.startsWith('ready\n')) resolve();
    }),
  );
  const done = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await ready;
  const { totalMs, acked } = await writeAll(async (i) => {
    await createKey(store, `objects/v1/pods/default/web-${i}`, object(i));
    // The acknowledgement in wall time, for the lag measured in the other process.
    return undefined;
  });
  const ackedWall = acked.map((t) => t + performance.timeOrigin);
  await store.close();
  await done;
  const seen = JSON.parse(out.slice('ready\n'.length)) as number[];
  const lag = await lags(seen, ackedWall);
  return {
    part: 'podnet sqlite store (watcher in another process)',
    writes: WRITES,
    totalMs,
    lagP50Ms: percentile(lag, 50),
    lagP99Ms: percentile(lag, 99),
  };
}

async function watchChild(url: string): Promise<void> {
  const store = await openVersionedStore(url);
  const seen = new Array<number>(WRITES);
  let count = 0;
  const alive = setInterval(() => {}, 1000); // the store's poll timer does not keep a process alive
  await new Promise<void>((resolve) => {
    store
      .watch('objects/', (u) => {
        const now = wall();
        if (u.type !== 'events') return;
        for (const e of u.events) {
          if (e.type === 'put' && seen[indexOf(e.kv.key)] === undefined) {
            seen[indexOf(e.kv.key)] = now;
            if (++count === WRITES) resolve();
          }
        }
      })
      .then(() => process.stdout.write('ready\n'));
  });
  clearInterval(alive);
  await store.close();
  // Written out before the exit: a pipe takes the 10,000 times asynchronously.
  await new Promise<void>((resolve) => process.stdout.write(JSON.stringify(seen), () => resolve()));
}

const PARTS: Record<string, () => Promise<PartResult>> = {
  memory: () => backend('memory:bench', 'podnet memory store (watcher in process)'),
  sqlite: () => withDir(sqliteAcrossProcesses),
  sqliteFloor: () =>
    withDir(async (dir) => {
      const db = new Database(join(dir, 'bare.db'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?)');
      const one = db.transaction((i: number) => insert.run(`objects/v1/pods/default/web-${i}`, object(i)));
      const { totalMs } = await writeAll(async (i) => one.immediate(i));
      db.close();
      return {
        part: 'floor: bare better-sqlite3 insert, own BEGIN IMMEDIATE',
        writes: WRITES,
        totalMs,
        lagP50Ms: null,
        lagP99Ms: null,
      };
    }),
  etcd: () => withEtcd((_, url) => backend(url, 'podnet etcd store (1 local member, tmpfs)')),
  etcdFloor: () =>
    withEtcd(async (urls) => {
      const client = new Etcd3({ hosts: urls });
      try {
        const ns = client.namespace('/bare/');
        const seen = new Array<number>(WRITES);
        const watcher = await ns.watch().prefix('objects/').create();
        watcher.on('put', (kv) => {
          seen[indexOf(kv.key.toString())] = ms();
        });
        const { totalMs, acked } = await writeAll((i) =>
          ns.put(`objects/v1/pods/default/web-${i}`).value(object(i)).exec(),
        );
        const lag = await lags(seen, acked);
        await watcher.cancel();
        return {
          part: 'floor: bare etcd3 put, bare etcd3 watch',
          writes: WRITES,
          totalMs,
          lagP50Ms: percentile(lag, 50),
          lagP99Ms: percentile(lag, 99),
        };
      } finally {
        client.close();
      }
    }),
};

function runPart(name: string): PartResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench part ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

const rate = (r: PartResult) => r.writes / (r.totalMs / 1000);

async function run(): Promise<string> {
  const [memory, sqlite, sqliteFloor, etcd, etcdFloor] = [
    'memory',
    'sqlite',
    'sqliteFloor',
    'etcd',
    'etcdFloor',
  ].map(runPart);
  const lag = (v: number | null) => (v === null ? '' : `${v.toFixed(2)} ms`);
  const row = (r: PartResult, vs: string) =>
    `| ${r.part} | ${(r.totalMs / 1000).toFixed(2)} s | ${Math.round(rate(r)).toLocaleString('en-US')} | ${lag(r.lagP50Ms)} | ${lag(r.lagP99Ms)} | ${vs} |`;
  const ratio = (r: PartResult, floor: PartResult) => {
    const lagRatio =
      r.lagP99Ms !== null && floor.lagP99Ms
        ? `, lag p99 ${(r.lagP99Ms / floor.lagP99Ms).toFixed(2)}x the floor's`
        : '';
    return `writes/s ${(rate(r) / rate(floor)).toFixed(2)}x the floor's${lagRatio}`;
  };
  return [
    `### Versioned store: ${WRITES.toLocaleString('en-US')} object writes (~300-byte JSON, ${IN_FLIGHT} in flight) and one watch that sees them all`,
    '',
    '| backend | total | writes/s | watch lag p50 | watch lag p99 | against the floor |',
    '|---|---:|---:|---:|---:|---|',
    row(memory, '(no floor: in process)'),
    row(sqlite, ratio(sqlite, sqliteFloor)),
    row(sqliteFloor, ''),
    row(etcd, ratio(etcd, etcdFloor)),
    row(etcdFloor, ''),
    '',
    'A podnet write is a create-if-absent transaction (compare mod revision 0, put); the sqlite one also bumps ' +
      'the revision and logs the event for watchers in the same transaction. The sqlite watcher runs in another ' +
      'process, as an agent does, and polls `PRAGMA data_version` every 20 ms; its lag is measured in wall time ' +
      'across the two processes. The memory and etcd watchers run in the writing process. Lag runs from the ' +
      "write's acknowledgement to the watcher being told (0 when the watcher is told before the write returns).",
    '',
    `Load average when the run finished: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')} on ${cpus().length} cores.`,
  ].join('\n');
}

export default { name: 'store', run };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  if (process.argv[2] === 'watchChild') {
    await watchChild(process.argv[3]);
    process.exit(0);
  }
  const part = PARTS[process.argv[2]];
  if (!part) throw new Error(`unknown part ${process.argv[2]}`);
  process.stdout.write(`${JSON.stringify(await part())}\n`);
  process.exit(0);
}
