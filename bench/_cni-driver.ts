/**
 * Runs inside the benchmark's node namespace (started under `nsenter --net`), exactly where a runtime execs
 * CNI plugins, and times ADD/DEL of each plugin: sequential pods (plugins interleaved pod by pod, so CPU speed
 * changes hit all alike), then a burst of pods at once. Prints the raw timings as JSON on stdout.
 */
import { performance } from 'node:perf_hooks';
import { type PluginRun, execPlugin } from '../src/cni/testing/exec-plugin.js';
import { ipBatch } from '../src/kernel/ip.js';

interface Plugin {
  name: string;
  exec: string | string[];
  config: Record<string, unknown>;
  burst: boolean;
}
interface Options {
  prefix: string;
  sequential: number;
  burst: number;
  plugins: Plugin[];
}
export interface DriverTimings {
  [plugin: string]: {
    add: number[];
    del: number[];
    burstAdd?: number;
    burstDel?: number;
    failures: string[];
  };
}

const o = JSON.parse(process.argv[2]) as Options;

async function netnsAdd(names: string[]): Promise<void> {
  await ipBatch(names.map((n) => `netns add ${n}`));
}
async function netnsDel(names: string[]): Promise<void> {
  await ipBatch(
    names.map((n) => `netns delete ${n}`),
    undefined,
    { force: true, ignoreMissing: true },
  );
}

async function timed(p: Plugin, command: 'ADD' | 'DEL', id: string, netns: string, prev?: unknown) {
  const config = prev === undefined ? p.config : { ...p.config, prevResult: prev };
  const t = performance.now();
  const r: PluginRun = await execPlugin(p.exec, {
    command,
    containerId: id,
    netns: `/run/netns/${netns}`,
    config,
  });
  return { ms: performance.now() - t, r };
}

const out: DriverTimings = {};
for (const p of o.plugins) out[p.name] = { add: [], del: [], failures: [] };
const fail = (p: Plugin, what: string, r: PluginRun) => {
  if (r.code !== 0) out[p.name].failures.push(`${what}: ${r.stdout.trim() || r.stderr.trim()}`.slice(0, 300));
};

// Sequential: pod i of every plugin, then the next pod.
const seq = o.plugins.map((p, k) => Array.from({ length: o.sequential }, (_, i) => `${o.prefix}-s${k}-${i}`));
await netnsAdd(seq.flat());
const results: unknown[][] = o.plugins.map(() => []);
for (let i = 0; i < o.sequential; i++) {
  for (const [k, p] of o.plugins.entries()) {
    const { ms, r } = await timed(p, 'ADD', `seq${k}x${i}`, seq[k][i]);
    fail(p, 'ADD', r);
    out[p.name].add.push(ms);
    results[k][i] = r.json;
  }
}
for (let i = 0; i < o.sequential; i++) {
  for (const [k, p] of o.plugins.entries()) {
    const { ms, r } = await timed(p, 'DEL', `seq${k}x${i}`, seq[k][i], results[k][i]);
    fail(p, 'DEL', r);
    out[p.name].del.push(ms);
  }
}
await netnsDel(seq.flat());

// Burst: all pods of one plugin at once.
for (const [k, p] of o.plugins.entries()) {
  if (!p.burst) continue;
  const names = Array.from({ length: o.burst }, (_, i) => `${o.prefix}-b${k}-${i}`);
  await netnsAdd(names);
  let t = performance.now();
  const adds = await Promise.all(names.map((n, i) => timed(p, 'ADD', `burst${k}x${i}`, n)));
  out[p.name].burstAdd = performance.now() - t;
  adds.forEach(({ r }) => fail(p, 'burst ADD', r));
  t = performance.now();
  const dels = await Promise.all(names.map((n, i) => timed(p, 'DEL', `burst${k}x${i}`, n, adds[i].r.json)));
  out[p.name].burstDel = performance.now() - t;
  dels.forEach(({ r }) => fail(p, 'burst DEL', r));
  await netnsDel(names);
}
process.stdout.write(JSON.stringify(out));
