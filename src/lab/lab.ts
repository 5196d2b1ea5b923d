/**
 * The lab's verbs: up, down, scale, pod add/del, update (grow the pod CIDR), restart an agent, status,
 * check. Each writes what it is about to create into the lab state before creating it, so `down` can
 * always remove all of it, and only it (names are prefixed; processes are matched by the lab folder).
 * The lab only assembles: the VNet (plan, network, routing domain, firewall) is `src/vnet`, every kernel
 * tool and program in a namespace goes through `src/kernel`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PodnetError, asPodnetError } from '../errors/index.js';
import type { NodeIpamFinding } from '../ipam/node-check.js';
import { checkNode } from '../ipam/node-observe.js';
import { podIpamPath } from '../ipam/pod-ipam.js';
import { deleteNetns, listNetns } from '../kernel/netns.js';
import { execAttached, spawnDaemon } from '../kernel/process.js';
import { FRONTEND_RANGE_KEY, frontendRangeOf } from '../loadbalancer/frontends.js';
import type { ContainerPort, Pod } from '../objects/types.js';
import { outboundHop, outboundOf } from '../outbound/plan.js';
import { checkPlan } from '../plan/check.js';
import { loadProfileFile } from '../profile/load.js';
import type { ClusterProfile, OutboundType } from '../profile/types.js';
import { desiredPeerRoutes, readPodnetRoutes } from '../routing/routes.js';
import { readStatusInput } from '../status/gather.js';
import { type ClusterStatus, type StatusProblem, assessStatus } from '../status/health.js';
import { openStore } from '../store/open.js';
import type { BlockLease, ClusterStore } from '../store/types.js';
import type { VersionedStore } from '../store/versioned.js';
import type { TraceWorld } from '../trace/trace.js';
import { worldFromStore } from '../trace/world.js';
import { applyVnetFirewall } from '../vnet/firewall.js';
import { removeLoadBalancer, runLoadBalancer } from '../vnet/lb.js';
import type { Vnet } from '../vnet/model.js';
import { vnetNetns } from '../vnet/names.js';
import { destroyVnet, ensureVnet } from '../vnet/network.js';
import { removeVnetNsgs, runNsgEnforcer } from '../vnet/nsg-enforcer.js';
import { ensureOutbound, readFirewallLog, removeOutbound } from '../vnet/outbound.js';
import { isDualStack, planVnetJoin, planVnetLeave } from '../vnet/plan.js';
import { addClusterRules, removeClusterRouting, runFabricRouter } from '../vnet/routing-domain.js';
import {
  type OutboundCheck,
  type ProbeResult,
  judgeOutbound,
  planProbes,
  probePort,
  runProbes,
} from './check.js';
import { applyClusterServices } from './cluster-services.js';
import { defaultLabProfile, withNodeCount } from './default-profile.js';
import { issueNodeCert, labStoreUrl, makeLabPki, planEtcd, startEtcd, waitEtcdHealthy } from './etcd.js';
import type { LabNode, LabPod, LabState, StoreKind } from './model.js';
import { LAB_ROOT, checkLabName, clusterDir, clusterPrefix, podName, podNetns } from './names.js';
import {
  agentStateDir,
  agentStatus,
  createNodeNetwork,
  installCni,
  removeNodeNetwork,
  startAgent,
  stopAgent,
  waitAgentReady,
} from './node.js';
import { ensureOutsideDns, stopOutsideDns } from './outside-dns.js';
import { createPodObject, deletePodObject, reportRunning, withObjects } from './pod-store.js';
import { type CniResult, addPod, deletePod, resultIp, resultIp6 } from './pod.js';
import { findProcesses, podnetCommand, stopProcess, waitFor } from './processes.js';
import { selectProbes } from './report.js';
import { startResponder, stopResponder } from './responders.js';
import {
  clearRemoval,
  labStatePath,
  readLab,
  readVnet,
  removeLabDir,
  removeVnetState,
  requestRemoval,
  requireLab,
  watchRemoval,
  withLabLock,
  withVnetLock,
  writeLab,
  writeVnet,
} from './state.js';
import { planPoolNodes } from './topology.js';

export type Progress = (message: string) => void;

export const DEFAULT_PODS_PER_NODE = 2;
/** Each node runs a real agent (a Node.js process) on this host: keep labs to a size a laptop carries. */
export const LAB_MAX_NODES = 20;

/** Refuses a profile the planning rules refuse, with the same error (the first) and all of them in details. */
export function ensurePlanValid(profile: ClusterProfile, previous?: ClusterProfile): void {
  const r = checkPlan(profile, previous ? { previous } : undefined);
  if (r.valid) return;
  const first = r.errors[0];
  throw new PodnetError(
    first.code,
    r.errors.length === 1 ? first.message : `${first.message} (and ${r.errors.length - 1} more problems)`,
    {
      field: first.field,
      hint: 'podnet plan -f FILE lists every problem with its fix',
      details: { errors: r.errors },
    },
  );
}

/** The first subnet slot of the default profile that no cluster of the VNet uses yet. */
function freeDefaultSlot(vnet: Vnet | null): number {
  let slot = 0;
  const taken = new Set(vnet?.subnets.map((s) => s.cidr) ?? []);
  while (defaultLabProfile('x', slot).vnet.subnets.some((s) => taken.has(s.cidr))) slot++;
  return slot;
}

async function withStore<T>(state: LabState, fn: (store: ClusterStore) => Promise<T>): Promise<T> {
  const store = await openStore(state.store.url);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export interface UpOptions {
  name: string;
  vnet?: string;
  file?: string;
  /** A profile given as data (library callers); `file` and the default profile are the CLI's ways. */
  profile?: ClusterProfile;
  nodes?: number;
  podsPerNode?: number;
  store?: StoreKind;
  /** Overrides the profile's `networkProfile.outboundType`. */
  outboundType?: OutboundType;
  /** Who asks: `demo` marks the lab as the demo's, which only a later demo may replace. */
  madeBy?: 'demo';
  progress?: Progress;
}

export async function labUp(o: UpOptions): Promise<LabState> {
  const name = checkLabName(o.name);
  const vnetName = checkLabName(o.vnet ?? name, '--vnet');
  // The lab lock for the whole build, so `lab down` (and every other lab command) waits for it; a `down` asks
  // up to stop (watchRemoval) and up gives up at its next step. Then one change to a VNet at a time: a second
  // `up` into the same VNet waits for the first. Lab lock first, VNet lock second, as `down` takes them.
  return withLabLock(name, async () => {
    const removal = watchRemoval(name);
    try {
      return await withVnetLock(
        vnetName,
        () => buildLab(o, name, vnetName, removal.signal),
        undefined,
        removal.signal,
      );
    } finally {
      removal.stop();
    }
  });
}

async function buildLab(
  o: UpOptions,
  name: string,
  vnetName: string,
  signal: AbortSignal,
): Promise<LabState> {
  const progress = o.progress ?? (() => {});
  if (readLab(name) || existsSync(clusterDir(name))) {
    throw new PodnetError('LabExists', `a lab named "${name}" already exists`, {
      field: '--name',
      hint: `tear it down with podnet lab down --name ${name}, or pick another --name`,
    });
  }
  const vnetBefore = readVnet(vnetName);
  let profile =
    o.profile ?? (o.file ? loadProfileFile(o.file) : defaultLabProfile(name, freeDefaultSlot(vnetBefore)));
  if (o.nodes !== undefined) {
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > LAB_MAX_NODES) {
      throw new PodnetError(
        'InvalidNodeCount',
        `--nodes must be a whole number from 1 to ${LAB_MAX_NODES}, got ${o.nodes}`,
        {
          field: '--nodes',
          hint: 'a lab runs every node (and its agent) on this host; a handful is plenty',
        },
      );
    }
    profile = withNodeCount(profile, o.nodes);
  }
  if (o.outboundType) profile = { ...profile, network: { ...profile.network, outboundType: o.outboundType } };
  ensurePlanValid(profile);
  const total = profile.nodePools.reduce((n, p) => n + p.count, 0);
  if (total > LAB_MAX_NODES) {
    throw new PodnetError(
      'LabTooLarge',
      `the profile asks for ${total} nodes; a lab runs at most ${LAB_MAX_NODES} on one host`,
      {
        field: 'agentPoolProfiles.count',
        hint: "pass --nodes N to spread fewer nodes over the profile's pools",
      },
    );
  }
  const podsPerNode = o.podsPerNode ?? DEFAULT_PODS_PER_NODE;
  const maxPods = Math.min(...profile.nodePools.map((p) => p.maxPods));
  if (!Number.isInteger(podsPerNode) || podsPerNode < 0 || podsPerNode > maxPods) {
    throw new PodnetError(
      'InvalidPodsPerNode',
      `--pods-per-node must be a whole number from 0 to ${maxPods} (max pods of the pools)`,
      {
        field: '--pods-per-node',
        hint: 'pass e.g. --pods-per-node 2',
      },
    );
  }
  // Every conflict with what already shares the VNet is found here, before anything is created.
  const vnetPlan = planVnetJoin(vnetBefore, vnetName, name, profile);
  const dir = clusterDir(name);
  const kind = o.store ?? 'sqlite';
  const state: LabState = {
    name,
    vnet: vnetName,
    dir,
    profile,
    store: { kind, url: `sqlite:${join(dir, 'cluster.db')}` },
    table: vnetPlan.clusters.find((c) => c.name === name)?.table ?? 0,
    podsPerNode,
    nodes: [],
    pods: [],
    phase: 'building',
    ...(o.madeBy ? { madeBy: o.madeBy } : {}),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeLab(state);
  try {
    writeVnet(vnetPlan);
    await ensureVnet(vnetPlan);
    ensureOutsideDns(vnetPlan);
    signal.throwIfAborted();
    await addClusterRules(vnetPlan, name);
    await ensureOutbound(vnetPlan, name);
    progress(
      `vnet ${vnetName}: namespace ${vnetPlan.netns}, subnets ${vnetPlan.subnets.map((s) => `${s.cidr} (gw ${s.gateway})${s.cidr6 ? ` ${s.cidr6} (gw ${s.gateway6})` : ''}`).join(', ')}, routing table ${state.table}`,
    );
    progress(`vnet: ${outboundHop(outboundOf(vnetPlan, name)).detail}`);
    if (kind === 'etcd') {
      const etcd = await planEtcd(dir);
      state.store = { kind, url: labStoreUrl(dir, etcd), etcd };
      writeLab(state);
      const gateways = vnetPlan.subnets.filter((s) => s.cluster === name).map((s) => s.gateway);
      await makeLabPki(etcd, gateways);
      etcd.pid = startEtcd(name, dir, etcd, vnetPlan.netns, gateways);
      writeLab(state);
      await waitEtcdHealthy(dir, etcd);
    }
    signal.throwIfAborted();
    await withStore(state, (store) => store.putCluster(profile, 0));
    await withObjects(state, async (objects) => objects && (await applyClusterServices(objects)));
    const frontendCidr = vnetPlan.clusters.find((c) => c.name === name)?.frontendCidr;
    if (frontendCidr) {
      // The load balancer's range, where Service applies allocate frontends from (src/loadbalancer).
      const range = frontendRangeOf(frontendCidr, isDualStack(profile));
      await withStore(state, (store) =>
        store.kv.txn([], [{ type: 'put', key: FRONTEND_RANGE_KEY, value: JSON.stringify(range) }]),
      );
    }
    signal.throwIfAborted();
    progress(
      `store: ${state.store.url} holds cluster ${name} (pod CIDR ${profile.network.podCidrs.join(', ')})`,
    );
    // Inside the VNet namespace: the load balancer's health probes reach the nodes from there.
    state.fabricPid = spawnDaemon([...podnetCommand(), 'lab', 'fabric', '--state', labStatePath(name)], {
      logFile: join(dir, 'fabric.log'),
      netns: vnetPlan.netns,
    });
    writeLab(state);
    progress('vnet: fabric router started (block via node IP, from the store)');

    await addNodes(state, vnetPlan, planPoolNodes(profile, name, dir, vnetPlan, []), progress, signal);
    signal.throwIfAborted();
    // Started last: its passes take the lab lock, so it starts work once `up` has returned.
    state.kubeletPid = spawnDaemon([...podnetCommand(), 'lab', 'kubelet', '--state', labStatePath(name)], {
      logFile: join(dir, 'kubelet.log'),
    });
    state.phase = 'ready';
    writeLab(state);
    progress('lab kubelet started (Pod objects bound to the lab nodes run as pods)');
    return state;
  } catch (e) {
    // The `lab down` that asked is waiting for the lock and removes what was made.
    if (signal.aborted) throw signal.reason;
    const err = asPodnetError(e);
    throw new PodnetError(err.code, `lab up stopped half-way: ${err.message}`, {
      field: err.field,
      hint: `podnet lab down --name ${name} removes what was made; logs are in ${dir}`,
      details: err.details,
      cause: e,
    });
  }
}

/**
 * Builds nodes (network, CNI, agent), waits for their agents and the fabric routes, then starts their pods;
 * `signal` (lab up's removal watch) stops it between steps.
 */
async function addNodes(
  state: LabState,
  vnet: Vnet,
  nodes: LabNode[],
  progress: Progress,
  signal?: AbortSignal,
): Promise<void> {
  for (const node of nodes) {
    signal?.throwIfAborted();
    state.nodes.push(node);
    writeLab(state);
    mkdirSync(node.dir, { recursive: true });
    await createNodeNetwork(vnet, node);
    await installCni(node);
    if (state.store.etcd) await issueNodeCert(state.store.etcd, node.name);
    node.agentPid = startAgent(state, vnet, node);
    writeLab(state);
    progress(
      `node ${node.name}: ${node.ip}${node.ip6 ? ` ${node.ip6}` : ''} on ${node.subnet}, agent pid ${node.agentPid}`,
    );
  }
  await Promise.all(nodes.map((n) => waitAgentReady(n, undefined, signal)));
  const leases = await waitFabricRoutes(state, vnet, signal);
  for (const n of nodes)
    progress(
      `node ${n.name}: ready, block ${leases
        .filter((l) => l.nodeName === n.name)
        .map((l) => l.block)
        .join(' ')}`,
    );
  // Nodes start their pods side by side, each node one pod at a time, as kubelets do.
  await withObjects(state, (objects) =>
    Promise.all(
      nodes.map(async (node) => {
        for (let i = 0; i < state.podsPerNode; i++) {
          signal?.throwIfAborted();
          const pod = await addLabPod(state, node.name, { labels: upPodLabels(node) }, objects);
          progress(`pod ${pod.name}: ${pod.ip}${pod.ip6 ? ` ${pod.ip6}` : ''} on ${node.name}`);
        }
      }),
    ),
  );
}

/** Waits until every node of the lab holds a lease and the VNet routes every block to its node. */
async function waitFabricRoutes(state: LabState, vnet: Vnet, signal?: AbortSignal): Promise<BlockLease[]> {
  return withStore(state, (store) =>
    waitFor(
      'the fabric router to route every block',
      20_000,
      async () => {
        const leases = await store.listBlocks();
        if (!state.nodes.every((n) => leases.some((l) => l.nodeName === n.name))) return undefined;
        const want = desiredPeerRoutes(leases, {});
        const have = await readPodnetRoutes({ netns: vnet.netns, table: state.table });
        const same =
          want.length === have.length &&
          want.every((w) => have.some((h) => h.dst === w.dst && h.via === w.via));
        return same ? leases : undefined;
      },
      signal,
    ),
  );
}

const POD_NAME = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

/** What to run: a name (default `<node>-p<i>`), namespace, labels, container ports, or a Pod object's. */
export interface LabPodSpec {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  ports?: ContainerPort[];
  /** The Pod object the pod is started for (the lab kubelet); none = the lab writes one itself. */
  object?: Pod;
}

/** The labels `lab up` gives its pods. */
export const upPodLabels = (node: LabNode) => ({ app: 'web', pool: node.pool });

/**
 * Starts a pod on a node as a runtime does (namespace, CNI ADD, its responder) and keeps its `Pod` object
 * (when the store has objects): created first when the lab names the pod itself, so a failure leaves
 * neither the pod nor the object; then its status as kubelet reports it.
 */
export async function addLabPod(
  state: LabState,
  nodeName: string,
  spec: LabPodSpec = {},
  objects: VersionedStore | null = null,
): Promise<LabPod> {
  const node = state.nodes.find((n) => n.name === nodeName);
  if (!node) {
    throw new PodnetError('NodeNotFound', `lab ${state.name} has no node "${nodeName}"`, {
      field: '--node',
      hint: `nodes: ${state.nodes.map((n) => n.name).join(', ')}`,
    });
  }
  const namespace = spec.namespace ?? 'default';
  let podname = spec.name;
  if (podname === undefined) {
    let i = 0;
    while (state.pods.some((p) => p.name === podName(node.name, i))) i++;
    podname = podName(node.name, i);
  }
  for (const [what, value] of [
    ['pod', podname],
    ['namespace', namespace],
  ]) {
    if (!POD_NAME.test(value)) {
      throw new PodnetError(
        what === 'pod' ? 'InvalidPodName' : 'InvalidNamespaceName',
        `${what} name "${value.slice(0, 64)}" is not a lower-case DNS label of at most 40 characters`,
        { field: what === 'pod' ? '--pod' : '--namespace', hint: 'use e.g. web-1' },
      );
    }
  }
  if (state.pods.some((p) => p.name === podname && p.namespace === namespace)) {
    throw new PodnetError('PodExists', `pod "${namespace}/${podname}" already exists in lab ${state.name}`, {
      field: '--pod',
      hint: 'pick another name',
    });
  }
  const pod: LabPod = {
    name: podname,
    namespace,
    node: node.name,
    netns: podNetns(state.name, podname, namespace),
    containerId: randomBytes(16).toString('hex'),
    ...(spec.labels ? { labels: spec.labels } : {}),
    ...(spec.ports?.length ? { ports: spec.ports } : {}),
  };
  const ours = objects && !spec.object ? await createPodObject(objects, pod) : null;
  const uid = spec.object?.metadata.uid ?? ours?.metadata.uid;
  if (uid) pod.uid = uid;
  state.pods.push(pod);
  writeLab(state);
  let result: CniResult;
  try {
    result = await addPod(node, pod);
    pod.ip = resultIp(result);
    const ip6 = resultIp6(result);
    if (ip6) pod.ip6 = ip6;
    pod.cniResult = result;
    if (pod.ports) pod.responderPid = startResponder(state, pod);
  } catch (e) {
    // As a runtime does after a failed ADD: DEL (best effort), drop the namespace, forget the pod.
    await deletePod(node, pod).catch(() => deleteNetns(pod.netns));
    if (ours && objects) await deletePodObject(objects, pod).catch(() => {});
    state.pods = state.pods.filter((p) => p !== pod);
    writeLab(state);
    throw e;
  }
  writeLab(state);
  if (objects && pod.uid) await reportRunning(objects, pod, node);
  return pod;
}

/** `NAME` (in default, else the only pod of that name) or `NAMESPACE/NAME`. */
export function findLabPod(state: LabState, ref: string): LabPod | undefined {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) : [null, ref];
  const named = state.pods.filter((p) => p.name === name && (ns === null || p.namespace === ns));
  return named.find((p) => p.namespace === 'default') ?? (named.length === 1 ? named[0] : undefined);
}

/** Stops a pod (its responder, CNI DEL with its prevResult, its namespace) and deletes its own Pod object. */
export async function deleteLabPod(
  state: LabState,
  ref: string | LabPod,
  objects: VersionedStore | null = null,
): Promise<void> {
  const pod = typeof ref === 'string' ? findLabPod(state, ref) : ref;
  if (!pod) {
    throw new PodnetError('PodNotFound', `lab ${state.name} has no pod "${ref}"`, {
      field: 'POD',
      hint: 'podnet lab status lists the pods (NAME, or NAMESPACE/NAME outside default)',
    });
  }
  const node = state.nodes.find((n) => n.name === pod.node) as LabNode;
  await stopResponder(state, pod);
  await deletePod(node, pod, pod.cniResult);
  state.pods = state.pods.filter((p) => p !== pod);
  writeLab(state);
  if (objects && pod.uid) await deletePodObject(objects, pod);
}

/** Sets a pool's node count: new nodes get new blocks (and pods); removed nodes give their block back. */
export async function labScale(
  name: string,
  pool: string,
  count: number,
  progress: Progress = () => {},
): Promise<LabState> {
  return withLabLock(name, async () => {
    const state = requireLab(name);
    const p = state.profile.nodePools.find((x) => x.name === pool);
    if (!p) {
      throw new PodnetError('PoolNotFound', `lab ${name} has no node pool "${pool}"`, {
        field: '--pool',
        hint: `pools: ${state.profile.nodePools.map((x) => x.name).join(', ')}`,
      });
    }
    const others = state.nodes.filter((n) => n.pool !== pool).length;
    if (!Number.isInteger(count) || count < 0 || count + others > LAB_MAX_NODES) {
      throw new PodnetError(
        'InvalidNodeCount',
        `--count must be a whole number from 0 to ${LAB_MAX_NODES - others}, got ${count}`,
        {
          field: '--count',
          hint: 'a lab runs every node on this host; a handful is plenty',
        },
      );
    }
    const profile: ClusterProfile = {
      ...state.profile,
      nodePools: state.profile.nodePools.map((x) => (x.name === pool ? { ...x, count } : x)),
    };
    ensurePlanValid(profile);
    const vnet = readVnet(state.vnet) as Vnet;
    await withStore(state, async (store) => {
      const rec = await store.getCluster();
      await store.putCluster(profile, rec?.generation ?? 0);
    });
    const wanted = planPoolNodes(profile, name, state.dir, vnet, state.nodes);
    const added = wanted.filter((n) => !state.nodes.includes(n));
    const removed = state.nodes.filter((n) => n.pool === pool && !wanted.includes(n));
    state.profile = profile;
    writeLab(state);
    for (const node of removed) {
      await withObjects(state, async (objects) => {
        for (const pod of state.pods.filter((x) => x.node === node.name))
          await deleteLabPod(state, pod, objects);
      });
      await stopAgent(node);
      await withStore(state, (store) => store.releaseBlock(node.name));
      await removeNodeNetwork(node);
      state.nodes = state.nodes.filter((n) => n !== node);
      writeLab(state);
      progress(`node ${node.name}: removed, block released`);
    }
    if (added.length > 0) await addNodes(state, vnet, added, progress);
    else await waitFabricRoutes(state, vnet);
    return state;
  });
}

/** Grows the pod CIDR live: checked as `podnet plan` checks an update, then written to the store. */
export async function labUpdatePodCidr(
  name: string,
  podCidr: string,
  progress: Progress = () => {},
): Promise<LabState> {
  return withLabLock(name, async () => {
    const state = requireLab(name);
    await withStore(state, async (store) => {
      const rec = await store.getCluster();
      const previous = rec?.profile ?? state.profile;
      // The new CIDR takes the place of its family's; the other family's stays (and plan judges the change).
      const podCidrs = previous.network.podCidrs.map((c) =>
        c.includes(':') === podCidr.includes(':') ? podCidr : c,
      );
      const profile: ClusterProfile = { ...previous, network: { ...previous.network, podCidrs } };
      ensurePlanValid(profile, previous);
      await store.putCluster(profile, rec?.generation ?? 0);
      state.profile = profile;
    });
    writeLab(state);
    await withVnetLock(state.vnet, async () => {
      const vnet = readVnet(state.vnet) as Vnet;
      const c = vnet.clusters.find((x) => x.name === name);
      if (c) c.podCidrs = [...state.profile.network.podCidrs];
      writeVnet(vnet);
      await applyVnetFirewall(vnet);
    });
    // Until an agent has the grown CIDR, it would SNAT traffic to pods in the new range: wait for all of them.
    const want = state.profile.network.podCidrs.join(',');
    await waitFor('every agent to take the grown pod CIDR', 30_000, async () => {
      const views = await Promise.all(state.nodes.map((n) => agentStatus(n)));
      return views.every((v) => v?.podCidrs.join(',') === want) ? true : undefined;
    });
    progress(`cluster ${name}: pod CIDR is now ${podCidr}, taken by every agent`);
    return state;
  });
}

/** Restarts a node's agent (after a crash, or to show that one converges). */
export async function labRestartAgent(name: string, nodeName: string): Promise<LabNode> {
  return withLabLock(name, async () => {
    const state = requireLab(name);
    const node = state.nodes.find((n) => n.name === nodeName);
    if (!node) {
      throw new PodnetError('NodeNotFound', `lab ${name} has no node "${nodeName}"`, {
        field: '--node',
        hint: `nodes: ${state.nodes.map((n) => n.name).join(', ')}`,
      });
    }
    await stopAgent(node);
    node.agentPid = startAgent(state, readVnet(state.vnet) as Vnet, node);
    writeLab(state);
    await waitAgentReady(node);
    return node;
  });
}

function findVnetOf(cluster: string): Vnet | null {
  if (!existsSync(LAB_ROOT)) return null;
  for (const f of readdirSync(LAB_ROOT)) {
    const m = /^vnet-(.+)\.json$/.exec(f);
    const v = m ? readVnet(m[1]) : null;
    if (v?.clusters.some((c) => c.name === cluster)) return v;
  }
  return null;
}

/**
 * Removes everything the lab made, also after a crashed or half-failed `up`: pods (CNI DEL while the agent
 * still answers), processes (recorded pids, then any process naming the lab folder), namespaces (recorded,
 * then any with the lab's prefix), the cluster's rules and routes in the VNet, the VNet itself when no other
 * cluster uses it, and the lab folder.
 */
export async function labDown(name: string, progress: Progress = () => {}): Promise<{ removed: string[] }> {
  // A `lab up` of this lab holds the lock while it builds: ask it to stop, then wait for the lock.
  requestRemoval(checkLabName(name));
  return withLabLock(name, async () => {
    const state = readLab(name);
    const dir = clusterDir(name);
    const prefix = clusterPrefix(name);
    const leftNetns = (await listNetns()).filter((n) => n.startsWith(prefix));
    const vnet = state ? readVnet(state.vnet) : findVnetOf(name);
    if (!state && !existsSync(dir) && leftNetns.length === 0 && !vnet) {
      throw new PodnetError('LabNotFound', `no lab named "${name}" on this host`, {
        field: '--name',
        hint: 'podnet lab status lists the labs',
      });
    }
    const removed: string[] = [];
    if (state) {
      for (const pod of [...state.pods]) {
        try {
          await deletePod(state.nodes.find((n) => n.name === pod.node) as LabNode, pod, pod.cniResult);
        } catch {
          // The agent may be gone (crashed lab); the namespace goes below and the node's state with the folder.
        }
      }
      const pids = [
        state.kubeletPid,
        ...state.nodes.map((n) => n.agentPid),
        state.fabricPid,
        state.store.etcd?.pid,
      ];
      for (const pid of pids) if (pid !== undefined) await stopProcess(pid, `${dir}/`);
    }
    for (const pid of findProcesses(`${dir}/`)) await stopProcess(pid, `${dir}/`);
    const netns = new Set([
      ...leftNetns,
      ...(state?.nodes.map((n) => n.netns) ?? []),
      ...(state?.pods.map((p) => p.netns) ?? []),
    ]);
    // Pods first: their veths live in the node namespaces.
    for (const ns of [...netns].sort((a, b) => Number(b.includes('-pod-')) - Number(a.includes('-pod-')))) {
      if ((await listNetns()).includes(ns)) {
        await deleteNetns(ns);
        removed.push(`netns ${ns}`);
      }
    }
    if (vnet) {
      await withVnetLock(vnet.name, async () => {
        // Read again under the lock: another cluster may have joined or left meanwhile.
        const current = readVnet(vnet.name);
        if (!current) return;
        await removeClusterRouting(current, name);
        await removeOutbound(current, name);
        const leaving = current.clusters.find((c) => c.name === name);
        const next = planVnetLeave(current, name);
        if (next.clusters.length === 0) {
          await stopOutsideDns(next);
          await destroyVnet(next);
          removeVnetState(next.name);
          removed.push(
            `vnet ${next.name} (${next.netns} and ${next.externalHosts.map((h) => h.netns).join(', ')})`,
          );
        } else {
          writeVnet(next);
          await applyVnetFirewall(next);
          await removeVnetNsgs(next.netns, name);
          if (leaving) await removeLoadBalancer(next.netns, name, leaving.table);
          removed.push(
            `cluster ${name} from vnet ${next.name} (still used by ${next.clusters.map((c) => c.name).join(', ')})`,
          );
        }
      });
    }
    removeLabDir(name);
    progress(`lab ${name}: removed`);
    return { removed };
  }).finally(() => clearRemoval(name));
}

export interface StatusJson {
  clusters: {
    name: string;
    podCidr: string;
    vnetNetns: string;
    nodes: {
      name: string;
      pool: string;
      ip: string;
      /** Dual-stack: the node's IPv6 address and block. */
      ip6?: string;
      block6?: string;
      block: string | null;
      netns: string;
      /** The agent as `podnet status` sees it: `ok`, `silent`, or the codes of its problems. */
      agent: string;
      pods: { name: string; namespace: string; ip: string | null; ip6?: string; netns: string }[];
    }[];
  }[];
  externalHosts: { name: string; ip: string; ip6?: string; netns: string }[];
}

/** The labs' shape as `lab status -o json` prints it; blocks come from the store (null if unreachable). */
export async function labStatus(names: string[]): Promise<StatusJson> {
  const out: StatusJson = { clusters: [], externalHosts: [] };
  const vnets = new Map<string, Vnet>();
  for (const name of names) {
    const state = requireLab(name);
    const vnet = readVnet(state.vnet);
    if (vnet) vnets.set(vnet.name, vnet);
    let leases: BlockLease[] = [];
    let health: ClusterStatus | null = null;
    try {
      [leases, health] = await withStore(state, async (s) => [
        await s.listBlocks(),
        await labHealth(state, s),
      ]);
    } catch {
      // store unreachable (etcd stopped): blocks show as null
    }
    out.clusters.push({
      name,
      podCidr: state.profile.network.podCidrs.join(','),
      vnetNetns: vnet?.netns ?? '',
      nodes: state.nodes.map((n) => ({
        name: n.name,
        pool: n.pool,
        ip: n.ip,
        ...(n.ip6 ? { ip6: n.ip6 } : {}),
        block: leases.find((l) => l.nodeName === n.name && !l.block.includes(':'))?.block ?? null,
        ...dualBlock(leases, n),
        netns: n.netns,
        agent: agentSummary(health, n.name),
        pods: state.pods
          .filter((p) => p.node === n.name)
          .map((p) => ({
            name: p.name,
            namespace: p.namespace,
            ip: p.ip ?? null,
            ...(p.ip6 ? { ip6: p.ip6 } : {}),
            netns: p.netns,
          })),
      })),
    });
  }
  for (const v of vnets.values())
    for (const h of v.externalHosts)
      out.externalHosts.push({ name: h.name, ip: h.ip, ...(h.ip6 ? { ip6: h.ip6 } : {}), netns: h.netns });
  return out;
}

/** A dual-stack node's IPv6 block, when it holds one. */
function dualBlock(leases: BlockLease[], n: LabNode): { block6?: string } {
  const l = leases.find((x) => x.nodeName === n.name && x.block.includes(':'));
  return l ? { block6: l.block } : {};
}

/** `podnet status` of the lab's cluster, the lab's nodes expected. */
function labHealth(state: LabState, store: ClusterStore): Promise<ClusterStatus> {
  return readStatusInput(
    store,
    state.nodes.map((n) => n.name),
  ).then((input) => assessStatus(input, Date.now()));
}

function agentSummary(health: ClusterStatus | null, node: string): string {
  const n = health?.nodes.find((x) => x.name === node);
  if (!health || !n) return 'unknown';
  const codes = health.problems.filter((p) => p.node === node).map((p) => p.code);
  return codes.length === 0 ? 'ok' : n.agent.state !== 'ok' ? 'silent' : codes.join(',');
}

/** trace's world of a lab: its store's objects and profile, and its way out as its VNet carries it. */
export async function labTraceWorld(
  state: LabState,
  vnet = readVnet(state.vnet) as Vnet,
): Promise<TraceWorld> {
  const world = await worldFromStore(state.store.url);
  world.outbound = outboundOf(vnet, state.name);
  return world;
}

export interface LabCheckResult {
  probes: ProbeResult[];
  /** What the internet saw of the cluster's egress, against its outbound type's plan. */
  outbound: OutboundCheck;
  /** `podnet ipam check` of every node: its pod addresses against its kernel and its lease. */
  ipam: { node: string; findings: NodeIpamFinding[] }[];
  /** `podnet status` of every node: its agent's heartbeat, lease and dataplane. */
  agents: { node: string; problems: StatusProblem[] }[];
}

/**
 * Probes the lab for real (those whose name matches `test`, as `lab check --test` takes it), then checks
 * every node's IPAM as `podnet ipam check` does and its agent as `podnet status` does.
 */
export async function labCheck(name: string, opts: { test?: string } = {}): Promise<LabCheckResult> {
  const state = requireLab(name);
  const vnet = readVnet(state.vnet) as Vnet;
  const world = await labTraceWorld(state, vnet);
  const planned = planProbes(state, vnet, world, probePort());
  const selected = opts.test === undefined ? planned : selectProbes(planned, opts.test);
  const probes = await runProbes(selected);
  const plan = outboundOf(vnet, name);
  const internet = vnet.externalHosts.find((h) => h.kind === 'internet')?.name ?? 'internet';
  const log = plan.appliance?.kind === 'firewall' ? await readFirewallLog(plan) : null;
  const nodeIp = (pod: string) => {
    const node = state.pods.find((p) => `pod/${p.name}` === pod)?.node;
    return state.nodes.find((n) => n.name === node)?.ip;
  };
  const outbound = judgeOutbound(plan, internet, selected, probes, log, nodeIp);
  const health = await withStore(state, (store) => labHealth(state, store));
  const agents = state.nodes.map((n) => ({
    node: n.name,
    problems: health.problems.filter((p) => p.node === n.name),
  }));
  const ipam = await withStore(state, (store) =>
    Promise.all(
      state.nodes.map(async (n) => {
        const { findings } = await checkNode({
          node: n.name,
          podIpamFile: podIpamPath(agentStateDir(n), n.name),
          podIpamFile6: podIpamPath(agentStateDir(n), n.name, 6),
          netns: n.netns,
          leases: () => store.listBlocks(),
        });
        return { node: n.name, findings };
      }),
    ),
  );
  return { probes, outbound, ipam, agents };
}

export const labCheckPassed = (r: LabCheckResult) =>
  r.probes.every((p) => p.ok) &&
  r.outbound.ok &&
  r.ipam.every((n) => n.findings.length === 0) &&
  r.agents.every((a) => a.problems.length === 0);

/** Runs a command in a pod's (or a node's, or an external host's) namespace, terminal attached. */
export async function labExec(name: string, target: string, argv: string[]): Promise<number> {
  const state = requireLab(name);
  const vnet = readVnet(state.vnet);
  const pod = findLabPod(state, target);
  const netns =
    pod?.netns ??
    state.nodes.find((n) => n.name === target)?.netns ??
    vnet?.externalHosts.find((h) => h.name === target)?.netns;
  if (!netns) {
    throw new PodnetError('PodNotFound', `lab ${name} has no pod, node or external host "${target}"`, {
      field: 'POD',
      hint: 'podnet lab status lists them',
    });
  }
  if (argv.length === 0) {
    throw new PodnetError('UsageError', 'no command given', {
      field: 'CMD',
      hint: `podnet lab exec ${target} -- ip addr`,
    });
  }
  // A pod's programs see its own resolv.conf (`/etc/netns/<netns>/`, written from its CNI result).
  return execAttached(netns, argv, { netnsEtc: pod !== undefined });
}

/** `lab pod add`: one pod on a node, while no other command changes the lab. */
export function labPodAdd(name: string, node: string, spec: LabPodSpec = {}): Promise<LabPod> {
  return withLabLock(name, () => {
    const state = requireLab(name);
    return withObjects(state, (objects) => addLabPod(state, node, spec, objects));
  });
}

/** `lab pod del`. */
export function labPodDel(name: string, pod: string): Promise<void> {
  return withLabLock(name, () => {
    const state = requireLab(name);
    return withObjects(state, (objects) => deleteLabPod(state, pod, objects));
  });
}

/**
 * `podnet lab fabric --state FILE` (hidden, started by `up`): the VNet's side of the lab's cluster, its fabric
 * router, its NSG enforcer and its load balancer.
 */
export async function labFabric(statePath: string): Promise<void> {
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as LabState;
  const netns = vnetNetns(state.vnet);
  const frontendCidr = readVnet(state.vnet)?.clusters.find((c) => c.name === state.name)?.frontendCidr;
  const frontends = frontendCidr ? frontendRangeOf(frontendCidr, isDualStack(state.profile)) : undefined;
  await Promise.all([
    runFabricRouter({ cluster: state.name, storeUrl: state.store.url, netns, table: state.table }),
    runNsgEnforcer({ cluster: state.name, storeUrl: state.store.url, netns, frontends }),
    ...(frontends
      ? [
          runLoadBalancer({
            cluster: state.name,
            storeUrl: state.store.url,
            netns,
            frontends,
            table: state.table,
          }),
        ]
      : []),
  ]);
}
