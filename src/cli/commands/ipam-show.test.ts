/**
 * `podnet ipam show` and `podnet ipam release --from-report` end to end: the real executable against a SQLite
 * store holding a cluster, block leases, a quarantined block and published pod endpoints (the records agents
 * write), and against a node's pod address file. What Calico users get from `calicoctl ipam show --show-blocks
 * / --ip` (https://docs.tigera.io/calico/latest/reference/calicoctl/ipam/show), per node and as JSON.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeEndpoint, endpointKey } from '../../endpoints/record.js';
import { openPodIpam, podIpamPath } from '../../ipam/pod-ipam.js';
import { openStore } from '../../store/open.js';
import { runPodnet } from './testing/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-ipam-show-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STORE = `sqlite:${join(dir, 'cluster.db')}`;

const podnet = (args: string[]) => runPodnet(args);

before(async () => {
  assert.equal(podnet(['cluster', 'create', '-f', 'examples/basic.yaml', '--store', STORE]).code, 0);
  const store = await openStore(STORE);
  try {
    for (const [name, ip] of [
      ['sys-0', '10.224.0.4'],
      ['sys-1', '10.224.0.5'],
      ['apps-0', '10.225.0.4'],
    ]) {
      await store.claimBlock({
        nodeName: name,
        nodeIp: ip,
        pool: name.startsWith('sys') ? 'system' : 'apps',
        maxPods: name.startsWith('sys') ? 110 : 250,
        ttlSeconds: 600,
      });
    }
    await store.releaseBlock('sys-1');
    const leases = await store.listBlocks();
    const sys0 = leases.find((l) => l.nodeName === 'sys-0');
    assert.ok(sys0);
    const base = sys0.block.replace(/0\/24$/, '');
    for (let i = 1; i <= 3; i++) {
      const e = {
        node: 'sys-0',
        nodeIp: '10.224.0.4',
        containerId: `c${i}`,
        ifname: 'eth0',
        ips: [`${base}${i}`],
        namespace: 'shop',
        name: `web-${i}`,
        labels: {},
      };
      await store.kv.txn([], [{ type: 'put', key: endpointKey(e), value: encodeEndpoint(e) }]);
    }
  } finally {
    await store.close();
  }
});

describe('podnet ipam show', () => {
  it('shows every node block with its use, the quarantine, free blocks and subnets', () => {
    const r = podnet(['ipam', 'show', '--store', STORE, '-o', 'json']);
    assert.equal(r.code, 0, r.err);
    const v = JSON.parse(r.out);
    assert.equal(v.apiVersion, 'podnet.io/v1alpha1');
    assert.equal(v.kind, 'IpamView');
    assert.equal(v.dnsServiceIP, '10.0.0.10');
    const pc = v.podCidrs[0];
    assert.deepEqual(
      [pc.cidr, pc.totalBlocks, pc.leasedBlocks, pc.quarantinedBlocks, pc.freeBlocks],
      ['10.244.0.0/16', 256, 2, 1, 253],
    );
    // 5 surge nodes in examples/basic.yaml (1 + 10% of 40): 253 free blocks let 248 more nodes join.
    assert.equal(v.surgeNodes, 5);
    assert.equal(pc.addableNodes, 248);
    assert.equal(
      pc.freeRanges.reduce((n: number, x: { blocks: number }) => n + x.blocks, 0),
      253,
    );
    const sys0 = v.nodes.find((n: { node: string }) => n.node === 'sys-0');
    assert.deepEqual([sys0.subnet, sys0.usedPods, sys0.freePods, sys0.maxPods], ['system', 3, 107, 110]);
    assert.deepEqual(
      v.quarantined.map((q: { nodeName: string }) => q.nodeName),
      ['sys-1'],
    );
    const system = v.subnets.find((s: { name: string }) => s.name === 'system');
    assert.deepEqual([system.usableAddresses, system.nodes, system.freeAddresses], [251, 1, 250]);
  });

  it('prints tables, wide columns, YAML, free block runs, and no headers with --no-headers', () => {
    const t = podnet(['ipam', 'show', '--store', STORE, '--blocks']);
    assert.equal(t.code, 0, t.err);
    assert.match(
      t.out,
      /^pod CIDR 10\.244\.0\.0\/16: 256 \/24 blocks, 2 leased, 1 in quarantine, 253 free: 248 more nodes fit/,
    );
    assert.match(t.out, /NODE\s+NODE IP\s+BLOCK\s+USED\s+FREE\s+MAX PODS\s+USE/);
    assert.match(t.out, /sys-0\s+10\.224\.0\.4\s+10\.244\.\d+\.0\/24\s+3\s+107\s+110\s+3%/);
    assert.match(t.out, /QUARANTINED BLOCKS/);
    assert.match(t.out, /FREE BLOCKS/);
    assert.match(podnet(['ipam', 'show', '--store', STORE, '-o', 'wide']).out, /POOL\s+SUBNET/);
    assert.match(
      podnet(['ipam', 'show', '--store', STORE, '-o', 'yaml']).out,
      /^apiVersion: podnet.io\/v1alpha1\nkind: IpamView\n/,
    );
    const bare = podnet(['ipam', 'show', '--store', STORE, '--no-headers']);
    assert.doesNotMatch(bare.out, /NODE\s+NODE IP/);
    assert.match(bare.out, /^sys-0\s/m);
  });

  it('--ip names the block, node and pod of an address; --node lists its pods', () => {
    const v = JSON.parse(podnet(['ipam', 'show', '--store', STORE, '-o', 'json']).out);
    const block: string = v.nodes.find((n: { node: string }) => n.node === 'sys-0').block;
    const ip = block.replace(/0\/24$/, '2');
    const owner = JSON.parse(podnet(['ipam', 'show', '--store', STORE, '--ip', ip, '-o', 'json']).out);
    assert.deepEqual(
      [owner.kind, owner.state, owner.block, owner.node, owner.pod.name],
      ['AddressOwner', 'pod', block, 'sys-0', 'web-2'],
    );
    const free = JSON.parse(
      podnet(['ipam', 'show', '--store', STORE, '--ip', block.replace(/0\/24$/, '9'), '-o', 'json']).out,
    );
    assert.equal(free.state, 'free-in-block');
    assert.equal(
      JSON.parse(podnet(['ipam', 'show', '--store', STORE, '--ip', '10.0.0.10', '-o', 'json']).out).state,
      'service',
    );
    const node = JSON.parse(podnet(['ipam', 'show', '--store', STORE, '--node', 'sys-0', '-o', 'json']).out);
    assert.deepEqual(
      node.pods.map((p: { name: string }) => p.name),
      ['web-1', 'web-2', 'web-3'],
    );
  });

  it('refuses bad selectors with codes: a malformed IP, an unknown node, --store with --lab', () => {
    for (const [args, code] of [
      [['--ip', '10.0.0.300'], 'InvalidIpAddress'],
      [['--ip', ''], 'InvalidIpAddress'],
      [['--node', 'nope'], 'LeaseNotFound'],
      [['--lab', 'x'], 'UsageError'],
    ] as const) {
      const r = podnet(['ipam', 'show', '--store', STORE, ...args, '-o', 'json']);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(JSON.parse(r.out).error.code, code, args.join(' '));
    }
    const xml = podnet(['ipam', 'show', '--store', STORE, '-o', 'xml']);
    assert.equal(xml.code, 2);
    assert.match(xml.err, /^error UsageError \(--output\)/);
  });
});

describe('podnet ipam release --from-report', () => {
  const stateDir = join(dir, 'state');
  const report = (body: unknown) => {
    const p = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  };

  it('--dry-run lists the leaked addresses it would free and the findings it leaves; without it, frees them', () => {
    const ipam = openPodIpam({ path: podIpamPath(stateDir, 'n1'), block: '10.244.9.0/24', maxPods: 110 });
    const leaked = ipam.allocate({ containerId: 'gone1', ifname: 'eth0' });
    ipam.close();
    const found = {
      node: 'n1',
      findings: [
        {
          code: 'AddressWithoutInterface',
          subject: leaked.ip,
          message: `${leaked.ip} is held by container gone1 (eth0), which has no interface on this node: a leak`,
          hint: 'x',
        },
        { code: 'PodRouteStray', subject: '10.244.9.9 dev x', message: 'stray', hint: 'ip route del ...' },
      ],
    };
    const path = report(found);
    const dry = podnet([
      'ipam',
      'release',
      '--from-report',
      path,
      '--dry-run',
      '--state-dir',
      stateDir,
      '-o',
      'json',
    ]);
    assert.equal(dry.code, 0, dry.err);
    const d = JSON.parse(dry.out);
    assert.equal(d.dryRun, true);
    assert.deepEqual(
      d.actions.map((a: { action: string }) => a.action),
      ['release', 'skip'],
    );
    const still = openPodIpam({ path: podIpamPath(stateDir, 'n1'), block: '10.244.9.0/24', maxPods: 110 });
    assert.equal(still.list().length, 1, 'a dry run frees nothing');
    still.close();
    const text = podnet(['ipam', 'release', '--from-report', path, '--dry-run', '--state-dir', stateDir]);
    assert.match(text.out, /would release/);
    const real = podnet(['ipam', 'release', '--from-report', path, '--state-dir', stateDir, '-o', 'json']);
    assert.equal(JSON.parse(real.out).actions[0].done, true);
    const after = openPodIpam({ path: podIpamPath(stateDir, 'n1'), block: '10.244.9.0/24', maxPods: 110 });
    assert.equal(after.list().length, 0);
    after.close();
  });

  it('refuses files that are not reports with InvalidReport (fuzzed shapes), never a stack', () => {
    for (const body of [
      '',
      'not json',
      '[]',
      '{}',
      '{"node":"../x","findings":[]}',
      '{"node":"n","findings":[1]}',
      '{"node":"n","findings":[{"code":1}]}',
      'null',
      '"s"',
      '{"node":"n","findings":{}}',
    ]) {
      const r = podnet([
        'ipam',
        'release',
        '--from-report',
        report(body),
        '--dry-run',
        '--state-dir',
        stateDir,
        '-o',
        'json',
      ]);
      assert.equal(r.code, 2, body);
      assert.equal(JSON.parse(r.out).error.code, 'InvalidReport', body);
    }
    const missing = podnet(['ipam', 'release', '--from-report', join(dir, 'none.json'), '-o', 'json']);
    assert.equal(JSON.parse(missing.out).error.code, 'InvalidReport');
    assert.equal(podnet(['ipam', 'release', '--dry-run', '--node', 'n1', '-o', 'json']).code, 2);
  });
});
