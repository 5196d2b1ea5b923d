/**
 * Pods, created exactly as a container runtime does it: the runtime makes the pod's namespace, then execs the
 * installed plugin binary inside the node's network namespace with the CNI environment and the plugin's
 * configuration (the conflist's plugin object with `name` and `cniVersion` injected, as libcni does).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CniDns, resolvConf } from '../dns/pod-dns.js';
import { PodnetError } from '../errors/index.js';
import { addNetns, deleteNetns, netnsPath, writeNetnsEtcFile } from '../kernel/netns.js';
import { execInNetns } from '../kernel/process.js';
import type { LabNode, LabPod } from './model.js';

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniResult {
  cniVersion?: string;
  ips?: { address: string }[];
  dns?: Partial<CniDns>;
  [k: string]: unknown;
}

function readConflist(node: LabNode): Conflist {
  const file = readdirSync(node.cniConfDir)
    .filter((f) => f.endsWith('.conflist'))
    .sort()[0];
  if (!file) {
    throw new PodnetError('CniNotInstalled', `no .conflist in ${node.cniConfDir} for node ${node.name}`, {
      hint: 'podnet install-cni writes it; run podnet lab down and up again',
    });
  }
  return JSON.parse(readFileSync(join(node.cniConfDir, file), 'utf8')) as Conflist;
}

/** The stdin libcni gives a plugin: the plugin object plus the list's name and version (and prevResult). */
export function pluginConfig(list: Conflist, prevResult?: unknown): string {
  const plugin = list.plugins[0];
  return JSON.stringify({
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(prevResult === undefined ? {} : { prevResult }),
  });
}

async function execPlugin(
  node: LabNode,
  pod: LabPod,
  command: 'ADD' | 'DEL',
  stdin: string,
): Promise<string> {
  const list = readConflist(node);
  const type = String(list.plugins[0]?.type ?? '');
  const env = [
    `CNI_COMMAND=${command}`,
    `CNI_CONTAINERID=${pod.containerId}`,
    `CNI_NETNS=${netnsPath(pod.netns)}`,
    'CNI_IFNAME=eth0',
    `CNI_PATH=${node.cniBinDir}`,
    `CNI_ARGS=K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}`,
  ];
  const r = await execInNetns(node.netns, ['env', ...env, join(node.cniBinDir, type)], { input: stdin });
  if (r.code !== 0) {
    let msg = r.stderr.trim() || r.stdout.trim();
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      msg = `CNI error ${e.code}: ${e.msg}${e.details ? ` (${e.details})` : ''}`;
    } catch {
      // not a CNI error object; keep the raw output
    }
    throw new PodnetError(
      'LabCniFailed',
      `CNI ${command} of pod ${pod.name} on node ${node.name} failed: ${msg}`,
      {
        hint: `see ${join(node.dir, 'agent.log')}`,
      },
    );
  }
  return r.stdout;
}

/**
 * Creates the pod's namespace and attaches it; returns the CNI result. Its `dns` becomes the pod's resolv.conf,
 * as a runtime that honours the result writes it, in `/etc/netns/<netns>/` where `ip netns exec` (and so `lab
 * exec`) puts it over `/etc/resolv.conf`; with a `hosts: files dns` nsswitch.conf, as container images have
 * (the host's may send `*.local` names to mDNS only). Both go with the namespace (deleteNetns).
 */
export async function addPod(node: LabNode, pod: LabPod): Promise<CniResult> {
  await addNetns(pod.netns);
  const list = readConflist(node);
  const out = await execPlugin(node, pod, 'ADD', pluginConfig(list));
  const result = JSON.parse(out) as CniResult;
  if (result.dns?.nameservers?.length) {
    writeNetnsEtcFile(pod.netns, 'resolv.conf', resolvConf(result.dns));
    writeNetnsEtcFile(pod.netns, 'nsswitch.conf', POD_NSSWITCH);
  }
  return result;
}

const POD_NSSWITCH = 'hosts: files dns\nnetworks: files\npasswd: files\ngroup: files\n';

/** The pod's IPv4 address from a CNI result. */
export function resultIp(result: CniResult): string | undefined {
  return result.ips?.map((i) => i.address.split('/')[0]).find((a) => a.includes('.'));
}

/** The pod's IPv6 address from a CNI result (dual-stack). */
export function resultIp6(result: CniResult): string | undefined {
  return result.ips?.map((i) => i.address.split('/')[0]).find((a) => a.includes(':'));
}

/** DEL with prevResult, then removes the namespace. DEL is idempotent, so a retry after a crash is safe. */
export async function deletePod(node: LabNode, pod: LabPod, prevResult?: unknown): Promise<void> {
  await execPlugin(node, pod, 'DEL', pluginConfig(readConflist(node), prevResult));
  await deleteNetns(pod.netns);
}
