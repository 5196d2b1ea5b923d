/**
 * The thin edge of `podnet ipam check`: reads what checkNodeIpam compares (the node's pod address file, the
 * pods' plumbing in the node's kernel and inside each pod, the store's leases) and looks twice when the first
 * look finds anything.
 * Used by `podnet ipam check` on a node and by `podnet lab check` for every lab node.
 */
import { existsSync } from 'node:fs';
import { parseCidr } from '../addr/index.js';
import { checkPodNetwork, readPodPlumbing } from '../dataplane/pod-network.js';
import type { ClusterStore } from '../store/types.js';
import {
  type NodeIpamFinding,
  type NodeIpamObservation,
  checkNodeIpam,
  lastingFindings,
} from './node-check.js';
import { readPodIpamFile } from './pod-ipam.js';

export interface NodeIpamTarget {
  node: string;
  /** The node's pod address file (`podIpamPath(stateDir, node)`). */
  podIpamFile: string;
  /**
   * A dual-stack node's IPv6 pod address file (`podIpamPath(stateDir, node, 6)`), checked the same way against
   * the IPv6 routes and the IPv6 lease; left out, or absent on disk (a single-stack node), it is not checked.
   */
  podIpamFile6?: string;
  /** The node's network namespace, when it is one (a lab node); else this process's. */
  netns?: string;
  /** Checks the lease too, against this store's lease list. */
  leases?: () => ReturnType<ClusterStore['listBlocks']>;
}

/** The IPv4 file's observation; with `podIpamFile6` on disk, the IPv6 file's too (its leases of IPv6 blocks). */
export async function observeNodeIpam(t: NodeIpamTarget): Promise<NodeIpamObservation> {
  return (await observeFiles(t))[0];
}

async function observeFiles(t: NodeIpamTarget): Promise<NodeIpamObservation[]> {
  const leases = t.leases ? await t.leases() : undefined;
  const files: [string, 4 | 6][] = [
    [t.podIpamFile, 4],
    ...(t.podIpamFile6 && existsSync(t.podIpamFile6) ? [[t.podIpamFile6, 6] as [string, 6]] : []),
  ];
  const seen = await Promise.all(
    files.map(async ([file, family]) => {
      const { block, addresses } = readPodIpamFile(file);
      const o: NodeIpamObservation = {
        node: t.node,
        fileBlock: block,
        addresses,
        ...(await readPodPlumbing(t.netns, family)),
      };
      // A node holds one lease per family: the file is checked against its family's.
      if (leases) o.leases = leases.filter((l) => parseCidr(l.block).family === family);
      return o;
    }),
  );
  // CNI CHECK's look inside a pod covers both of its addresses at once: done once, from the IPv4 side.
  const ip6 = new Map((seen[1]?.addresses ?? []).map((a) => [`${a.containerId}/${a.ifname}`, a.ip]));
  seen[0].podSides = await observePodSides(seen[0], t.netns, ip6);
  return seen;
}

/**
 * Looks inside every pod whose node side is there, with CNI CHECK's own check: about six `ip` reads a pod,
 * fine on demand; the agent's audit at every resync (agent/node-agent.ts) leaves it out for that reason.
 */
async function observePodSides(
  o: NodeIpamObservation,
  nodeNetns: string | undefined,
  ip6: Map<string, string>,
): Promise<NodeIpamObservation['podSides']> {
  const plumbed = o.addresses.filter(
    (a) => a.netns && o.veths.some((v) => v.containerId === a.containerId && v.ifname === a.ifname),
  );
  return Promise.all(
    plumbed.map(async (a) => ({
      containerId: a.containerId,
      ifname: a.ifname,
      problems: await checkPodNetwork(
        {
          containerId: a.containerId,
          ifname: a.ifname,
          netns: a.netns as string,
          ip: a.ip,
          ...(ip6.has(`${a.containerId}/${a.ifname}`)
            ? { ip6: ip6.get(`${a.containerId}/${a.ifname}`) }
            : {}),
        },
        nodeNetns,
      ),
    })),
  );
}

/** A pod in the middle of ADD or DEL looks like a leak for a moment: when the first look finds anything, look again. */
const SECOND_LOOK_MS = 1000;

/** Checks a node; the findings are those two looks a second apart agree on, the observation the last one. */
/**
 * Checks a node (each of its family files); the findings are those two looks a second apart agree on, the
 * observation the IPv4 file's of the last one.
 */
export async function checkNode(
  t: NodeIpamTarget,
): Promise<{ observation: NodeIpamObservation; findings: NodeIpamFinding[] }> {
  const check = (seen: NodeIpamObservation[]) =>
    seen
      .flatMap((o) => checkNodeIpam(o))
      .sort((x, y) => x.code.localeCompare(y.code) || x.subject.localeCompare(y.subject));
  let seen = await observeFiles(t);
  let findings = check(seen);
  if (findings.length > 0) {
    await new Promise((r) => setTimeout(r, SECOND_LOOK_MS));
    seen = await observeFiles(t);
    findings = lastingFindings(findings, check(seen));
  }
  return { observation: seen[0], findings };
}
