/**
 * `podnet cluster create|show|update`: the cluster profile in the store. create and update check the profile
 * with every planning rule first (the same report as `podnet plan`, exit 1 when invalid); update may only grow
 * the pod CIDR or change node pools, since nodes already lease blocks and run pods under the rest.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { blockSpaces } from '../../ipam/blocks.js';
import { type PlanReport, checkPlan } from '../../plan/check.js';
import { ignoredMessage, loadProfileFiles } from '../../profile/load.js';
import type { ClusterProfile } from '../../profile/types.js';
import { DEFAULT_STORE_URL, openStore, storeUrl } from '../../store/open.js';
import { clusterNotFound } from '../../store/records.js';
import type { ClusterRecord, ClusterStore } from '../../store/types.js';
import type { CliContext } from '../main.js';
import { EXIT, type OutputFormat, parseOutputFormat, table } from '../output.js';
import { renderPlanReport } from './plan.js';

interface Opts {
  file?: string[];
  store?: string;
  output: string;
}

export const STORE_FLAG_HELP = `cluster store: sqlite:PATH or etcd:URL[,URL...] (env PODNET_STORE; default ${DEFAULT_STORE_URL})`;

/**
 * Opens the store of --store / $PODNET_STORE / the default, runs `fn`, and closes it. Only `cluster create`
 * may create a sqlite store; every other command reads or changes an existing one and must not leave a new
 * empty file behind a mistyped path.
 */
export async function withStore<T>(
  flag: string | undefined,
  fn: (store: ClusterStore) => Promise<T>,
  opts: { create?: boolean } = {},
): Promise<T> {
  const store = await openStore(storeUrl(flag), { create: opts.create ?? false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The parts of a profile `cluster update` may change. */
const UPDATABLE = ['network.podCidrs', 'nodePools'] as const;

/** Fields that differ between two profiles, other than the updatable ones (dotted paths, for the message). */
export function immutableChanges(current: ClusterProfile, next: ClusterProfile): string[] {
  const changed: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if ((UPDATABLE as readonly string[]).includes(path)) return;
    const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (isObj(a) && isObj(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      for (const k of keys)
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(path);
  };
  walk(current, next, '');
  return changed;
}

/** The profile of the -f files (podnet's format, or AKS input with its VNet and peerings). */
function loadFiles(opts: Opts, ctx: CliContext): ClusterProfile {
  if (!opts.file || opts.file.length === 0) {
    throw new PodnetError('UsageError', 'the profile file is missing', {
      field: '--file',
      hint: 'give it with -f profile.yaml, or AKS input: -f aks.json -f vnet.json',
    });
  }
  const loaded = loadProfileFiles(opts.file);
  const ignored = ignoredMessage(loaded.ignored);
  if (ignored !== undefined) ctx.io.err(`warning InputFieldsIgnored: ${ignored}`);
  return loaded.profile;
}

const FILE_HELP =
  'cluster profile, YAML or JSON; or AKS input as Azure prints it (az aks show, az network vnet show, peering list; repeatable)';
const collect = (v: string, prev: string[] = []) => [...prev, v];

function planRefused(
  ctx: CliContext,
  format: OutputFormat,
  report: PlanReport,
  profile: ClusterProfile,
): void {
  ctx.io.out(format === 'json' ? JSON.stringify(report, null, 2) : renderPlanReport(report, profile));
  ctx.io.err('refused: the profile breaks the planning rules above; nothing was written');
  ctx.exitCode = EXIT.problems;
}

/** Block use per family (one block space per pod CIDR), when the leases were read. */
function summary(
  record: ClusterRecord,
  store: string,
  held?: { leases: { family: number }[]; quarantined: { block: string }[] },
) {
  const p = record.profile;
  const spaces = blockSpaces(p.network.podCidrs, record.podCidrHistory);
  const ofFamily = (f: number, block: string) => (block.includes(':') ? 6 : 4) === f;
  return {
    name: p.name,
    store,
    generation: record.generation,
    updatedAt: record.updatedAt,
    podCidrs: p.network.podCidrs,
    podCidrHistory: record.podCidrHistory,
    serviceCidrs: p.network.serviceCidrs,
    dnsServiceIp: p.network.dnsServiceIp,
    blocks: spaces.map((space) => {
      const f = space.podCidr.family;
      return {
        family: f,
        blockPrefix: space.blockPrefix,
        // An IPv6 /64 holds 2^56 blocks: past 2^53 a JSON number would round, so it is a decimal string.
        total: space.total <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(space.total) : String(space.total),
        ...(held === undefined
          ? {}
          : {
              leased: held.leases.filter((l) => l.family === f).length,
              quarantined: held.quarantined.filter((q) => ofFamily(f, q.block)).length,
            }),
      };
    }),
    nodePools: p.nodePools.map((n) => ({
      name: n.name,
      subnet: n.subnet,
      count: n.count,
      maxPods: n.maxPods,
    })),
  };
}

function renderSummary(s: ReturnType<typeof summary>): string {
  return [
    `cluster ${s.name} (generation ${s.generation}, updated ${s.updatedAt})`,
    `store         ${s.store}`,
    `pod CIDR      ${s.podCidrs.join(', ')}${s.podCidrHistory.length ? ` (grown from ${s.podCidrHistory.map((h) => h.join(', ')).join(' -> ')})` : ''}`,
    `service CIDR  ${s.serviceCidrs.join(', ')}, DNS ${s.dnsServiceIp}`,
    ...s.blocks.map(
      (b, i) =>
        `${i === 0 ? 'blocks        ' : '              '}${b.total} in total${s.blocks.length > 1 ? ` (IPv${b.family} /${b.blockPrefix})` : ''}${b.leased === undefined ? '' : `, ${b.leased} leased, ${b.quarantined} in quarantine`}`,
    ),
    '',
    table(
      ['pool', 'subnet', 'nodes', 'max pods'],
      s.nodePools.map((p) => [p.name, p.subnet, p.count, p.maxPods]),
    ),
  ].join('\n');
}

/** Registers the `cluster` command(s). */
export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('the cluster profile in the cluster store');

  cluster
    .command('create')
    .description('check a cluster profile with every planning rule and write it into a new store')
    .option('-f, --file <path>', FILE_HELP, collect)
    .option('--store <url>', STORE_FLAG_HELP)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const profile = loadFiles(opts, ctx);
      const report = checkPlan(profile);
      if (!report.valid) return planRefused(ctx, format, report, profile);
      const out = await withStore(
        opts.store,
        async (store) => {
          const existing = await store.getCluster();
          if (existing) {
            throw new PodnetError(
              'ClusterExists',
              `the store ${store.url} already holds cluster "${existing.profile.name}"`,
              {
                field: '--store',
                hint: 'change it with `podnet cluster update -f profile.yaml`, or use another --store',
              },
            );
          }
          return summary(await store.putCluster(profile, 0), store.url, { leases: [], quarantined: [] });
        },
        { create: true },
      );
      ctx.io.out(format === 'json' ? JSON.stringify(out, null, 2) : `created\n${renderSummary(out)}`);
    });

  cluster
    .command('show')
    .description('show the cluster profile in the store, with block use')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const out = await withStore(opts.store, async (store) => {
        const record = await store.getCluster();
        if (!record) {
          throw clusterNotFound(store.url);
        }
        const [leases, quarantined] = await Promise.all([store.listBlocks(), store.listQuarantined()]);
        return { ...summary(record, store.url, { leases, quarantined }), profile: record.profile };
      });
      ctx.io.out(format === 'json' ? JSON.stringify(out, null, 2) : renderSummary(out));
    });

  cluster
    .command('update')
    .description(
      'grow the pod CIDR or change node pools (nothing else may change); checked like `podnet plan --from`',
    )
    .option('-f, --file <path>', `the new ${FILE_HELP}`, collect)
    .option('--store <url>', STORE_FLAG_HELP)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const profile = loadFiles(opts, ctx);
      const out = await withStore(opts.store, async (store) => {
        const current = await store.getCluster();
        if (!current) {
          throw clusterNotFound(store.url);
        }
        const report = checkPlan(profile, { previous: current.profile });
        if (!report.valid) return { refused: report, updated: undefined };
        const fixed = immutableChanges(current.profile, profile);
        if (fixed.length > 0) {
          throw new PodnetError(
            'ClusterFieldImmutable',
            `cluster update may only grow the pod CIDR or change node pools; the profile also changes ${fixed.join(', ')}`,
            {
              field: fixed[0],
              hint: 'keep those fields as `podnet cluster show -o json` prints them; create a new cluster for other changes',
              details: { fields: fixed },
            },
          );
        }
        const record = await store.putCluster(profile, current.generation);
        const [leases, quarantined] = await Promise.all([store.listBlocks(), store.listQuarantined()]);
        return { refused: undefined, updated: summary(record, store.url, { leases, quarantined }) };
      });
      if (out.refused) return planRefused(ctx, format, out.refused, profile);
      if (out.updated)
        ctx.io.out(
          format === 'json' ? JSON.stringify(out.updated, null, 2) : `updated\n${renderSummary(out.updated)}`,
        );
    });
}
