/**
 * `podnet agent`: the node daemon. With `--netns NAME` it manages a node that is a network namespace by
 * re-executing itself inside it (`nsenter --net`), so every `ip`/`nft` call and /proc/sys/net write of the
 * agent acts on that node; the unix socket is a filesystem path and stays reachable from everywhere.
 */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { AGENT_DEFAULTS, type AgentFlags, parseAgentFlags } from '../../agent/config.js';
import { parentGone, runAgent, terminationSignal } from '../../agent/daemon.js';
import { netnsExists, netnsPath, requireNetns } from '../../kernel/netns.js';
import { exitCodeOf, spawnInNetns } from '../../kernel/process.js';
import { DEFAULT_STORE_URL, storeUrl } from '../../store/open.js';
import type { CliContext } from '../main.js';

/** Set by the relay in the re-executed child: the child watches its relay and stops when it is gone. */
const IN_NETNS_ENV = 'PODNET_AGENT_NETNS';

export function registerAgent(program: Command, ctx: CliContext): void {
  program
    .command('agent')
    .description(
      'run the node agent: lease the node block, serve pod IPAM to podnet-cni, reconcile SNAT, routes and anti-spoofing',
    )
    .option(
      '--store <url>',
      `cluster store: sqlite:PATH or etcd:URL[,URL...] (default: $PODNET_STORE or ${DEFAULT_STORE_URL})`,
    )
    .option('--node <name>', "this node's name")
    .option('--node-ip <ip>', "this node's VNet address (where peers route its block)")
    .option('--node-ip6 <ip>', "this node's IPv6 VNet address (dual-stack: where peers route its IPv6 block)")
    .option('--pool <name>', 'node pool (default: first pool of the cluster profile)')
    .option('--netns <name>', 'manage the node living in this network namespace')
    .option('--socket <path>', 'API and CNI unix socket (mode 0600)', AGENT_DEFAULTS.socket)
    .option('--state-dir <dir>', 'node-local state (pod IPAM)', AGENT_DEFAULTS.stateDir)
    .option('--metrics-socket <path>', 'serve Prometheus metrics on this unix socket')
    .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:N')
    .option(
      '--peer-routes <mode>',
      "direct: route to peers on the node's subnets; off: a fabric router does",
      'direct',
    )
    .option(
      '--lease-ttl <seconds>',
      'block lease time to live, renewed at a third of it',
      String(AGENT_DEFAULTS.leaseTtlSeconds),
    )
    .option(
      '--resync <seconds>',
      'periodic re-check of the dataplane and the cluster record',
      String(AGENT_DEFAULTS.resyncSeconds),
    )
    .option(
      '--cluster-dns',
      "serve cluster DNS to the node's pods at the profile's DNS service IP (node-local, src/agent/dns.ts)",
    )
    .option(
      '--dns-upstream <ip[:port]>',
      'where cluster DNS relays names outside cluster.local (implies --cluster-dns; none: refused)',
    )
    .option(
      '--proxy-healthz-port <n>',
      "serve kube-proxy's health checks for load balancers: /healthz on this port (kube-proxy: 10256) and each Local LoadBalancer Service's healthCheckNodePort",
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', AGENT_DEFAULTS.logLevel)
    .addHelpText(
      'after',
      '\nExample:\n  podnet agent --store sqlite:/var/lib/podnet/cluster.db --node node-1 --node-ip 10.224.0.4\n' +
        '\nEndpoints on --socket: GET /healthz, GET /readyz, GET /v1/status, POST /v1/cni. Stops on SIGTERM/SIGINT,\n' +
        'keeping the lease and kernel state so pods keep working; a restart adopts them.',
    )
    .action(async (flags: AgentFlags) => {
      const cfg = parseAgentFlags({ ...flags, store: storeUrl(flags.store) });
      if (cfg.netns !== null && !insideNetns(cfg.netns)) {
        ctx.exitCode = await reexecInNetns(cfg.netns);
        return;
      }
      // Re-executed by our own relay: also stop when the relay is gone, so a killed command leaves no orphan.
      // (Started inside the namespace by someone else, e.g. `nsenter ... podnet agent --netns NAME`, there is
      // no relay: one process, and its lifetime is the caller's business.)
      const relayed = process.env[IN_NETNS_ENV] === cfg.netns;
      await runAgent(cfg, {
        stopSignal: relayed ? Promise.race([terminationSignal(), parentGone()]) : terminationSignal(),
      });
    });
}

/** True when this process already runs in the named namespace (same namespace inode). */
function insideNetns(netns: string): boolean {
  if (!netnsExists(netns)) return false;
  const mine = statSync('/proc/self/ns/net');
  const want = statSync(netnsPath(netns));
  return mine.ino === want.ino && mine.dev === want.dev;
}

/** Runs this same command inside the namespace and relays its signals and exit code. */
async function reexecInNetns(netns: string): Promise<number> {
  requireNetns(netns);
  const child = spawnInNetns(netns, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [IN_NETNS_ENV]: netns },
  });
  const relay = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGTERM', relay);
  process.on('SIGINT', relay);
  try {
    return await exitCodeOf(child);
  } finally {
    process.off('SIGTERM', relay);
    process.off('SIGINT', relay);
  }
}
