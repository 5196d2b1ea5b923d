/**
 * The CNI operations, executed in the warm node agent (the shim `bin/podnet-cni` forwards env + stdin here).
 * Decisions come from the pure protocol module; the kernel work is the pod-network module; the address comes
 * from the node's PodIpam. Every failure leaves nothing half-created and is reported as the spec's error object.
 */
import { BITS, type Family } from '../addr/index.js';
import {
  POD_GATEWAY,
  POD_GATEWAY6,
  type PodLinkNames,
  addPodNetwork,
  checkPodNetwork,
  listPodVeths,
  podLinkNames,
  removePodNetwork,
} from '../dataplane/pod-network.js';
import { type CniDns, podDns } from '../dns/pod-dns.js';
import { PodnetError } from '../errors/index.js';
import type { PodAddress, PodIpam } from '../ipam/types.js';
import { namespaceFileKind } from '../kernel/netns.js';
import {
  type Attachment,
  type NetConf,
  askedVersion,
  parseCniArgs,
  parseCommand,
  parseConfig,
  parseEnv,
  renderError,
  renderResult,
  renderVersion,
} from './protocol.js';
import {
  CNI_CODE,
  CniError,
  type CniRequest,
  type CniResponse,
  type CniResult,
  type NodeRuntime,
} from './types.js';

/** The pod's gateway per family: an address the host veth answers for, so the pod needs no route per node. */
const POD_GATEWAYS: Record<Family, string> = { 4: POD_GATEWAY, 6: POD_GATEWAY6 };
const DEFAULT_ROUTE: Record<Family, string> = { 4: '0.0.0.0/0', 6: '::/0' };

/** A pod address as CNI results carry it: a host route (/32, /128), since the gateway is the host veth. */
function cniAddress(a: Pick<PodAddress, 'ip' | 'family'>): string {
  return `${a.ip}/${BITS[a.family]}`;
}

/**
 * The ADD result for an attachment's addresses (one per family, IPv4 first): interface 0 is the host veth, 1
 * the pod's; each address and each family's default route name that family's gateway.
 */
export function podResult(
  addrs: readonly PodAddress[],
  links: Pick<PodLinkNames, 'hostVeth' | 'hostMac' | 'podMac'>,
  pod: { ifname: string; netns: string; mtu: number; dns?: CniDns },
): Omit<CniResult, 'cniVersion'> {
  const families = ([4, 6] as const).filter((f) => addrs.some((a) => a.family === f));
  return {
    interfaces: [
      { name: links.hostVeth, mac: links.hostMac },
      { name: pod.ifname, mac: links.podMac, mtu: pod.mtu, sandbox: pod.netns },
    ],
    ips: [...addrs]
      .sort((a, b) => a.family - b.family)
      .map((a) => ({ address: cniAddress(a), gateway: POD_GATEWAYS[a.family], interface: 1 })),
    routes: families.map((f) => ({ dst: DEFAULT_ROUTE[f], gw: POD_GATEWAYS[f] })),
    dns: pod.dns ? { ...pod.dns } : {},
  };
}

/**
 * The result's `dns`: ClusterFirst, as kubelet configures pods, for the pod's namespace from CNI_ARGS
 * (`K8S_POD_NAMESPACE`, as container runtimes pass it; `default` without it). None without a DNS service IP.
 */
export function resultDns(dnsServiceIp: string | null, cniArgs: Record<string, string>): CniDns | undefined {
  return dnsServiceIp ? podDns(dnsServiceIp, cniArgs.K8S_POD_NAMESPACE || 'default') : undefined;
}

/** Runs one CNI call; never throws: failures come back as the spec's error JSON and exit code 1. */
export async function handleCni(req: CniRequest, node: NodeRuntime): Promise<CniResponse> {
  const version = askedVersion(req.stdin);
  try {
    const command = parseCommand(req.env);
    if (command === 'VERSION') return { stdout: renderVersion(versionAsked(req.stdin)), exitCode: 0 };
    const conf = parseConfig(req.stdin, command);
    const att = parseEnv(req.env, command);
    switch (command) {
      case 'ADD': {
        const stdout = await add(conf, att, node);
        node.podsChanged?.();
        return { stdout, exitCode: 0 };
      }
      case 'DEL':
        await del(att, node);
        node.podsChanged?.();
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await check(conf, att, node);
        return { stdout: '', exitCode: 0 };
      case 'GC':
        await gc(conf, node).finally(() => node.podsChanged?.());
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        if (!node.ipam()) {
          throw new CniError(
            CNI_CODE.notAvailable,
            `node ${node.nodeName} holds no pod address block yet`,
            'the podnet agent is waiting for its block lease from the cluster store',
          );
        }
        return { stdout: '', exitCode: 0 };
    }
  } catch (e) {
    return { stdout: renderError(toCniError(e), version), exitCode: 1 };
  }
}

/** VERSION echoes the version asked for (libcni sends its own), whatever the plugin config says. */
function versionAsked(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v)) return v;
  } catch {
    // VERSION needs no valid config
  }
  return '1.1.0';
}

/** PodnetErrors keep their stable code in the message and their hint as details. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof PodnetError) {
    return new CniError(
      e.retryable ? CNI_CODE.tryAgainLater : CNI_CODE.podnet,
      `${e.code}: ${e.message}`,
      e.hint,
    );
  }
  return new CniError(CNI_CODE.internal, `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

/** The node's pod IPAM of every family, IPv4 first; try again later while it holds no block. */
function requireIpams(node: NodeRuntime): PodIpam[] {
  const ipam = node.ipam();
  const all = node.familyIpams?.() ?? (ipam ? [ipam] : []);
  if (!ipam || all.length === 0) {
    throw new CniError(
      CNI_CODE.tryAgainLater,
      `node ${node.nodeName} holds no pod address block yet`,
      'the podnet agent is waiting for its block lease from the cluster store; retry shortly',
    );
  }
  return all;
}

/** The attachment's address in each family that holds one, IPv4 first. */
function heldAddresses(ipams: PodIpam[], att: Pick<Attachment, 'containerId' | 'ifname'>): PodAddress[] {
  return ipams.map((i) => i.get(att.containerId, att.ifname)).filter((a) => a !== null);
}

/** The pod plumbing's addresses: the IPv4 one, and the IPv6 one on a dual-stack node. */
function plumbedIps(addrs: PodAddress[]): { ip: string; ip6?: string } {
  const v6 = addrs.find((a) => a.family === 6);
  return { ip: addrs.find((a) => a.family === 4)?.ip ?? addrs[0].ip, ...(v6 ? { ip6: v6.ip } : {}) };
}

/**
 * Refuses a CNI_NETNS that names no namespace file before the kernel sees it: the kernel's "Invalid argument"
 * would come back as code 100 for what is an invalid environment (4).
 */
function requireNetnsFile(netns: string): void {
  const kind = namespaceFileKind(netns);
  if (kind === 'namespace') return;
  throw new CniError(
    CNI_CODE.invalidEnvironment,
    kind === 'missing'
      ? `invalid env variables [CNI_NETNS]: network namespace ${netns} does not exist`
      : `invalid env variables [CNI_NETNS]: ${netns} is not a network namespace`,
    'CNI_NETNS names a namespace file, e.g. /run/netns/NAME or /proc/PID/ns/net',
  );
}

async function add(conf: NetConf, att: Attachment, node: NodeRuntime): Promise<string> {
  requireNetnsFile(att.netns);
  // Everything that can fail without side effects comes before the allocation.
  const mtu = await node.uplinkMtu();
  const ipams = requireIpams(node);
  const args = parseCniArgs(att.args);
  // An attachment that already holds an address is a live pod (or an ADD the agent died in): never free it here.
  const held = ipams.map((i) => i.get(att.containerId, att.ifname) !== null);
  const undo = () =>
    ipams.forEach((i, n) => {
      if (!held[n]) i.release(att.containerId, att.ifname);
    });
  const addrs: PodAddress[] = [];
  let names: PodLinkNames;
  try {
    // One address of each family, or none: a family's exhausted block frees the other's address.
    for (const ipam of ipams) {
      addrs.push(
        ipam.allocate({
          containerId: att.containerId,
          ifname: att.ifname,
          netns: att.netns,
          podName: args.K8S_POD_NAME,
          podNamespace: args.K8S_POD_NAMESPACE,
        }),
      );
    }
    names = await addPodNetwork(
      { containerId: att.containerId, ifname: att.ifname, netns: att.netns, ...plumbedIps(addrs), mtu },
      node.nodeNetns,
    );
  } catch (e) {
    undo();
    throw e;
  }
  const dns = resultDns(node.dnsServiceIp?.() ?? null, args);
  return renderResult(
    podResult(addrs, names, { ifname: att.ifname, netns: att.netns, mtu, ...(dns ? { dns } : {}) }),
    conf.cniVersion,
  );
}

/** Best effort and idempotent: the veth first (so the address is never live twice), then the address. */
async function del(att: Attachment, node: NodeRuntime): Promise<void> {
  await removePodNetwork(att.containerId, att.ifname, node.nodeNetns);
  for (const ipam of requireIpams(node)) ipam.release(att.containerId, att.ifname);
}

async function check(conf: NetConf, att: Attachment, node: NodeRuntime): Promise<void> {
  requireNetnsFile(att.netns);
  const ipams = requireIpams(node);
  const addrs = heldAddresses(ipams, att);
  if (addrs.length === 0) {
    throw new CniError(
      CNI_CODE.podnet,
      `CHECK failed: container ${att.containerId} interface ${att.ifname} holds no address on node ${node.nodeName}`,
    );
  }
  const problems: string[] = [];
  if (addrs.length < ipams.length) {
    const have = new Set(addrs.map((a) => a.family));
    const missing = ipams.map((i) => i.block).filter((b) => !have.has(b.includes(':') ? 6 : 4));
    problems.push(`the attachment holds no address of block ${missing.join(', ')}`);
  }
  problems.push(
    ...(await checkPodNetwork(
      { containerId: att.containerId, ifname: att.ifname, netns: att.netns, ...plumbedIps(addrs) },
      node.nodeNetns,
    )),
  );
  const podMac = podLinkNames(att.containerId, att.ifname).podMac;
  for (const addr of addrs) problems.push(...prevResultProblems(conf.prevResult, addr, podMac));
  if (problems.length > 0) throw new CniError(CNI_CODE.podnet, `CHECK failed: ${problems.join('; ')}`);
}

/** What a prevResult (our own ADD result, cached by the runtime) says that disagrees with the node's state. */
export function prevResultProblems(
  prev: unknown,
  addr: Pick<PodAddress, 'ip' | 'family'>,
  podMac: string,
): string[] {
  if (prev === undefined) return [];
  const r = prev as { ips?: { address?: string }[]; interfaces?: { mac?: string; sandbox?: string }[] };
  const problems: string[] = [];
  const address = cniAddress(addr);
  if (!r.ips?.some((i) => i.address === address))
    problems.push(`prevResult does not hold the address ${address}`);
  if (!r.interfaces?.some((i) => i.sandbox && i.mac === podMac)) {
    problems.push(`prevResult has no sandbox interface with MAC ${podMac}`);
  }
  return problems;
}

/**
 * Frees every attachment the runtime no longer lists: its veth (and /32 route) and its address; then removes
 * podnet veths that belong to no valid attachment (an ADD interrupted before its address was recorded).
 * Keeps going past failures and reports them all.
 */
async function gc(conf: NetConf, node: NodeRuntime): Promise<void> {
  const ipams = requireIpams(node);
  const key = (c: string, i: string) => `${c}/${i}`;
  const valid = new Set((conf.validAttachments ?? []).map((a) => key(a.containerId, a.ifname)));
  const failures: string[] = [];
  // Every attachment holding an address of any family (a dual-stack pod's two addresses go together).
  const stale = new Map(
    ipams.flatMap((i) => i.list()).map((a) => [key(a.containerId, a.ifname), a] as const),
  );
  for (const [k, a] of stale) {
    if (valid.has(k)) continue;
    try {
      await removePodNetwork(a.containerId, a.ifname, node.nodeNetns);
      for (const ipam of ipams) ipam.release(a.containerId, a.ifname);
    } catch (e) {
      failures.push(`${a.containerId}/${a.ifname}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const v of await listPodVeths(node.nodeNetns)) {
    if (valid.has(key(v.containerId, v.ifname))) continue;
    try {
      await removePodNetwork(v.containerId, v.ifname, node.nodeNetns);
    } catch (e) {
      failures.push(`${v.hostVeth}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (failures.length > 0) throw new CniError(CNI_CODE.podnet, `GC could not remove: ${failures.join('; ')}`);
}
