import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolvConf } from '../dns/pod-dns.js';
import { PodnetError } from '../errors/index.js';
import { openPodIpam } from '../ipam/pod-ipam.js';
import { handleCni, podResult, prevResultProblems, resultDns, toCniError } from './handler.js';
import { envFromHeaders } from './http.js';
import { parseCniArgs, renderResult } from './protocol.js';
import { startTestAgent, testNodeRuntime } from './testing/test-agent.js';

const ipamDir = mkdtempSync(join(tmpdir(), 'podnet-handler-'));
const node = testNodeRuntime({
  nodeName: 'n1',
  ipam: openPodIpam({ path: join(ipamDir, 'pod-ipam.db'), block: '10.244.1.0/24', maxPods: 250 }),
  podCidrs: ['10.244.0.0/16'],
});
after(() => {
  node.ipam()?.close();
  rmSync(ipamDir, { recursive: true, force: true });
});
const v11 = JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', type: 'podnet-cni' });

describe('handleCni without the kernel', () => {
  it('VERSION echoes the asked version', async () => {
    const r = await handleCni({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"0.4.0"}' }, node);
    assert.equal(r.exitCode, 0);
    assert.equal(JSON.parse(r.stdout).cniVersion, '0.4.0');
  });

  it('garbage stdin is code 6 in the newest version, missing command code 4', async () => {
    const g = await handleCni({ env: { CNI_COMMAND: 'ADD' }, stdin: '\u0000garbage' }, node);
    assert.equal(g.exitCode, 1);
    assert.deepEqual(
      { v: JSON.parse(g.stdout).cniVersion, code: JSON.parse(g.stdout).code },
      { v: '1.1.0', code: 6 },
    );
    const m = await handleCni({ env: {}, stdin: v11 }, node);
    assert.equal(JSON.parse(m.stdout).code, 4);
  });

  // Issue 14, fault 6: these reached the kernel and came back as KernelCommandFailed (100, "Invalid argument").
  it('ADD and CHECK refuse a CNI_NETNS that is a regular file, a directory or /dev/null (4), holding nothing', async () => {
    const file = join(ipamDir, 'not-a-netns');
    writeFileSync(file, '');
    for (const command of ['ADD', 'CHECK']) {
      for (const netns of [file, ipamDir, '/dev/null']) {
        const env = { CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: netns };
        const r = await handleCni({ env, stdin: v11 }, node);
        assert.deepEqual(
          [r.exitCode, JSON.parse(r.stdout).code, JSON.parse(r.stdout).msg],
          [1, 4, `invalid env variables [CNI_NETNS]: ${netns} is not a network namespace`],
        );
      }
    }
    assert.equal(node.ipam()?.get('c1', 'eth0'), null, 'no address allocated');
  });

  it('STATUS is 0 with a lease and 50 without', async () => {
    const ok = await handleCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: v11 }, node);
    assert.deepEqual(ok, { stdout: '', exitCode: 0 });
    const none = testNodeRuntime({ nodeName: 'n2', ipam: null, podCidrs: [] });
    const r = await handleCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: v11 }, none);
    assert.equal(r.exitCode, 1);
    assert.equal(JSON.parse(r.stdout).code, 50);
    assert.match(JSON.parse(r.stdout).msg, /node n2 holds no pod address block/);
  });

  it('maps podnet errors: retryable → 11, others → 100 with the stable code in msg', () => {
    const full = toCniError(new PodnetError('MaxPodsReached', 'full', { hint: 'delete pods' }));
    assert.deepEqual([full.code, full.msg, full.details], [100, 'MaxPodsReached: full', 'delete pods']);
    assert.equal(toCniError(new PodnetError('StoreUnreachable', 'x', { retryable: true })).code, 11);
    assert.equal(toCniError(new Error('boom')).code, 999);
  });

  it('compares a prevResult with the attachment', () => {
    const prev = {
      ips: [{ address: '10.244.1.5/32' }],
      interfaces: [{ mac: '0a:01:02:03:04:05', sandbox: '/x' }],
    };
    const at = (ip: string) => ({ ip, family: 4 as const });
    assert.deepEqual(prevResultProblems(prev, at('10.244.1.5'), '0a:01:02:03:04:05'), []);
    assert.deepEqual(prevResultProblems(prev, at('10.244.1.6'), '0a:01:02:03:04:05'), [
      'prevResult does not hold the address 10.244.1.6/32',
    ]);
    assert.equal(prevResultProblems(undefined, at('10.244.1.6'), 'x').length, 0);
  });

  // CNI spec 1.1.0 §"Success": ips[].address is CIDR notation, ips[].interface indexes interfaces[],
  // routes[].gw is optional; Azure's transparent mode hands out host routes via a fixed gateway per family.
  const links = { hostVeth: 'pnv0123456789ab', hostMac: '0a:00:00:00:00:01', podMac: '0a:00:00:00:00:02' };
  const pod = { ifname: 'eth0', netns: '/run/netns/p1', mtu: 1450 };
  const addr = (family: 4 | 6, ip: string, block: string) => ({
    family,
    ip,
    block,
    containerId: 'c1',
    ifname: 'eth0',
    allocatedAt: '2026-12-01T00:00:00.000Z',
  });

  it('builds an IPv4 result: a /32 via 169.254.1.1 on the pod interface, and its default route', () => {
    assert.deepEqual(podResult([addr(4, '10.244.1.5', '10.244.1.0/24')], links, pod), {
      interfaces: [
        { name: 'pnv0123456789ab', mac: '0a:00:00:00:00:01' },
        { name: 'eth0', mac: '0a:00:00:00:00:02', mtu: 1450, sandbox: '/run/netns/p1' },
      ],
      ips: [{ address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
      dns: {},
    });
  });

  // CNI spec 1.1.0 §"Success" `dns` (nameservers, search, options) carrying what kubelet's ClusterFirst puts in a
  // pod's resolv.conf (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config):
  // the DNS service IP, `<ns>.svc.cluster.local svc.cluster.local cluster.local`, `ndots:5`.
  it("carries the pod's ClusterFirst resolver in dns: its namespace's search path, default without K8S_POD_NAMESPACE", () => {
    const shop = resultDns(
      '10.0.0.10',
      parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=a'),
    );
    const rendered = JSON.parse(
      renderResult(
        podResult([addr(4, '10.244.1.5', '10.244.1.0/24')], links, { ...pod, dns: shop }),
        '1.1.0',
      ),
    );
    assert.deepEqual(rendered.dns, {
      nameservers: ['10.0.0.10'],
      search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
    });
    assert.deepEqual(resultDns('10.0.0.10', parseCniArgs(''))?.search, [
      'default.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
    ]);
    assert.equal(resultDns(null, {}), undefined);
    assert.equal(
      resolvConf(rendered.dns),
      'nameserver 10.0.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
  });

  it('builds a dual-stack result: one address and one default route per family, IPv4 first, each its own gateway', () => {
    const r = podResult(
      [addr(6, 'fd12:3456:789a::105', 'fd12:3456:789a::100/120'), addr(4, '10.244.1.5', '10.244.1.0/24')],
      links,
      pod,
    );
    assert.deepEqual(r.ips, [
      { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 },
      { address: 'fd12:3456:789a::105/128', gateway: 'fe80::1234:5678:9abc', interface: 1 },
    ]);
    assert.deepEqual(r.routes, [
      { dst: '0.0.0.0/0', gw: '169.254.1.1' },
      { dst: '::/0', gw: 'fe80::1234:5678:9abc' },
    ]);
    const prev = { ...r, interfaces: [{ mac: 'm', sandbox: '/x' }] };
    assert.deepEqual(prevResultProblems(prev, { ip: 'fd12:3456:789a::105', family: 6 }, 'm'), []);
  });
});

describe('POST /v1/cni over a unix socket', () => {
  it('maps X-Cni-* headers to the CNI_* environment', () => {
    assert.deepEqual(envFromHeaders({ 'x-cni-command': 'ADD', 'x-cni-containerid': 'c1', host: 'podnet' }), {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'c1',
    });
  });

  it('answers 200 with the result body and 400 with the error object', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podnet-cni-http-'));
    const agent = await startTestAgent({
      socket: join(dir, 'a.sock'),
      nodeName: 'n1',
      ipam: null,
      podCidrs: [],
    });
    const post = (headers: Record<string, string>, body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: agent.socket, path: '/v1/cni', method: 'POST', headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const v = await post({ 'X-Cni-Command': 'VERSION' }, '{"cniVersion":"1.0.0"}');
      assert.equal(v.status, 200);
      assert.equal(JSON.parse(v.body).cniVersion, '1.0.0');
      const s = await post({ 'X-Cni-Command': 'STATUS' }, v11);
      assert.equal(s.status, 400);
      assert.equal(JSON.parse(s.body).code, 50);
    } finally {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
