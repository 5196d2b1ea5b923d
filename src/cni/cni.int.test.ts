/**
 * The CNI plugin end to end, as root: two node namespaces on a bridge, a test agent per node serving the real
 * handler on a unix socket, pods created by exec'ing the real `bin/podnet-cni` exactly as a runtime does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { podLinkNames } from '../dataplane/pod-network.js';
import { ipBatch, ipJson } from '../kernel/ip.js';
import { execInNetns, spawnInNetns } from '../kernel/process.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { sourceSeenBy } from '../testing/tcp-probe.js';
import { type PluginCall, SHIM_PATH, execPlugin, shimFor } from './testing/exec-plugin.js';
import { type TestNode, addTestNode, routeBetween } from './testing/nodes.js';

const r = 200 + (randomBytes(1)[0] % 50);
const POD_CIDR = `10.${r}.0.0/16`;
const UPLINK_MTU = 1450;

type Node = TestNode & { config: Record<string, unknown> };

let scope: NetnsScope;
let dir: string;
const nodes: Node[] = [];

async function addNode(lan: string, i: number): Promise<Node> {
  const node = await addTestNode(
    { scope, dir, lan, r, podCidrs: [POD_CIDR], mtu: UPLINK_MTU, defaultVia: `172.31.${r}.254` },
    i,
  );
  return { ...node, config: { cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni' } };
}

/** Execs the plugin as installed on `node` (for its agent's socket). */
function call(node: Node, c: Omit<PluginCall, 'config'> & { config?: PluginCall['config'] }) {
  return execPlugin(shimFor(node.agent.socket), { config: node.config, ...c });
}

async function addPod(node: Node, role: string) {
  const netns = await scope.add(role);
  const containerId = `${scope.prefix}${role}${randomBytes(4).toString('hex')}`;
  const res = await call(node, { command: 'ADD', containerId, netns: `/run/netns/${netns}` });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const ip = String((res.json as { ips: { address: string }[] }).ips[0].address).split('/')[0];
  return { netns, path: `/run/netns/${netns}`, containerId, ip, result: res.json! };
}

async function ping(fromNetns: string, ip: string): Promise<boolean> {
  return (await execInNetns(fromNetns, ['ping', '-c', '1', '-W', '1', ip])).code === 0;
}

async function hostVethExists(node: Node, containerId: string, ifname = 'eth0'): Promise<boolean> {
  const links = await ipJson<{ ifname: string }>(['link', 'show'], node.netns);
  return links.some((l) => l.ifname === podLinkNames(containerId, ifname).hostVeth);
}

describe('podnet-cni on two nodes', () => {
  before(async () => {
    scope = netnsScope('pc');
    dir = mkdtempSync(join(tmpdir(), 'podnet-cni-'));
    const lan = await scope.add('lan');
    await ipBatch(['link add br0 type bridge', 'link set br0 up'], lan);
    nodes.push(await addNode(lan, 1), await addNode(lan, 2));
    await routeBetween(nodes);
  });

  after(async () => {
    for (const n of nodes) await n.agent.close();
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('VERSION is answered by the shim itself, as the reference plugins answer it (newest version)', async () => {
    const res = await execPlugin(SHIM_PATH, {
      command: 'VERSION',
      config: { cniVersion: '1.0.0' },
      env: { CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy', CNI_AGENT_SOCKET: '/nonexistent' },
    });
    assert.equal(res.code, 0);
    assert.deepEqual(res.json, {
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });

  it('ADD plumbs pods; same-node and cross-node traffic keeps the pod source address', async () => {
    const [n1, n2] = nodes;
    const a1 = await addPod(n1, 'a1');
    const a2 = await addPod(n1, 'a2');
    const b1 = await addPod(n2, 'b1');
    const res = a1.result as {
      cniVersion: string;
      interfaces: { name: string; mac: string; sandbox?: string }[];
      ips: { address: string; gateway: string; interface: number }[];
    };
    assert.equal(res.cniVersion, '1.0.0');
    assert.equal(res.interfaces[1].name, 'eth0');
    assert.equal(res.interfaces[1].sandbox, a1.path);
    assert.match(res.interfaces[1].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(res.ips[0].interface, 1);
    assert.equal(res.ips[0].gateway, '169.254.1.1');
    assert.match(res.ips[0].address, new RegExp(`^10\\.${r}\\.1\\.\\d+/32$`));
    assert.match(b1.ip, new RegExp(`^10\\.${r}\\.2\\.\\d+$`));
    assert.notEqual(a1.ip, a2.ip);

    const [eth0] = await ipJson<{ mtu: number; address: string }>(['link', 'show', 'dev', 'eth0'], a1.netns);
    assert.equal(eth0.mtu, UPLINK_MTU, 'pod MTU follows the node uplink');
    assert.equal(eth0.address, res.interfaces[1].mac, 'the result carries the real MAC');

    assert.equal(await sourceSeenBy(a1.netns, a2.netns, a2.ip), a1.ip, 'same node');
    assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip), a1.ip, 'across nodes');
    assert.equal(await sourceSeenBy(b1.netns, a2.netns, a2.ip), b1.ip, 'back across nodes');
    assert.ok(await ping(n1.netns, a1.ip), 'node reaches its pod');
  });

  it('answers ADD in the version asked: 0.4.0 with IP versions, 1.1.0 with the interface MTU', async () => {
    const [n1] = nodes;
    for (const [cniVersion, check] of [
      ['0.4.0', (r: { ips: { version?: string }[] }) => assert.equal(r.ips[0].version, '4')],
      ['1.1.0', (r: { interfaces: { mtu?: number }[] }) => assert.equal(r.interfaces[1].mtu, UPLINK_MTU)],
    ] as const) {
      const netns = await scope.add(`v${cniVersion.replaceAll('.', '')}`);
      const containerId = `ver${cniVersion.replaceAll('.', '')}`;
      const res = await call(n1, {
        command: 'ADD',
        containerId,
        netns: `/run/netns/${netns}`,
        config: { ...n1.config, cniVersion },
      });
      assert.equal(res.code, 0, res.stdout);
      assert.equal(res.json?.cniVersion, cniVersion);
      check(res.json as never);
      const del = await call(n1, {
        command: 'DEL',
        containerId,
        netns: `/run/netns/${netns}`,
        config: { ...n1.config, cniVersion },
      });
      assert.equal(del.code, 0, del.stdout);
    }
  });

  it('accepts a netns path outside /run/netns (/proc/PID/ns/net), as some runtimes pass', async () => {
    const [n1] = nodes;
    const netns = await scope.add('proc');
    const holder = spawnInNetns(netns, ['sleep', '30'], { stdio: 'ignore' });
    try {
      const path = `/proc/${holder.pid}/ns/net`;
      const want = statSync(`/run/netns/${netns}`).ino;
      for (let i = 0; i < 250 && statSync(path).ino !== want; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(statSync(path).ino, want, 'the holder entered the pod namespace');
      const res = await call(n1, { command: 'ADD', containerId: 'procns1', netns: path });
      assert.equal(res.code, 0, res.stdout);
      const ip = String((res.json as { ips: { address: string }[] }).ips[0].address).split('/')[0];
      assert.ok(await ping(n1.netns, ip), 'pod reachable');
      const check = await call(n1, { command: 'CHECK', containerId: 'procns1', netns: path });
      assert.equal(check.code, 0, check.stdout);
      const del = await call(n1, { command: 'DEL', containerId: 'procns1', netns: path });
      assert.equal(del.code, 0, del.stdout);
      assert.equal(await hostVethExists(n1, 'procns1'), false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('CHECK passes on a healthy pod and names what is broken', async () => {
    const [n1] = nodes;
    const p = await addPod(n1, 'ck');
    const ok = await call(n1, {
      command: 'CHECK',
      containerId: p.containerId,
      netns: p.path,
      config: { ...n1.config, prevResult: p.result },
    });
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, '');
    await ipBatch(['neigh del 169.254.1.1 dev eth0'], p.netns);
    const bad = await call(n1, {
      command: 'CHECK',
      containerId: p.containerId,
      netns: p.path,
      config: { ...n1.config, prevResult: p.result },
    });
    assert.equal(bad.code, 1);
    assert.match(String(bad.json?.msg), /neighbour 169\.254\.1\.1/);
  });

  it('DEL removes everything, and DEL again / without prevResult / without netns succeeds', async () => {
    const [n1] = nodes;
    const p = await addPod(n1, 'del');
    assert.ok(await hostVethExists(n1, p.containerId));
    const del = (extra: Partial<PluginCall>) =>
      call(n1, { command: 'DEL', containerId: p.containerId, netns: p.path, ...extra });
    const first = await del({ config: { ...n1.config, prevResult: p.result } });
    assert.equal(first.code, 0, first.stdout);
    assert.equal(first.stdout, '');
    assert.equal(await hostVethExists(n1, p.containerId), false, 'host veth removed');
    assert.equal(n1.agent.node.ipam()?.get(p.containerId, 'eth0'), null, 'address released');
    const links = await ipJson<{ ifname: string }>(['link', 'show'], p.netns);
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
      'pod interface removed',
    );
    const routes = await ipJson<{ dst: string }>(['route', 'show', `${p.ip}/32`], n1.netns);
    assert.deepEqual(routes, [], 'node /32 route removed');
    assert.equal((await del({})).code, 0, 'repeated DEL');
    assert.equal((await del({ netns: '' })).code, 0, 'DEL with empty CNI_NETNS');
  });

  it('DEL after the pod namespace is gone succeeds and frees the address', async () => {
    const [n1] = nodes;
    const p = await addPod(n1, 'gone');
    await ipBatch([`netns delete ${p.netns}`]);
    const res = await call(n1, { command: 'DEL', containerId: p.containerId, netns: p.path });
    assert.equal(res.code, 0, res.stdout);
    assert.equal(n1.agent.node.ipam()?.get(p.containerId, 'eth0'), null);
    assert.equal(await hostVethExists(n1, p.containerId), false);
  });

  it('GC frees attachments not listed (both keys) and veths of interrupted ADDs', async () => {
    const [, n2] = nodes;
    const keep = await addPod(n2, 'gk');
    const drop = await addPod(n2, 'gd');
    // An ADD interrupted after creating its veth but before recording an address.
    const orphan = podLinkNames('orphan1', 'eth0');
    await ipBatch(
      [
        `link add ${orphan.hostVeth} type veth peer name ${scope.prefix}o`,
        `link set ${orphan.hostVeth} alias podnet:orphan1/eth0`,
      ],
      n2.netns,
    );
    const valid = [{ containerID: keep.containerId, ifname: 'eth0' }];
    const gc = await call(n2, {
      command: 'GC',
      config: { ...n2.config, cniVersion: '1.1.0', 'cni.dev/attachments': valid },
    });
    assert.equal(gc.code, 0, gc.stdout);
    const ipam = n2.agent.node.ipam()!;
    assert.equal(ipam.get(drop.containerId, 'eth0'), null, 'dropped attachment released');
    assert.equal(await hostVethExists(n2, drop.containerId), false, 'dropped veth removed');
    assert.equal(await hostVethExists(n2, 'orphan1'), false, 'orphan veth removed');
    assert.equal(ipam.get(keep.containerId, 'eth0')?.ip, keep.ip, 'kept attachment untouched');
    assert.ok(await ping(keep.netns, nodes[1].ip), 'kept pod still works');
    // The current key: with `keep` listed it survives, without it it goes too.
    const gc2 = await call(n2, {
      command: 'GC',
      config: { ...n2.config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid },
    });
    assert.equal(gc2.code, 0, gc2.stdout);
    assert.equal(ipam.get(keep.containerId, 'eth0')?.ip, keep.ip);
    const gc3 = await call(n2, {
      command: 'GC',
      config: { ...n2.config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] },
    });
    assert.equal(gc3.code, 0, gc3.stdout);
    assert.equal(ipam.get(keep.containerId, 'eth0'), null);
    assert.equal(await hostVethExists(n2, keep.containerId), false);
  });

  it('bad input gets the spec error object and creates nothing', async () => {
    const [n1] = nodes;
    const netns = await scope.add('bad');
    const path = `/run/netns/${netns}`;
    const before = n1.agent.node.ipam()!.list().length;
    const cases: [string, Omit<PluginCall, 'config'> & { config?: PluginCall['config'] }, number, RegExp][] =
      [
        [
          'malformed stdin',
          {
            command: 'ADD',
            containerId: 'x1',
            netns: path,
            config: `{"cniVersion":"1.0.0","agentSocket":"${n1.agent.socket}",`,
          },
          6,
          /decode/,
        ],
        ['missing env', { command: 'ADD', containerId: 'x2', netns: '' }, 4, /CNI_NETNS/],
        [
          'unknown version',
          { command: 'ADD', containerId: 'x3', netns: path, config: { ...n1.config, cniVersion: '9.9.9' } },
          1,
          /incompatible/,
        ],
        [
          'missing netns',
          { command: 'ADD', containerId: 'x4', netns: `/run/netns/${scope.prefix}-nope` },
          4,
          /does not exist/,
        ],
        // Issue 14, fault 6: these reached the kernel ("Invalid argument", code 100).
        [
          'netns is a regular file',
          { command: 'ADD', containerId: 'x6', netns: join(dir, 'n1.sock.txt') },
          4,
          /is not a network namespace/,
        ],
        [
          'netns is a directory',
          { command: 'ADD', containerId: 'x7', netns: dir },
          4,
          /is not a network namespace/,
        ],
        [
          'netns is /dev/null',
          { command: 'ADD', containerId: 'x8', netns: '/dev/null' },
          4,
          /is not a network namespace/,
        ],
      ];
    writeFileSync(join(dir, 'n1.sock.txt'), 'not a namespace');
    for (const [what, c, code, msg] of cases) {
      const res = await call(n1, c);
      assert.equal(res.code, 1, what);
      assert.equal(res.json?.code, code, `${what}: ${res.stdout}`);
      assert.match(String(res.json?.msg), msg, what);
      assert.equal(await hostVethExists(n1, c.containerId!), false, `${what}: no veth`);
    }
    // The pod's interface name is taken: the ADD fails, its address is released, nothing is left.
    await ipBatch(['link add eth0 type veth peer name eth0peer'], netns);
    const taken = await call(n1, { command: 'ADD', containerId: 'x5', netns: path });
    assert.equal(taken.code, 1);
    assert.equal(taken.json?.code, 100, taken.stdout);
    assert.match(String(taken.json?.msg), /InterfaceExists/);
    assert.equal(await hostVethExists(n1, 'x5'), false);
    assert.equal(n1.agent.node.ipam()!.list().length, before, 'no address kept');
  });

  it('an ADD failing half-way (pod side) undoes the veth, route and address', async () => {
    const [n1] = nodes;
    const netns = await scope.add('half');
    // The pod already has a default route: the pod-side batch fails after the node side succeeded.
    await ipBatch(['route add default dev lo'], netns);
    const before = n1.agent.node.ipam()!.list().length;
    const res = await call(n1, { command: 'ADD', containerId: 'half1', netns: `/run/netns/${netns}` });
    assert.equal(res.code, 1);
    assert.match(String(res.json?.msg), /KernelCommandFailed: .*File exists/);
    assert.equal(await hostVethExists(n1, 'half1'), false, 'veth removed');
    assert.equal(n1.agent.node.ipam()!.list().length, before, 'address released');
    const links = await ipJson<{ ifname: string }>(['link', 'show'], netns);
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
      'nothing left in the pod',
    );
    const routes = await ipJson<{ dst: string; dev: string }>(['route', 'show'], n1.netns);
    const veth = podLinkNames('half1', 'eth0').hostVeth;
    assert.ok(!routes.some((r) => r.dev === veth), 'no pod route left on the node');
  });

  it('a repeated ADD of a live attachment fails without harming it', async () => {
    const [n1] = nodes;
    const p = await addPod(n1, 'dup');
    const again = await call(n1, { command: 'ADD', containerId: p.containerId, netns: p.path });
    assert.equal(again.code, 1);
    assert.match(String(again.json?.msg), /InterfaceExists/);
    assert.equal(n1.agent.node.ipam()?.get(p.containerId, 'eth0')?.ip, p.ip, 'address kept');
    assert.ok(await ping(n1.netns, p.ip), 'pod still reachable');
  });

  it('no lease yet: ADD says try again later (11), STATUS not available (50); agent down: 11', async () => {
    const [n1] = nodes;
    const netns = await scope.add('nl');
    const saved = n1.agent.node.ipam();
    n1.agent.node.setIpam(null);
    try {
      const add = await call(n1, { command: 'ADD', containerId: 'nolease', netns: `/run/netns/${netns}` });
      assert.equal(add.json?.code, 11, add.stdout);
      const status = await call(n1, { command: 'STATUS', config: { ...n1.config, cniVersion: '1.1.0' } });
      assert.equal(status.code, 1);
      assert.equal(status.json?.code, 50);
    } finally {
      n1.agent.node.setIpam(saved);
    }
    const status = await call(n1, { command: 'STATUS', config: { ...n1.config, cniVersion: '1.1.0' } });
    assert.equal(status.code, 0, status.stdout);
    const down = await execPlugin(shimFor(join(dir, 'nobody.sock')), {
      command: 'ADD',
      containerId: 'down',
      netns: `/run/netns/${netns}`,
      config: n1.config,
    });
    assert.equal(down.code, 1);
    assert.equal(down.json?.code, 11);
    assert.match(String(down.json?.details), /nobody\.sock/);
  });
});
