/**
 * Dual-stack pods through the real `bin/podnet-cni`, as root: two node namespaces on a bridge with an IPv4
 * and an IPv6 address each, a test agent per node holding an IPv4 /24 and an IPv6 /120, pods that get one
 * address of each family (CNI 1.1 `ips[]`), reach each other in both families on one node and across nodes,
 * and are checked, deleted and garbage-collected in both families.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { POD_GATEWAY6, podLinkNames } from '../dataplane/pod-network.js';
import { ipBatch, ipJson, listRoutes } from '../kernel/ip.js';
import { execInNetns } from '../kernel/process.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { type PluginCall, SHIM_PATH, execPlugin } from './testing/exec-plugin.js';
import { type TestNode, addTestNode, routeBetween } from './testing/nodes.js';

const r = 200 + (randomBytes(1)[0] % 50);
const hex = r.toString(16);
const POD_CIDRS = [`10.${r}.0.0/16`, `fd12:${hex}::/64`];

type Node = TestNode & { ip6: string; config: Record<string, unknown> };

let scope: NetnsScope;
let dir: string;
const nodes: Node[] = [];

async function addNode(lan: string, i: number): Promise<Node> {
  const node = await addTestNode({ scope, dir, lan, r, podCidrs: POD_CIDRS, dualStack: true }, i);
  const config = { cniVersion: '1.1.0', name: 'podnet', type: 'podnet-cni', agentSocket: node.agent.socket };
  return { ...node, ip6: node.ip6 as string, config };
}

function call(node: Node, c: Omit<PluginCall, 'config'> & { config?: PluginCall['config'] }) {
  return execPlugin(SHIM_PATH, { config: node.config, ...c });
}

interface Result {
  ips: { address: string; gateway: string; interface: number }[];
  routes: { dst: string; gw: string }[];
}

async function addPod(node: Node, role: string) {
  const netns = await scope.add(role);
  const containerId = `${scope.prefix}${role}${randomBytes(4).toString('hex')}`;
  const res = await call(node, { command: 'ADD', containerId, netns: `/run/netns/${netns}` });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const result = res.json as unknown as Result;
  const [ip, ip6] = result.ips.map((x) => x.address.split('/')[0]);
  return { netns, path: `/run/netns/${netns}`, containerId, ip, ip6, result, raw: res.json };
}

/** Up to three echoes: the first IPv6 packet across nodes waits about a second for neighbour discovery. */
async function ping(fromNetns: string, ip: string): Promise<boolean> {
  const argv = ['ping', ...(ip.includes(':') ? ['-6'] : []), '-c', '1', '-W', '2', ip];
  for (let i = 0; i < 3; i++) if ((await execInNetns(fromNetns, argv)).code === 0) return true;
  return false;
}

describe('podnet-cni dual-stack pods', () => {
  before(async () => {
    scope = netnsScope('ds');
    dir = mkdtempSync(join(tmpdir(), 'podnet-ds-cni-'));
    const lan = await scope.add('lan');
    // No multicast snooping: neighbour solicitations (multicast) reach every node, as on a VNet.
    await ipBatch(['link add br0 type bridge mcast_snooping 0', 'link set br0 up'], lan);
    nodes.push(await addNode(lan, 1), await addNode(lan, 2));
    await routeBetween(nodes);
  });

  after(async () => {
    for (const n of nodes) await n.agent.close();
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ADD gives one address of each family with its gateway and default route (CNI 1.1 ips[], routes[])', async () => {
    // CNI spec, SPEC.md "Success": ips[].address in CIDR form, ips[].gateway, routes[].dst/gw.
    const [n1] = nodes;
    const p = await addPod(n1, 'a');
    assert.equal(p.result.ips.length, 2);
    assert.match(p.result.ips[0].address, new RegExp(`^10\\.${r}\\.1\\.\\d+/32$`));
    assert.match(p.result.ips[1].address, new RegExp(`^fd12:${hex}::1[0-9a-f]{2}/128$`));
    assert.deepEqual(
      p.result.ips.map((x) => [x.gateway, x.interface]),
      [
        ['169.254.1.1', 1],
        [POD_GATEWAY6, 1],
      ],
    );
    assert.deepEqual(p.result.routes, [
      { dst: '0.0.0.0/0', gw: '169.254.1.1' },
      { dst: '::/0', gw: POD_GATEWAY6 },
    ]);
    // In the pod: the /128 without DAD (never tentative), the default route via the link-local gateway and
    // its permanent neighbour entry pointing at the host veth.
    const addrs = await ipJson<{ addr_info: { local: string; prefixlen: number; tentative?: boolean }[] }>(
      ['-6', 'addr', 'show', 'dev', 'eth0'],
      p.netns,
    );
    const global = addrs.flatMap((a) => a.addr_info).find((i) => i.local === p.ip6);
    assert.equal(global?.prefixlen, 128);
    assert.notEqual(global?.tentative, true, 'the pod address is usable at once');
    const routes = await listRoutes(['dev', 'eth0'], p.netns, 6);
    assert.ok(routes.some((x) => x.dst === 'default' && x.gateway === POD_GATEWAY6));
    const neigh = await ipJson<{ lladdr?: string; state?: string[] }>(
      ['-6', 'neigh', 'show', POD_GATEWAY6, 'dev', 'eth0'],
      p.netns,
    );
    const host = podLinkNames(p.containerId, 'eth0');
    assert.ok(neigh.some((e) => e.lladdr === host.hostMac && e.state?.includes('PERMANENT')));
    // The node routes the /128 through the host veth, which holds the gateway address itself.
    const nodeRoutes = await listRoutes([`${p.ip6}/128`], n1.netns, 6);
    assert.equal(nodeRoutes[0]?.dev, host.hostVeth);
  });

  it('pods reach each other in both families, on one node and across nodes, and the node in IPv6', async () => {
    const [n1, n2] = nodes;
    const a = await addPod(n1, 'b');
    const b = await addPod(n1, 'c');
    const c = await addPod(n2, 'd');
    for (const [from, to] of [
      [a, b],
      [a, c],
      [c, a],
    ] as const) {
      assert.ok(await ping(from.netns, to.ip), `IPv4 ${from.ip} -> ${to.ip}`);
      assert.ok(await ping(from.netns, to.ip6), `IPv6 ${from.ip6} -> ${to.ip6}`);
    }
    assert.ok(await ping(a.netns, n2.ip6), 'a pod reaches the other node over IPv6');
  });

  it('CHECK covers both families; DEL frees both addresses; GC frees both of a stale attachment', async () => {
    const [n1] = nodes;
    const p = await addPod(n1, 'e');
    const check = () =>
      call(n1, {
        command: 'CHECK',
        containerId: p.containerId,
        netns: p.path,
        config: { ...n1.config, prevResult: p.raw },
      });
    assert.equal((await check()).code, 0, 'a healthy dual-stack pod passes');
    await ipBatch(['route del ::/0 dev eth0'], p.netns);
    const broken = await check();
    assert.equal(broken.code, 1);
    assert.match(String(broken.json?.msg), new RegExp(`pod route default via ${POD_GATEWAY6} is missing`));
    const ipams = n1.agent.node.familyIpams?.() ?? [];
    assert.equal(ipams.length, 2);
    const del = await call(n1, { command: 'DEL', containerId: p.containerId, netns: p.path });
    assert.equal(del.code, 0, del.stdout);
    for (const ipam of ipams) assert.equal(ipam.get(p.containerId, 'eth0'), null);
    // GC: an attachment the runtime no longer lists loses both addresses and its veth.
    const q = await addPod(n1, 'f');
    const keep = await addPod(n1, 'g');
    const gc = await call(n1, {
      command: 'GC',
      config: {
        ...n1.config,
        'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }],
      },
    });
    assert.equal(gc.code, 0, gc.stdout);
    for (const ipam of ipams) {
      assert.equal(ipam.get(q.containerId, 'eth0'), null, `GC freed ${ipam.block}`);
      assert.notEqual(ipam.get(keep.containerId, 'eth0'), null, `GC kept ${ipam.block}`);
    }
  });
});
