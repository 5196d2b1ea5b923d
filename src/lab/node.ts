/**
 * A lab node: a namespace plugged into its subnet's bridge in the VNet (node IP from the subnet, default
 * route via the subnet gateway, no routes to peers: the VNet's routing domain carries pod traffic), running a
 * real `podnet agent` with `--peer-routes off`, and the CNI plugin installed as a runtime would find it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseCidr } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { addNetns, deleteNetns, netnsExists } from '../kernel/netns.js';
import { execInNetns, spawnDaemon } from '../kernel/process.js';
import { PROXY_HEALTHZ_PORT } from '../loadbalancer/health.js';
import type { Vnet } from '../vnet/model.js';
import { plugIntoVnet, routerSysctls } from '../vnet/network.js';
import { clientCredentials, nodeClient } from './etcd.js';
import type { LabNode, LabState } from './model.js';
import { outsideDnsAddress } from './outside-dns.js';
import { killNow, podnetCommand, stopProcess, unixGet, waitFor } from './processes.js';

/** The CNI network name the lab installs on every node. */
export const LAB_NETWORK = 'podnet';
/** Lease TTL given to lab agents: long enough that a stopped agent keeps its block while the user looks. */
const LAB_LEASE_TTL_S = 3600;

export async function createNodeNetwork(vnet: Vnet, node: LabNode): Promise<void> {
  const subnet = vnet.subnets.find((s) => s.cidr === node.subnet);
  if (!subnet) throw new Error(`subnet ${node.subnet} of node ${node.name} is not in VNet ${vnet.name}`);
  if (!netnsExists(node.netns)) await addNetns(node.netns);
  const v6 =
    node.ip6 && subnet.cidr6 && subnet.gateway6
      ? { address: `${node.ip6}/${parseCidr(subnet.cidr6).prefix}`, gateway: subnet.gateway6 }
      : undefined;
  await plugIntoVnet(vnet.netns, node.vnetLink, node.netns, {
    vnetSide: [`link set ${node.vnetLink} master ${subnet.bridge}`],
    address: `${node.ip}/${parseCidr(node.subnet).prefix}`,
    gateway: subnet.gateway,
    ...(v6 ? { v6 } : {}),
  });
  // The agent turns on IPv4 forwarding itself; a dual-stack node routes its pods' IPv6 packets too.
  await routerSysctls(node.netns, v6 ? [4, 6] : [4]);
}

/** The agent's --state-dir: its pod address file is `<dir>/<node>/pod-ipam.db` in there. */
export const agentStateDir = (node: LabNode) => join(node.dir, 'agent');

/**
 * The store as the node's agent reaches it: the same sqlite file, or the lab etcd over TLS at the node's subnet
 * gateway (the agent runs inside the node namespace, where 127.0.0.1 is the node's own loopback), with the
 * node's own client certificate.
 */
export function agentStoreUrl(state: LabState, vnet: Vnet, node: LabNode): string {
  if (state.store.kind !== 'etcd' || !state.store.etcd) return state.store.url;
  const { clientPort } = state.store.etcd;
  // Every gateway etcd listens on, the node's own first: the agent's guard keeps pods from all of them (a pod
  // could reach another subnet's gateway through the VNet as well as its own).
  const gateways = vnet.subnets
    .filter((s) => s.cluster === state.name)
    .sort((a, b) => Number(b.cidr === node.subnet) - Number(a.cidr === node.subnet))
    .map((s) => `https://${s.gateway}:${clientPort}`);
  return `etcd:${gateways.join(',')}?credentials=${clientCredentials(state.store.etcd, nodeClient(node.name))}`;
}

export function agentArgs(state: LabState, vnet: Vnet, node: LabNode): string[] {
  return [
    ...podnetCommand(),
    'agent',
    '--store',
    agentStoreUrl(state, vnet, node),
    '--node',
    node.name,
    '--node-ip',
    node.ip,
    ...(node.ip6 ? ['--node-ip6', node.ip6] : []),
    '--pool',
    node.pool,
    '--netns',
    node.netns,
    '--socket',
    node.agentSocket,
    '--state-dir',
    agentStateDir(node),
    '--metrics-socket',
    node.metricsSocket,
    '--peer-routes',
    'off',
    '--lease-ttl',
    String(LAB_LEASE_TTL_S),
    // Cluster DNS for the node's pods, other names relayed to the resolver on the lab's internet host.
    ...((upstream) => (upstream ? ['--dns-upstream', upstream] : ['--cluster-dns']))(outsideDnsAddress(vnet)),
    '--proxy-healthz-port',
    String(PROXY_HEALTHZ_PORT),
  ];
}

/** Starts the node's agent detached; returns its pid (the caller records it in the lab state). */
export function startAgent(state: LabState, vnet: Vnet, node: LabNode): number {
  mkdirSync(agentStateDir(node), { recursive: true });
  // Entered into the node's namespace here rather than by the agent's own re-exec, so the recorded pid is
  // the agent itself.
  return spawnDaemon(agentArgs(state, vnet, node), {
    logFile: join(node.dir, 'agent.log'),
    netns: node.netns,
  });
}

export async function waitAgentReady(node: LabNode, timeoutMs = 30_000, signal?: AbortSignal): Promise<void> {
  await waitFor(
    `the agent of node ${node.name} to be ready`,
    timeoutMs,
    async () => {
      const r = await unixGet(node.agentSocket, '/readyz');
      return r.status === 200 ? true : undefined;
    },
    signal,
  );
}

export interface AgentView {
  block: string | null;
  ready: boolean;
  podCidrs: string[];
}

/** The agent's own view (GET /v1/status); null when it does not answer. */
export async function agentStatus(node: LabNode): Promise<AgentView | null> {
  try {
    const r = await unixGet(node.agentSocket, '/v1/status', 1500);
    if (r.status !== 200) return null;
    const s = JSON.parse(r.body) as { block?: string | null; ready?: boolean; podCidrs?: string[] };
    return { block: s.block ?? null, ready: s.ready === true, podCidrs: s.podCidrs ?? [] };
  } catch {
    return null;
  }
}

/** `podnet install-cni` into the node's own folders, as a node's installer does for its runtime. */
export async function installCni(node: LabNode): Promise<void> {
  const r = await execInNetns(null, [
    ...podnetCommand(),
    'install-cni',
    '--bin-dir',
    node.cniBinDir,
    '--conf-dir',
    node.cniConfDir,
    '--socket',
    node.agentSocket,
    '--name',
    LAB_NETWORK,
  ]);
  if (r.code !== 0) {
    throw new PodnetError(
      'CniNotInstalled',
      `podnet install-cni for node ${node.name} failed: ${r.stderr.trim()}`,
      {
        hint: `see ${node.cniConfDir}; run podnet lab down and up again`,
      },
    );
  }
}

/** Stops the node's agent by its recorded pid (it runs as one process, see startAgent). */
export async function stopAgent(node: LabNode): Promise<void> {
  if (node.agentPid !== undefined) await stopProcess(node.agentPid, `${node.dir}/`);
}

/** Kills the node's agent at once (SIGKILL), as a crash would. */
export function killAgent(node: LabNode): void {
  if (node.agentPid !== undefined) killNow(node.agentPid, `${node.dir}/`);
}

export async function removeNodeNetwork(node: LabNode): Promise<void> {
  await deleteNetns(node.netns);
}
