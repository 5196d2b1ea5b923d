/**
 * The thin edge of `podnet ipam check`: reads what checkNodeIpam compares (the node's pod address file, the
 * pods' plumbing in the node's kernel and inside each pod, the store's leases) and looks twice when the first
 * look finds anything.
 * Used by `podnet ipam check` on a node and by `podnet lab check` for every lab node.
 */
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
  /** The node's network namespace, when it is one (a lab node); else this process's. */
  netns?: string;
  /** Checks the lease too, against this store's lease list. */
  leases?: () => ReturnType<ClusterStore['listBlocks']>;
}

export async function observeNodeIpam(t: NodeIpamTarget): Promise<NodeIpamObservation> {
  const { block, addresses } = readPodIpamFile(t.podIpamFile);
  const o: NodeIpamObservation = {
    node: t.node,
    fileBlock: block,
    addresses,
    ...(await readPodPlumbing(t.netns)),
  };
  if (t.leases) o.leases = await t.leases();
  o.podSides = await observePodSides(o, t.netns);
  return o;
}

/**
 * Looks inside every pod whose node side is there, with CNI CHECK's own check: about six `ip` reads a pod,
 * fine on demand; the agent's audit at every resync (agent/node-agent.ts) leaves it out for that reason.
 */
async function observePodSides(
  o: NodeIpamObservation,
  nodeNetns?: string,
): Promise<NodeIpamObservation['podSides']> {
  const plumbed = o.addresses.filter(
    (a) => a.netns && o.veths.some((v) => v.containerId === a.containerId && v.ifname === a.ifname),
  );
  return Promise.all(
    plumbed.map(async (a) => ({
      containerId: a.containerId,
      ifname: a.ifname,
      problems: await checkPodNetwork(
        { containerId: a.containerId, ifname: a.ifname, netns: a.netns as string, ip: a.ip },
        nodeNetns,
      ),
    })),
  );
}

/** A pod in the middle of ADD or DEL looks like a leak for a moment: when the first look finds anything, look again. */
const SECOND_LOOK_MS = 1000;

/** Checks a node; the findings are those two looks a second apart agree on, the observation the last one. */
export async function checkNode(
  t: NodeIpamTarget,
): Promise<{ observation: NodeIpamObservation; findings: NodeIpamFinding[] }> {
  let observation = await observeNodeIpam(t);
  let findings = checkNodeIpam(observation);
  if (findings.length > 0) {
    await new Promise((r) => setTimeout(r, SECOND_LOOK_MS));
    observation = await observeNodeIpam(t);
    findings = lastingFindings(findings, checkNodeIpam(observation));
  }
  return { observation, findings };
}
