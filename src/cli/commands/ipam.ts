/**
 * `podnet ipam blocks|pods|check|release`: what the cluster store leases and what a node's pod address file
 * holds, whether that file agrees with the node's kernel and lease, and an operator's release of a block or a
 * pod address.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { nodeLease } from '../../ipam/node-check.js';
import { checkNode } from '../../ipam/node-observe.js';
import { podIpamPath, readPodIpamFile, releasePodAddress } from '../../ipam/pod-ipam.js';
import { requireNetns } from '../../kernel/netns.js';
import type { CliContext } from '../main.js';
import { EXIT, parseOutputFormat, table } from '../output.js';
import { STORE_FLAG_HELP, withStore } from './cluster.js';

export const DEFAULT_STATE_DIR = '/var/lib/podnet';

interface Opts {
  store?: string;
  node?: string;
  block?: string;
  container?: string;
  ifname: string;
  stateDir: string;
  netns?: string;
  output: string;
}

const STATE_DIR_HELP = `the agents' state directory; a node's pod addresses are in <dir>/<node>/pod-ipam.db (default ${DEFAULT_STATE_DIR})`;

function requireNode(opts: Opts): string {
  if (!opts.node)
    throw new PodnetError('UsageError', '--node is missing', {
      field: '--node',
      hint: 'give the node name, e.g. --node aks-nodepool1-0',
    });
  return opts.node;
}

/** Registers the `ipam` command(s). */
export function registerIpam(program: Command, ctx: CliContext): void {
  const ipam = program.command('ipam').description('block leases and pod addresses');

  ipam
    .command('blocks')
    .description('list the blocks leased to nodes and the ones waiting in quarantine')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const { leases, quarantined } = await withStore(opts.store, async (store) => ({
        leases: await store.listBlocks(),
        quarantined: await store.listQuarantined(),
      }));
      if (format === 'json') {
        ctx.io.out(JSON.stringify({ blocks: leases, quarantined }, null, 2));
        return;
      }
      ctx.io.out(
        table(
          ['block', 'node', 'node ip', 'pool', 'max pods', 'state', 'until'],
          [
            ...leases.map((l) => [
              l.block,
              l.nodeName,
              l.nodeIp,
              l.pool,
              l.maxPods,
              'leased',
              l.expiresAt ?? 'never',
            ]),
            ...quarantined.map((q) => [q.block, q.nodeName, '', '', '', 'quarantine', q.until]),
          ],
        ),
      );
    });

  ipam
    .command('pods')
    .description("list the pod addresses a node holds (reads the node's local file; run it on that node)")
    .option('--node <name>', 'node name')
    .option('--state-dir <dir>', STATE_DIR_HELP, DEFAULT_STATE_DIR)
    .option('-o, --output <format>', 'table or json', 'table')
    .action((opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const path = podIpamPath(opts.stateDir, requireNode(opts));
      const { block, addresses } = readPodIpamFile(path);
      if (format === 'json') {
        ctx.io.out(JSON.stringify({ node: opts.node, block, path, pods: addresses }, null, 2));
        return;
      }
      ctx.io.err(`node ${opts.node}: block ${block ?? 'none'}, ${addresses.length} pod addresses (${path})`);
      ctx.io.out(
        table(
          ['ip', 'container', 'ifname', 'pod', 'allocated'],
          addresses.map((a) => [
            a.ip,
            a.containerId.slice(0, 12),
            a.ifname,
            a.podName ? `${a.podNamespace ?? 'default'}/${a.podName}` : '',
            a.allocatedAt,
          ]),
        ),
      );
    });

  ipam
    .command('check')
    .description(
      "check that a node's pod addresses, its pod interfaces and routes, and its block lease agree (run it on that node)",
    )
    .option('--node <name>', 'node name')
    .option('--netns <name>', 'the node is this network namespace (a lab node)')
    .option('--state-dir <dir>', STATE_DIR_HELP, DEFAULT_STATE_DIR)
    .option(
      '--store <url>',
      "also check the node's lease in this store (default: $PODNET_STORE; else not checked)",
    )
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const node = requireNode(opts);
      if (opts.netns !== undefined) requireNetns(opts.netns);
      const path = podIpamPath(opts.stateDir, node);
      // The lease is checked only against a store named on purpose: the default sqlite path exists only on
      // single-host setups, and a node checked against the wrong store would report a false BlockNotLeased.
      const url = opts.store ?? process.env.PODNET_STORE;
      const { observation: o, findings } = await checkNode({
        node,
        podIpamFile: path,
        netns: opts.netns,
        ...(url ? { leases: () => withStore(url, (store) => store.listBlocks()) } : {}),
      });
      ctx.exitCode = findings.length > 0 ? EXIT.problems : EXIT.ok;
      const summary = {
        node,
        block: o.fileBlock,
        path,
        addresses: o.addresses.length,
        interfaces: o.veths.length,
        lease: url ? (nodeLease(o)?.block ?? null) : 'not checked',
        findings,
      };
      if (format === 'json') {
        ctx.io.out(JSON.stringify(summary, null, 2));
        return;
      }
      ctx.io.err(
        `node ${node}: block ${o.fileBlock ?? 'none'}, ${o.addresses.length} pod addresses, ${o.veths.length} pod interfaces; lease ${
          url ? (nodeLease(o)?.block ?? 'none') : 'not checked (no --store)'
        }`,
      );
      if (findings.length === 0) {
        ctx.io.out('ok: no problems found');
        return;
      }
      ctx.io.out(
        table(
          ['problem', 'subject', 'what'],
          findings.map((f) => [f.code, f.subject, f.message]),
        ),
      );
      for (const f of findings) ctx.io.err(`  ${f.code} ${f.subject}: ${f.hint}`);
    });

  ipam
    .command('release')
    .description(
      "give back a node's block (--node or --block; it waits in quarantine) or one pod address (--node with --container)",
    )
    .option('--node <name>', "release this node's block, or with --container one of its pod addresses")
    .option('--block <cidr>', 'release this block, whichever node holds it')
    .option('--container <id>', 'release the pod address of this container (node-local; run it on that node)')
    .option('--ifname <name>', 'interface of the pod address', 'eth0')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--state-dir <dir>', STATE_DIR_HELP, DEFAULT_STATE_DIR)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      let result: Record<string, unknown>;
      if (opts.container !== undefined) {
        const node = requireNode(opts);
        const released = releasePodAddress(podIpamPath(opts.stateDir, node), opts.container, opts.ifname);
        result = {
          released: released ? 'pod-address' : 'nothing',
          node,
          containerId: opts.container,
          ifname: opts.ifname,
          ip: released?.ip ?? null,
        };
      } else if ((opts.node === undefined) === (opts.block === undefined)) {
        throw new PodnetError(
          'UsageError',
          'give exactly one of --node or --block (or --node with --container)',
          {
            field: '--node',
            hint: 'podnet ipam release --node NAME  |  --block 10.244.3.0/24  |  --node NAME --container ID',
          },
        );
      } else {
        result = await withStore(opts.store, async (store) => {
          const leases = await store.listBlocks();
          const lease =
            opts.block !== undefined
              ? leases.find((l) => l.block === opts.block)
              : leases.find((l) => l.nodeName === opts.node);
          if (!lease) {
            throw new PodnetError(
              'LeaseNotFound',
              `no live lease for ${opts.block !== undefined ? `block ${opts.block}` : `node ${opts.node}`}`,
              {
                field: opts.block !== undefined ? '--block' : '--node',
                hint: 'list the leases with `podnet ipam blocks`',
              },
            );
          }
          await store.releaseBlock(lease.nodeName);
          const q = (await store.listQuarantined()).find((x) => x.block === lease.block);
          return {
            released: 'block',
            block: lease.block,
            node: lease.nodeName,
            quarantineUntil: q?.until ?? null,
          };
        });
      }
      if (format === 'json') ctx.io.out(JSON.stringify(result, null, 2));
      else if (result.released === 'block')
        ctx.io.out(
          `released block ${result.block} of node ${result.node}; in quarantine until ${result.quarantineUntil}`,
        );
      else if (result.released === 'pod-address')
        ctx.io.out(
          `released ${result.ip} of container ${result.containerId} (${result.ifname}) on node ${result.node}`,
        );
      else
        ctx.io.out(
          `container ${result.containerId} (${result.ifname}) holds no address on node ${result.node}; nothing to release`,
        );
    });
}
