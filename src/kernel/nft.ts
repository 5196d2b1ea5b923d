/**
 * nftables through the `nft` tool: one atomic `nft -f -` transaction to write, `nft list` to read (the text
 * listing for drift checks, `nft -j` parsed for reading rules as data). Only tables podnet names are ever
 * read or replaced here; podnet never flushes the whole ruleset.
 */
import { run } from './exec.js';
import { kernelFailureOf } from './failure.js';

export interface NftOptions {
  /** Named network namespace or netns path; omitted = the current one. */
  netns?: string;
}

/** An nftables address family, as a table is declared in. */
export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** Loads a ruleset text as ONE transaction: either all of it takes effect or none of it does. */
export async function nftApply(text: string, opts: NftOptions = {}): Promise<void> {
  await run('nft', ['-f', '-'], { input: text, netns: opts.netns });
}

async function listOrNull(args: string[], opts: NftOptions): Promise<string | null> {
  try {
    return await run('nft', args, { netns: opts.netns });
  } catch (e) {
    if (kernelFailureOf(e)?.code === 'NftTableNotFound') return null;
    throw e;
  }
}

/** The table's listing as `nft list table` prints it, or null when the table does not exist. */
export function nftListTable(family: NftFamily, name: string, opts: NftOptions = {}): Promise<string | null> {
  return listOrNull(['list', 'table', family, name], opts);
}

/** One object of `nft -j list` output (libnftables JSON schema: `{ "table": {...} }`, `{ "rule": {...} }`...). */
export type NftJsonObject = { [kind: string]: Record<string, unknown> };

export interface NftTableJson {
  tables: Record<string, unknown>[];
  chains: Record<string, unknown>[];
  sets: Record<string, unknown>[];
  maps: Record<string, unknown>[];
  rules: { chain: string; handle: number; expr: unknown[]; comment?: string }[];
}

/** Groups the objects of an `nft -j` listing by kind (pure; metainfo and unknown kinds are left out). */
export function parseNftJson(text: string): NftTableJson {
  const doc = JSON.parse(text) as { nftables?: NftJsonObject[] };
  const out: NftTableJson = { tables: [], chains: [], sets: [], maps: [], rules: [] };
  for (const o of doc.nftables ?? []) {
    if (o.table) out.tables.push(o.table);
    else if (o.chain) out.chains.push(o.chain);
    else if (o.set) out.sets.push(o.set);
    else if (o.map) out.maps.push(o.map);
    else if (o.rule) out.rules.push(o.rule as NftTableJson['rules'][number]);
  }
  return out;
}

/** The table read as data (`nft -j list table`), or null when the table does not exist. */
export async function nftListTableJson(
  family: NftFamily,
  name: string,
  opts: NftOptions = {},
): Promise<NftTableJson | null> {
  const text = await listOrNull(['-j', 'list', 'table', family, name], opts);
  return text === null ? null : parseNftJson(text);
}

/** Deletes one table; a table that is already gone is fine (idempotent). */
export async function nftDeleteTable(family: NftFamily, name: string, opts: NftOptions = {}): Promise<void> {
  // `table X` first creates it if missing, so the delete in the same transaction never fails.
  await nftApply(`table ${family} ${name}\ndelete table ${family} ${name}\n`, opts);
}

/** One set of a table as `nft -j list set` prints it (its elements), or null when the table does not exist. */
export function nftListSetJson(
  family: NftFamily,
  table: string,
  set: string,
  opts: NftOptions = {},
): Promise<string | null> {
  return listOrNull(['-j', 'list', 'set', family, table, set], opts);
}
