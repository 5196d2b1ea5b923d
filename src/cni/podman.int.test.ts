/**
 * A real container runtime drives podnet-cni: Debian's podman 4.3 (CNI backend) runs two containers on a
 * podnet network installed by `installCni`; they reach each other and the receiver sees the sender's pod IP.
 *
 * Here the node is the host's own network namespace (podman creates pod namespaces from it), so the test stays
 * narrow: a random pod block, only /32 routes to its own pods, podman storage and state in a temp directory,
 * ip_forward restored afterwards, no SNAT. Everything is removed in `after`, also when a step fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPodVeths } from '../dataplane/pod-network.js';
import { openPodIpam } from '../ipam/pod-ipam.js';
import { execInNetns } from '../kernel/process.js';
import { installCni } from './install.js';
import { type TestAgent, startTestAgent } from './testing/test-agent.js';

const id = randomBytes(2).toString('hex');
const NET = `podnet${id}`;
const IMAGE = `localhost/podnet-busybox-${id}`;
const block = `10.${200 + (randomBytes(1)[0] % 50)}.${randomBytes(1)[0]}.0/24`;
const dir = mkdtempSync('/tmp/podnet-podman-');
let agent: TestAgent;
let forwardWas = '';
const started: string[] = [];

function podman(args: string[], timeoutMs = 90_000) {
  const base = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'runroot'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--events-backend',
    'none',
    '--runtime',
    '/usr/sbin/runc',
    '--cgroup-manager',
    'cgroupfs',
    '--network-config-dir',
    join(dir, 'net.d'),
  ];
  // CONTAINERS_CONF replaces every system containers.conf: the CNI backend and our plugin dir, nothing else.
  return execInNetns(
    null,
    ['env', `CONTAINERS_CONF=${join(dir, 'containers.conf')}`, 'podman', ...base, ...args],
    {
      timeoutMs,
    },
  );
}

const RUN = ['run', '--network', NET, '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

describe('podman runs containers on podnet', () => {
  before(async () => {
    for (const d of ['bin', 'net.d', 'tmp', 'rootfs/bin', 'rootfs/www'])
      mkdirSync(join(dir, d), { recursive: true });
    // A tiny image: static busybox and the applets the test uses.
    copyFileSync('/bin/busybox', join(dir, 'rootfs/bin/busybox'));
    for (const a of ['sh', 'ip', 'ping', 'nc', 'httpd', 'printf'])
      symlinkSync('busybox', join(dir, `rootfs/bin/${a}`));
    writeFileSync(join(dir, 'rootfs/www/index.html'), 'served by podnet\n');
    writeFileSync(
      join(dir, 'containers.conf'),
      `[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${join(dir, 'bin')}", "/usr/lib/cni"]\n`,
    );
    const tar = join(dir, 'rootfs.tar');
    assert.equal((await execInNetns(null, ['tar', '-C', join(dir, 'rootfs'), '-cf', tar, '.'])).code, 0);
    const imported = await podman(['import', tar, IMAGE]);
    assert.equal(imported.code, 0, imported.stderr);

    const socket = join(dir, 'agent.sock');
    installCni({
      binDir: join(dir, 'bin'),
      confDir: join(dir, 'net.d'),
      socket,
      name: NET,
      confFile: '10-podnet.conflist',
    });
    agent = await startTestAgent({
      socket,
      nodeName: 'host',
      ipam: openPodIpam({ path: join(dir, 'pod-ipam.db'), block, maxPods: 250 }),
      podCidrs: [block],
    });
    // Pod to pod on one node is routed by the node, which must forward; restored in after().
    forwardWas = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    if (forwardWas !== '1') writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  });

  after(async () => {
    for (const c of started) await podman(['rm', '-f', '-t', '0', c]);
    await podman(['rmi', '-f', IMAGE]);
    await agent?.close();
    if (forwardWas && forwardWas !== '1') writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardWas);
    rmSync(dir, { recursive: true, force: true });
  });

  it('two containers reach each other with their own pod addresses', async () => {
    const server = await podman([...RUN, '-d', IMAGE, 'httpd', '-f', '-v', '-p', '8080', '-h', '/www']);
    assert.equal(server.code, 0, server.stderr);
    const serverId = server.stdout.trim();
    started.push(serverId);
    const serverIp = agent.node.ipam()?.get(serverId, 'eth0')?.ip;
    assert.ok(serverIp, `podman's ADD allocated an address for ${serverId}`);

    const client = await podman([
      ...RUN,
      '--rm',
      IMAGE,
      'sh',
      '-c',
      `ip -4 -o addr show eth0; ping -c 1 -W 2 ${serverIp} >/dev/null && echo ping-ok; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${serverIp} 8080`,
    ]);
    assert.equal(client.code, 0, `${client.stdout}\n${client.stderr}`);
    const clientIp = /inet (\S+)\/32/.exec(client.stdout)?.[1];
    assert.ok(clientIp && clientIp !== serverIp, `client has its own /32: ${client.stdout}`);
    assert.match(client.stdout, /ping-ok/);
    assert.match(client.stdout, /served by podnet/);

    const logs = await podman(['logs', serverId]);
    assert.match(
      logs.stdout + logs.stderr,
      new RegExp(`${clientIp!.replaceAll('.', '\\.')}\\]?:\\d+: response:200`),
      'server saw the client pod IP',
    );
    // The --rm client was DELeted by podman: its address is free and its veth gone.
    assert.equal(agent.node.ipam()?.list().length, 1);

    const rm = await podman(['rm', '-f', '-t', '0', serverId]);
    assert.equal(rm.code, 0, rm.stderr);
    started.pop();
    assert.equal(agent.node.ipam()?.list().length, 0, 'podman rm freed the address');
    const left = (await listPodVeths()).filter((v) => v.containerId === serverId);
    assert.deepEqual(left, [], 'no veth left');
  });
});
