/**
 * nftables through the `nft` tool: one atomic `nft -f -` transaction to write, `nft list` to read.
 * Only tables podnet names are ever read or replaced here; podnet never flushes the whole ruleset.
 */
import { run, runRaw } from './exec.js';

export interface NftOptions {
  /** Named network namespace or netns path; omitted = the current one. */
  netns?: string;
}

/** Loads a ruleset text as ONE transaction: either all of it takes effect or none of it does. */
export async function nftApply(text: string, opts: NftOptions = {}): Promise<void> {
  await run('nft', ['-f', '-'], { input: text, netns: opts.netns });
}

/** The table's listing as `nft list table` prints it, or null when the table does not exist. */
export async function nftListTable(
  family: string,
  name: string,
  opts: NftOptions = {},
): Promise<string | null> {
  const r = await runRaw('nft', ['list', 'table', family, name], { netns: opts.netns });
  if (r.code === 0) return r.stdout;
  if (/No such file or directory|does not exist/i.test(r.stderr)) return null;
  // Any other failure (nft missing, permission) is a real error: surface it through run's error shape.
  return run('nft', ['list', 'table', family, name], { netns: opts.netns });
}

/** Deletes one table; a table that is already gone is fine (idempotent). */
export async function nftDeleteTable(family: string, name: string, opts: NftOptions = {}): Promise<void> {
  // `table X` first creates it if missing, so the delete in the same transaction never fails.
  await nftApply(`table ${family} ${name}\ndelete table ${family} ${name}\n`, opts);
}
