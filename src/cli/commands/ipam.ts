/**
 * `podnet ipam blocks|pods|check|release`: what the cluster store leases and what a node's pod address file
 * holds, whether that file agrees with the node's kernel and lease, and an operator's release of a block or a
 * pod address.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ENDPOINTS_PREFIX, type PodEndpoint, decodeEndpoint } from '../../endpoints/record.js';
import { PodnetError } from '../../errors/index.js';
import { InputTooLarge, readCapped } from '../../io/capped.js';
import { type NodeIpamFinding, nodeLease } from '../../ipam/node-check.js';
import { checkNode } from '../../ipam/node-observe.js';
import { podIpamPath, readPodIpamFile, releasePodAddress } from '../../ipam/pod-ipam.js';
import { type IpamInput, type IpamView, addressOwner, ipamView } from '../../ipam/show.js';
import { requireNetns } from '../../kernel/netns.js';
import { requireLab, resolveLabName } from '../../lab/state.js';
import { clusterNotFound } from '../../store/records.js';
import type { ClusterStore } from '../../store/types.js';
import type { CliContext } from '../main.js';
import { EXIT, OUTPUT_HELP, emit, examples, isData, parseOutputFormat, serialize, table } from '../output.js';
import { STORE_FLAG_HELP, withStore } from './cluster.js';

export const DEFAULT_STATE_DIR = '/var/lib/podnet';

interface Opts {
  store?: string;
  lab?: string;
  blocks?: boolean;
  ip?: string;
  fromReport?: string;
  dryRun?: boolean;
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

/** The store of --store, or of --lab NAME (its state file names it). */
export function storeFlagOf(opts: { store?: string; lab?: string }): string | undefined {
  if (opts.store !== undefined && opts.lab !== undefined) {
    throw new PodnetError('UsageError', '--store and --lab both name a store', {
      field: '--lab',
      hint: 'give one of them',
    });
  }
  return opts.lab !== undefined ? requireLab(resolveLabName(opts.lab)).store.url : opts.store;
}

/** What ipam show and map read from a store: the cluster record, leases, quarantine and pod endpoints. */
export async function ipamInputOf(store: ClusterStore): Promise<IpamInput> {
  const record = await store.getCluster();
  if (!record) throw clusterNotFound(store.url);
  const [leases, quarantined, listed] = await Promise.all([
    store.listBlocks(),
    store.listQuarantined(),
    store.kv.list(ENDPOINTS_PREFIX),
  ]);
  const endpoints: PodEndpoint[] = [];
  for (const kv of listed.items) {
    try {
      endpoints.push(decodeEndpoint(kv));
    } catch {
      // A record that does not decode is counted by podnet status; the map shows the rest.
    }
  }
  return { profile: record.profile, podCidrHistory: record.podCidrHistory, leases, quarantined, endpoints };
}

const pct = (used: number, max: number) => (max === 0 ? '-' : `${Math.round((used / max) * 100)}%`);

export function renderIpamView(view: IpamView, opts: { wide: boolean; blocks: boolean }): string {
  const lines: string[] = [];
  for (const c of view.podCidrs) {
    lines.push(
      `pod CIDR ${c.cidr}: ${c.totalBlocks.toLocaleString('en-US')} /${c.blockPrefix} blocks, ${c.leasedBlocks} leased, ${c.quarantinedBlocks} in quarantine, ${c.freeBlocks.toLocaleString('en-US')} free: ${c.addableNodes.toLocaleString('en-US')} more nodes fit, keeping room for ${view.surgeNodes} surge`,
    );
  }
  lines.push(`service CIDR ${view.serviceCidrs.join(', ')}; DNS service IP ${view.dnsServiceIP}`, '');
  lines.push(
    table(
      [
        'node',
        'node ip',
        ...(opts.wide ? ['pool', 'subnet'] : []),
        'block',
        'used',
        'free',
        'max pods',
        'use',
        ...(opts.wide ? ['lease until'] : []),
      ],
      view.nodes.map((n) => [
        n.node,
        n.nodeIp,
        ...(opts.wide ? [n.pool, n.subnet ?? '-'] : []),
        n.block,
        n.usedPods,
        n.freePods,
        n.maxPods,
        pct(n.usedPods, n.maxPods),
        ...(opts.wide ? [n.expiresAt ?? 'never'] : []),
      ]),
    ),
  );
  if (view.quarantined.length > 0) {
    lines.push('', 'QUARANTINED BLOCKS (released; no other node may take them yet)');
    lines.push(
      table(
        ['block', 'last node', 'until'],
        view.quarantined.map((q) => [q.block, q.nodeName, q.until]),
      ),
    );
  }
  if (opts.blocks) {
    lines.push('', 'FREE BLOCKS');
    const rows = view.podCidrs.flatMap((c) =>
      c.freeRanges
        ? c.freeRanges.map((r) => [c.cidr, r.first === r.last ? r.first : `${r.first} - ${r.last}`, r.blocks])
        : [[c.cidr, `${c.freeBlocks} free (not listed for IPv6)`, c.freeBlocks]],
    );
    lines.push(table(['pod cidr', 'blocks', 'count'], rows));
  }
  lines.push('');
  lines.push(
    table(
      ['subnet', 'cidr', 'usable', 'nodes', 'free addresses', 'more nodes'],
      view.subnets.map((s) => [s.name, s.cidr, s.usableAddresses, s.nodes, s.freeAddresses, s.addableNodes]),
    ),
  );
  return lines.join('\n');
}

const SHOW_EXAMPLES = `
Examples:
  podnet ipam show --lab demo
  podnet ipam show --store etcd:http://10.0.0.5:2379 --blocks
  podnet ipam show --lab demo --node demo-sys-0 -o json
  podnet ipam show --lab demo --ip 10.244.1.7

Per pod CIDR: every node's block (name, IP, used/free/max pods), quarantined blocks, free blocks (= nodes still
addable, keeping room for the pools' upgrade surge) and each node subnet's free addresses. --ip tells which block
and pod hold an address.`;

const RELEASE_EXAMPLES = `
Examples:
  podnet ipam release --node aks-nodepool1-0                  the node's block (it waits in quarantine)
  podnet ipam release --block 10.244.3.0/24
  podnet ipam release --node n1 --container 0f3c... --ifname eth0
  podnet ipam check --node n1 -o json > report.json
  podnet ipam release --from-report report.json --dry-run     what the check found, and what would be freed`;

/**
 * What `ipam release --from-report` does with each finding of an `ipam check -o json` report: a leaked pod
 * address (held by a container with no interface) is released; everything else needs a person.
 */
export function releasePlan(
  report: unknown,
  source: string,
): {
  node: string;
  path?: string;
  actions: {
    finding: string;
    subject: string;
    action: 'release' | 'skip';
    containerId?: string;
    ifname?: string;
    why: string;
  }[];
} {
  const bad = (why: string) =>
    new PodnetError('InvalidReport', `${source} is not an ipam check report: ${why}`, {
      field: '--from-report',
      hint: 'write one with podnet ipam check --node NAME -o json > report.json',
    });
  if (typeof report !== 'object' || report === null || Array.isArray(report)) throw bad('not a JSON object');
  const r = report as Record<string, unknown>;
  if (typeof r.node !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/.test(r.node))
    throw bad('no valid "node"');
  if (!Array.isArray(r.findings)) throw bad('no "findings" list');
  const actions = r.findings.map((f, i) => {
    if (typeof f !== 'object' || f === null) throw bad(`findings[${i}] is not an object`);
    const x = f as Partial<NodeIpamFinding> & { containerId?: unknown; ifname?: unknown };
    if (typeof x.code !== 'string' || typeof x.subject !== 'string')
      throw bad(`findings[${i}] has no code and subject`);
    const m = /container (\S+) \((\S+)\)/.exec(typeof x.message === 'string' ? x.message : '');
    if (x.code === 'AddressWithoutInterface' && m && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(m[1])) {
      return {
        finding: x.code,
        subject: x.subject,
        action: 'release' as const,
        containerId: m[1],
        ifname: m[2],
        why: `leaked: container ${m[1]} has no interface on the node`,
      };
    }
    return {
      finding: x.code,
      subject: x.subject,
      action: 'skip' as const,
      why: typeof x.hint === 'string' ? x.hint : 'not an address to release',
    };
  });
  return { node: r.node, ...(typeof r.path === 'string' ? { path: r.path } : {}), actions };
}

function readReport(path: string): unknown {
  let text: string;
  try {
    text = readCapped(path, 4 * 1024 * 1024).toString('utf8');
  } catch (e) {
    throw new PodnetError(
      'InvalidReport',
      e instanceof InputTooLarge ? `report ${path} is over 4 MiB` : `cannot read report ${path}`,
      { field: '--from-report', hint: 'give the file podnet ipam check -o json wrote', cause: e },
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new PodnetError('InvalidReport', `report ${path} is not JSON`, {
      field: '--from-report',
      hint: 'give the file podnet ipam check -o json wrote',
    });
  }
}

/** Registers the `ipam` command(s). */
export function registerIpam(program: Command, ctx: CliContext): void {
  const ipam = program
    .command('ipam')
    .description('block leases and pod addresses')
    .addHelpText(
      'after',
      examples(
        'podnet ipam show --lab demo',
        'podnet ipam check --node n1 --store sqlite:/var/lib/podnet/cluster.db',
      ),
    );

  ipam
    .command('show')
    .description("the pod CIDR's use: every node's block with its pods, free and quarantined blocks, subnets")
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--lab <name>', 'the store of this lab (podnet lab up)')
    .option('--blocks', 'also list the free blocks (runs of consecutive blocks)')
    .option('--node <name>', 'only this node')
    .option('--ip <address>', 'which block and pod hold this address')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', SHOW_EXAMPLES)
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const input = await withStore(storeFlagOf(opts), ipamInputOf);
      const view = ipamView(input);
      if (opts.ip !== undefined) {
        const owner = addressOwner(view, input.endpoints, opts.ip);
        emit(ctx.io, format, 'AddressOwner', owner, () =>
          table(
            ['ip', 'state', 'block', 'node', 'pod'],
            [
              [
                owner.ip,
                owner.state,
                owner.block ?? '-',
                owner.node ?? '-',
                owner.pod ? `${owner.pod.namespace ?? '-'}/${owner.pod.name ?? owner.pod.containerId}` : '-',
              ],
            ],
          ),
        );
        return;
      }
      if (opts.node !== undefined) {
        const node = view.nodes.find((n) => n.node === opts.node);
        if (!node) {
          throw new PodnetError('LeaseNotFound', `node ${opts.node} holds no block lease`, {
            field: '--node',
            hint: `nodes with a block: ${
              view.nodes
                .map((n) => n.node)
                .slice(0, 10)
                .join(', ') || 'none'
            }`,
          });
        }
        const pods = input.endpoints.filter((e) => e.node === node.node);
        emit(ctx.io, format, 'NodeBlock', { ...node, pods }, (wide) =>
          [
            `node ${node.node} (${node.nodeIp}, pool ${node.pool}, subnet ${node.subnet ?? '-'}): block ${node.block}, ${node.usedPods}/${node.maxPods} pods`,
            '',
            table(
              ['namespace', 'pod', 'ip', ...(wide ? ['container', 'ifname'] : [])],
              pods.map((p) => [
                p.namespace ?? '-',
                p.name ?? '-',
                p.ips.join(','),
                ...(wide ? [p.containerId.slice(0, 12), p.ifname] : []),
              ]),
            ),
          ].join('\n'),
        );
        return;
      }
      emit(ctx.io, format, 'IpamView', view, (wide) =>
        renderIpamView(view, { wide, blocks: opts.blocks === true }),
      );
    });

  ipam
    .command('blocks')
    .description('list the blocks leased to nodes and the ones waiting in quarantine')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText(
      'after',
      examples('podnet ipam blocks', 'podnet ipam blocks --store etcd:http://10.0.0.5:2379 -o json'),
    )
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const { leases, quarantined } = await withStore(opts.store, async (store) => ({
        leases: await store.listBlocks(),
        quarantined: await store.listQuarantined(),
      }));
      if (isData(format)) {
        ctx.io.out(serialize(format, 'BlockList', { blocks: leases, quarantined }));
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
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText(
      'after',
      examples(
        'podnet ipam pods --node aks-nodepool1-0',
        'podnet ipam pods --node n1 --state-dir /var/lib/podnet -o yaml',
      ),
    )
    .action((opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      const path = podIpamPath(opts.stateDir, requireNode(opts));
      const { block, addresses } = readPodIpamFile(path);
      if (isData(format)) {
        ctx.io.out(serialize(format, 'NodePodAddresses', { node: opts.node, block, path, pods: addresses }));
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
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText(
      'after',
      examples(
        'podnet ipam check --node aks-nodepool1-0 --store sqlite:/var/lib/podnet/cluster.db',
        'podnet ipam check --node demo-sys-0 --netns demo-sys-0 -o json > report.json',
      ) + '\nExit 0 when the node agrees with itself and the store, 1 when something is found.',
    )
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
        podIpamFile6: podIpamPath(opts.stateDir, node, 6),
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
      if (isData(format)) {
        ctx.io.out(serialize(format, 'IpamCheck', summary));
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
    .option('--from-report <file>', 'release the leaked pod addresses an ipam check -o json report found')
    .option('--dry-run', 'with --from-report: say what would be released, release nothing')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--state-dir <dir>', STATE_DIR_HELP, DEFAULT_STATE_DIR)
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', RELEASE_EXAMPLES)
    .action(async (opts: Opts) => {
      const format = parseOutputFormat(opts.output);
      if (opts.dryRun && opts.fromReport === undefined) {
        throw new PodnetError('UsageError', '--dry-run goes with --from-report', {
          field: '--dry-run',
          hint: 'podnet ipam release --from-report report.json --dry-run',
        });
      }
      if (opts.fromReport !== undefined) {
        const planned = releasePlan(readReport(opts.fromReport), opts.fromReport);
        const path = podIpamPath(opts.stateDir, planned.node);
        const actions = planned.actions.map((a) => {
          if (a.action !== 'release' || opts.dryRun) return { ...a, done: false };
          const freed = releasePodAddress(path, a.containerId as string, a.ifname as string);
          return { ...a, done: freed !== null };
        });
        const result = { node: planned.node, dryRun: opts.dryRun === true, actions };
        emit(ctx.io, format, 'IpamRelease', result, () =>
          actions.length === 0
            ? `node ${planned.node}: the report found nothing to release`
            : table(
                ['finding', 'subject', 'action', 'why'],
                actions.map((a) => [
                  a.finding,
                  a.subject,
                  a.action === 'skip'
                    ? 'left (needs a person)'
                    : opts.dryRun
                      ? 'would release'
                      : a.done
                        ? 'released'
                        : 'already free',
                  a.why,
                ]),
              ),
        );
        return;
      }
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
      if (isData(format)) ctx.io.out(serialize(format, 'IpamRelease', result));
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
