/**
 * `podnet sysdump`: everything an operator or a maintainer needs to see what a cluster's pod network was
 * doing, in one archive: the profile and its plan report, the store's records (objects, leases, endpoints,
 * heartbeats, the status), and per node (a lab's nodes; else this host) the kernel's `ip -json` and
 * `nft -j` views, the agent's status, metrics and log tail, and `ipam check`. Every entry is redacted
 * (src/sysdump/redact.ts) and bounded; an item that fails or runs out of time is named in `sysdump.json`.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PODNET_VERSION } from '../agent/metrics.js';
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { asPodnetError } from '../errors/index.js';
import { checkNode } from '../ipam/node-observe.js';
import { podIpamPath } from '../ipam/pod-ipam.js';
import { execInNetns } from '../kernel/process.js';
import type { LabNode, LabState } from '../lab/model.js';
import { agentStateDir } from '../lab/node.js';
import { unixGet } from '../lab/processes.js';
import { checkPlan } from '../plan/check.js';
import { readStatusInput } from '../status/gather.js';
import { assessStatus } from '../status/health.js';
import { AGENTS_PREFIX } from '../status/heartbeat.js';
import { clusterNotFound } from '../store/records.js';
import type { ClusterStore } from '../store/types.js';
import { redactText, redactValue } from './redact.js';

export interface SysdumpBounds {
  /** One entry at most this large; a larger one is cut, with a last line saying so. */
  maxEntryBytes: number;
  /** The archive's entries together at most this large (before compression); later ones are left out. */
  maxTotalBytes: number;
  /** The whole collection at most this long; items not reached are left out. */
  deadlineMs: number;
  /** One kernel command or agent request at most this long. */
  commandTimeoutMs: number;
  /** The last this many bytes of each agent log. */
  logTailBytes: number;
}

export const SYSDUMP_BOUNDS: SysdumpBounds = {
  maxEntryBytes: 4 << 20,
  maxTotalBytes: 64 << 20,
  deadlineMs: 60_000,
  commandTimeoutMs: 10_000,
  logTailBytes: 2 << 20,
};

export interface SysdumpEntry {
  path: string;
  text: string;
}

export interface SysdumpMeta {
  apiVersion: 'podnet.io/v1alpha1';
  kind: 'Sysdump';
  version: string;
  createdAt: string;
  source: { store: string; lab: string | null };
  bounds: SysdumpBounds;
  entries: { path: string; bytes: number; truncated: boolean }[];
  /** Items that could not be collected, with why. */
  skipped: { path: string; code: string; reason: string }[];
}

export interface SysdumpSource {
  store: ClusterStore;
  lab?: LabState;
}

const json = (v: unknown) => `${JSON.stringify(redactValue(v), null, 2)}\n`;

function tail(path: string, bytes: number): string {
  const size = statSync(path).size;
  const start = Math.max(0, size - bytes);
  const buf = Buffer.alloc(size - start);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  const text = buf.toString('utf8');
  // From the first whole line when cut, so no half JSON line leads.
  return start === 0 ? text : text.slice(text.indexOf('\n') + 1);
}

async function kernel(netns: string | null, argv: string[], timeoutMs: number): Promise<string> {
  const r = await execInNetns(netns, argv, { timeoutMs });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  return r.stdout;
}

/** The kernel's view of one namespace (null: this process's), as `ip -json` and `nft -j` print it. */
function kernelItems(dir: string, netns: string | null, b: SysdumpBounds): [string, () => Promise<string>][] {
  const k = (argv: string[]) => () => kernel(netns, argv, b.commandTimeoutMs);
  return [
    [`${dir}/ip-addr.json`, k(['ip', '-json', 'addr', 'show'])],
    [`${dir}/ip-link.json`, k(['ip', '-json', '-details', 'link', 'show'])],
    [`${dir}/ip-route.json`, k(['ip', '-json', 'route', 'show', 'table', 'all'])],
    [`${dir}/ip-rule.json`, k(['ip', '-json', 'rule', 'show'])],
    [`${dir}/nft.json`, k(['nft', '-j', 'list', 'ruleset'])],
  ];
}

function labNodeItems(
  state: LabState,
  node: LabNode,
  store: ClusterStore,
  b: SysdumpBounds,
): [string, () => Promise<string>][] {
  const dir = `nodes/${node.name}`;
  const get = async (socket: string, path: string) => {
    const r = await unixGet(socket, path, b.commandTimeoutMs);
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
    return r.body;
  };
  return [
    ...kernelItems(dir, node.netns, b),
    [`${dir}/agent-status.json`, async () => json(JSON.parse(await get(node.agentSocket, '/v1/status')))],
    [`${dir}/metrics.txt`, () => get(node.metricsSocket, '/metrics')],
    [`${dir}/agent.log`, async () => tail(join(node.dir, 'agent.log'), b.logTailBytes)],
    [
      `${dir}/ipam-check.json`,
      async () => {
        const r = await checkNode({
          node: node.name,
          podIpamFile: podIpamPath(agentStateDir(node), node.name),
          podIpamFile6: podIpamPath(agentStateDir(node), node.name, 6),
          netns: node.netns,
          leases: () => store.listBlocks(),
        });
        return json({ node: node.name, findings: r.findings });
      },
    ],
  ];
}

/** Collects the entries within the bounds; never throws for one item (it is listed as skipped). */
export async function collectSysdump(
  src: SysdumpSource,
  b: SysdumpBounds = SYSDUMP_BOUNDS,
  now = Date.now,
): Promise<{ entries: SysdumpEntry[]; meta: SysdumpMeta }> {
  const { store, lab } = src;
  const started = now();
  const record = await store.getCluster();
  if (!record) throw clusterNotFound(store.url);
  const list = async (prefix: string) =>
    (await store.kv.list(prefix)).items.map((kv) => {
      try {
        return { key: kv.key, lease: kv.lease, value: JSON.parse(kv.value) as unknown };
      } catch {
        return { key: kv.key, lease: kv.lease, value: kv.value };
      }
    });
  const items: [string, () => Promise<string>][] = [
    [
      'cluster/record.json',
      async () =>
        json({
          generation: record.generation,
          updatedAt: record.updatedAt,
          podCidrHistory: record.podCidrHistory,
        }),
    ],
    ['cluster/profile.yaml', async () => stringify(redactValue(record.profile))],
    ['cluster/plan.json', async () => json(checkPlan(record.profile))],
    [
      'cluster/leases.json',
      async () => json({ blocks: await store.listBlocks(), quarantined: await store.listQuarantined() }),
    ],
    [
      'cluster/status.json',
      async () =>
        json(
          assessStatus(
            await readStatusInput(
              store,
              lab?.nodes.map((n) => n.name),
            ),
            now(),
          ),
        ),
    ],
    ['cluster/agents.json', async () => json(await list(AGENTS_PREFIX))],
    ['cluster/endpoints.json', async () => json(await list(ENDPOINTS_PREFIX))],
    ['cluster/objects.json', async () => json(await list('objects/'))],
  ];
  if (lab) {
    items.push(['lab/state.json', async () => json(lab)]);
    for (const n of lab.nodes) items.push(...labNodeItems(lab, n, store, b));
    items.push(['lab/fabric.log', async () => tail(join(lab.dir, 'fabric.log'), b.logTailBytes)]);
  } else items.push(...kernelItems('host', null, b));

  const entries: SysdumpEntry[] = [];
  const meta: SysdumpMeta = {
    apiVersion: 'podnet.io/v1alpha1',
    kind: 'Sysdump',
    version: PODNET_VERSION,
    createdAt: new Date(started).toISOString(),
    source: { store: redactText(store.url), lab: lab?.name ?? null },
    bounds: b,
    entries: [],
    skipped: [],
  };
  let total = 0;
  for (const [path, collect] of items) {
    if (now() - started > b.deadlineMs) {
      meta.skipped.push({
        path,
        code: 'SysdumpDeadline',
        reason: `not reached within ${b.deadlineMs / 1000} s`,
      });
      continue;
    }
    let text: string;
    try {
      text = redactText(await collect());
    } catch (e) {
      const err = asPodnetError(e);
      meta.skipped.push({ path, code: err.code, reason: redactText(err.message) });
      continue;
    }
    let truncated = false;
    if (Buffer.byteLength(text) > b.maxEntryBytes) {
      text = `${Buffer.from(text).subarray(0, b.maxEntryBytes).toString('utf8')}\n[podnet sysdump: cut at ${b.maxEntryBytes} bytes]\n`;
      truncated = true;
    }
    const bytes = Buffer.byteLength(text);
    if (total + bytes > b.maxTotalBytes) {
      meta.skipped.push({
        path,
        code: 'SysdumpTooLarge',
        reason: `the archive reached ${b.maxTotalBytes} bytes`,
      });
      continue;
    }
    total += bytes;
    entries.push({ path, text });
    meta.entries.push({ path, bytes, truncated });
  }
  return { entries, meta };
}
