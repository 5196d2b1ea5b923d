/**
 * The thin edge of `podnet ipam check`: reads what checkNodeIpam compares (the node's pod address file, the
 * pods' plumbing in the node's kernel, the store's leases) and looks twice when the first look finds anything.
 * Used by `podnet ipam check` on a node and by `podnet lab check` for every lab node.
 */
import { listPodRoutes, listPodVeths } from '../dataplane/pod-network.js';
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
  const [veths, podRoutes] = await Promise.all([listPodVeths(t.netns), listPodRoutes(t.netns)]);
  const o: NodeIpamObservation = { node: t.node, fileBlock: block, addresses, veths, podRoutes };
  if (t.leases) {
    const leases = await t.leases();
    o.lease = leases.find((l) => l.nodeName === t.node) ?? null;
    o.blockHolder = leases.find((l) => l.block === block)?.nodeName ?? null;
  }
  return o;
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
