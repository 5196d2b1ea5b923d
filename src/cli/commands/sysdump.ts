/** `podnet sysdump [--lab NAME | --store URL] -o FILE.tar.gz`: the debug bundle (src/sysdump). */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { requireLab, resolveLabName } from '../../lab/state.js';
import { openStore, storeUrl } from '../../store/open.js';
import { writeSysdump } from '../../sysdump/archive.js';
import { collectSysdump } from '../../sysdump/collect.js';
import type { CliContext } from '../main.js';
import { STORE_FLAG_HELP } from './cluster.js';

export function registerSysdump(program: Command, ctx: CliContext): void {
  program
    .command('sysdump')
    .description('one redacted, bounded .tar.gz of everything that tells what the pod network was doing')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--lab <name>', "a lab's store, and every node of that lab")
    .requiredOption('-o, --output <file>', 'the archive to write (FILE.tar.gz)')
    .addHelpText(
      'after',
      `
Holds the profile and its plan report, the store's objects, leases, endpoints and agent heartbeats, podnet
status, and per node (a lab's nodes; with --store, this host) ip -json and nft -j dumps, the agent's status,
metrics, log tail and ipam check. Secrets are redacted and key files never read; each entry is at most 4 MiB,
the whole at most 64 MiB, collected in at most 60 s (docs/operations.md).

Examples:
  podnet sysdump --lab demo -o demo.tar.gz
  podnet sysdump --store etcd:http://10.0.0.5:2379 -o cluster.tar.gz`,
    )
    .action(async (o: { store?: string; lab?: string; output: string }) => {
      if (o.store !== undefined && o.lab !== undefined) {
        throw new PodnetError('UsageError', '--store and --lab exclude each other', {
          field: '--lab',
          hint: 'a lab names its own store: give one of them',
        });
      }
      if (!/\.(tar\.gz|tgz)$/.test(o.output)) {
        throw new PodnetError('UsageError', `-o ${o.output.slice(0, 80)}: the archive is a gzipped tar`, {
          field: '--output',
          hint: 'name it FILE.tar.gz or FILE.tgz',
        });
      }
      const lab = o.lab === undefined ? undefined : requireLab(resolveLabName(o.lab));
      const store = await openStore(lab ? lab.store.url : storeUrl(o.store), { create: false });
      let collected: Awaited<ReturnType<typeof collectSysdump>>;
      try {
        collected = await collectSysdump(lab ? { store, lab } : { store });
      } finally {
        await store.close();
      }
      const { entries, meta } = collected;
      const top = `podnet-sysdump-${meta.createdAt.replace(/[:.]/g, '-')}`;
      try {
        await writeSysdump(o.output, top, entries, meta);
      } catch (e) {
        throw new PodnetError('ReportWriteFailed', `cannot write ${o.output}: ${(e as Error).message}`, {
          field: '--output',
          hint: 'give a path in a writable folder',
        });
      }
      for (const s of meta.skipped) ctx.io.err(`sysdump: left out ${s.path}: ${s.code}: ${s.reason}`);
      ctx.io.out(
        `wrote ${o.output}: ${entries.length} entries, ${statSync(o.output).size} bytes${meta.skipped.length ? `, ${meta.skipped.length} left out (see sysdump.json)` : ''}`,
      );
    });
}
