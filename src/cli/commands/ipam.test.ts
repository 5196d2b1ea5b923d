/**
 * `podnet cluster` and `podnet ipam` end to end: the real executable against a SQLite store and a node's pod
 * address file in a temp directory; checks what a user and a script see (exit codes, tables, JSON).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openPodIpam, podIpamPath } from '../../ipam/pod-ipam.js';
import { openStore } from '../../store/open.js';
import { runPodnet } from './testing/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-ipam-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STORE = `sqlite:${join(dir, 'cluster.db')}`;

const podnet = (args: string[], env: Record<string, string> = {}) => runPodnet(args, { env });

const json = (text: string) => JSON.parse(text);

describe('podnet cluster', () => {
  it('an unknown flag is unusable input, as JSON when JSON was asked for', () => {
    // Issue 14, fault 8: commander's own errors carried no code or hint in table mode.
    const t = podnet(['ipam', 'blocks', '--store', STORE, '--nope']);
    assert.equal(t.code, 2);
    assert.match(
      t.err,
      /^error UnknownFlag \(--nope\): unknown option '--nope'\n {2}hint: see podnet ipam blocks --help/,
    );
    const r = podnet(['ipam', 'blocks', '--store', STORE, '--nope', '-o', 'json']);
    assert.equal(r.code, 2);
    assert.deepEqual(json(r.out).error, {
      code: 'UnknownFlag',
      field: '--nope',
      message: "unknown option '--nope'",
      hint: 'see podnet ipam blocks --help',
    });
  });

  it('reading a store that does not exist says so and creates nothing', () => {
    const missing = join(dir, 'typo', 'cluster.db');
    for (const args of [
      ['cluster', 'show'],
      ['ipam', 'blocks'],
    ]) {
      const r = podnet([...args, '--store', `sqlite:${missing}`, '-o', 'json']);
      assert.equal(r.code, 1);
      assert.equal(json(r.out).error.code, 'ClusterNotFound');
      assert.equal(existsSync(dirname(missing)), false, `${args.join(' ')} left ${dirname(missing)} behind`);
    }
  });

  it('creates a cluster from a valid profile, refuses a second create and an invalid profile', () => {
    const created = podnet([
      'cluster',
      'create',
      '-f',
      'examples/update/current.yaml',
      '--store',
      STORE,
      '-o',
      'json',
    ]);
    assert.equal(created.code, 0, created.err);
    assert.equal(json(created.out).generation, 1);
    assert.deepEqual(json(created.out).blocks, [
      { family: 4, blockPrefix: 24, total: 256, leased: 0, quarantined: 0 },
    ]);
    const again = podnet([
      'cluster',
      'create',
      '-f',
      'examples/update/current.yaml',
      '--store',
      STORE,
      '-o',
      'json',
    ]);
    assert.equal(again.code, 1);
    assert.equal(json(again.out).error.code, 'ClusterExists');
    const bad = podnet([
      'cluster',
      'create',
      '-f',
      'examples/mistakes.yaml',
      '--store',
      `sqlite:${join(dir, 'bad.db')}`,
      '-o',
      'json',
    ]);
    assert.equal(bad.code, 1);
    const plan = podnet(['plan', '-f', 'examples/mistakes.yaml', '-o', 'json']);
    assert.deepEqual(json(bad.out).errors, json(plan.out).errors, 'the same errors as podnet plan');
    assert.match(bad.err, /nothing was written/);
  });

  it('shows the cluster from $PODNET_STORE as a table', () => {
    const shown = podnet(['cluster', 'show'], { PODNET_STORE: STORE });
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /cluster growing \(generation 1/);
    assert.match(shown.out, /pod CIDR\s+10\.244\.0\.0\/16/);
  });

  it('grows the pod CIDR; refuses a move and a change of anything but pod CIDR and pools', () => {
    const moved = podnet([
      'cluster',
      'update',
      '-f',
      'examples/update/moved.yaml',
      '--store',
      STORE,
      '-o',
      'json',
    ]);
    assert.equal(moved.code, 1);
    assert.ok(json(moved.out).errors.some((e: { code: string }) => /PodCidr/.test(e.code)));
    const renamed = join(dir, 'renamed.yaml');
    writeFileSync(
      renamed,
      'name: other\nvnet:\n  name: vnet-growing\n  addressSpaces: [10.224.0.0/12]\n  subnets:\n    - name: nodes\n      cidr: 10.224.0.0/16\nnetworkProfile:\n  podCidr: 10.244.0.0/16\nagentPoolProfiles:\n  - name: system\n    count: 200\n    maxPods: 110\n',
    );
    const fixed = podnet(['cluster', 'update', '-f', renamed, '--store', STORE, '-o', 'json']);
    assert.equal(fixed.code, 1);
    assert.equal(json(fixed.out).error.code, 'ClusterFieldImmutable');
    assert.equal(json(fixed.out).error.field, 'name');
    const grown = podnet([
      'cluster',
      'update',
      '-f',
      'examples/update/grown.yaml',
      '--store',
      STORE,
      '-o',
      'json',
    ]);
    assert.equal(grown.code, 0, grown.err + grown.out);
    assert.deepEqual(json(grown.out).podCidrHistory, [['10.244.0.0/16']]);
    assert.equal(json(grown.out).blocks[0].total, 512);
  });
});

describe('podnet ipam', () => {
  it('lists blocks, releases one into quarantine, and reports unreachable or malformed stores', async () => {
    const store = await openStore(STORE);
    for (const n of ['node-a', 'node-b'])
      await store.claimBlock({
        nodeName: n,
        nodeIp: '10.224.0.4',
        pool: 'system',
        maxPods: 110,
        ttlSeconds: 3600,
      });
    await store.close();
    const listed = podnet(['ipam', 'blocks', '--store', STORE, '-o', 'json']);
    assert.equal(listed.code, 0, listed.err);
    assert.deepEqual(
      json(listed.out).blocks.map((b: { block: string; nodeName: string }) => `${b.nodeName}=${b.block}`),
      ['node-a=10.244.0.0/24', 'node-b=10.244.1.0/24'],
    );
    const released = podnet(['ipam', 'release', '--block', '10.244.0.0/24', '--store', STORE, '-o', 'json']);
    assert.equal(released.code, 0, released.err);
    assert.equal(json(released.out).node, 'node-a');
    const table = podnet(['ipam', 'blocks', '--store', STORE]);
    assert.match(table.out, /^BLOCK\s+NODE/);
    assert.match(table.out, /10\.244\.0\.0\/24\s+node-a\s+.*quarantine/);
    assert.match(table.out, /10\.244\.1\.0\/24\s+node-b\s+10\.224\.0\.4\s+system\s+110\s+leased/);
    const none = podnet(['ipam', 'release', '--node', 'node-x', '--store', STORE, '-o', 'json']);
    assert.equal(none.code, 1);
    assert.equal(json(none.out).error.code, 'LeaseNotFound');
    const badUrl = podnet(['ipam', 'blocks', '--store', 'mysql://x', '-o', 'json']);
    assert.equal(badUrl.code, 2);
    assert.equal(json(badUrl.out).error.code, 'InvalidStoreUrl');
    const down = podnet(['ipam', 'blocks', '--store', 'etcd:http://127.0.0.1:1', '-o', 'json']);
    assert.equal(down.code, 3);
    assert.equal(json(down.out).error.code, 'StoreUnreachable');
  });

  it("lists a node's pod addresses and releases one by container id", () => {
    const stateDir = join(dir, 'state');
    const ipam = openPodIpam({ path: podIpamPath(stateDir, 'node-b'), block: '10.244.1.0/24', maxPods: 110 });
    ipam.allocate({ containerId: 'abcdef0123456789', ifname: 'eth0', podName: 'web', podNamespace: 'shop' });
    ipam.allocate({ containerId: 'c2', ifname: 'eth0' });
    ipam.close();
    const pods = podnet(['ipam', 'pods', '--node', 'node-b', '--state-dir', stateDir, '-o', 'json']);
    assert.equal(pods.code, 0, pods.err);
    assert.equal(json(pods.out).block, '10.244.1.0/24');
    assert.deepEqual(
      json(pods.out).pods.map((p: { ip: string }) => p.ip),
      ['10.244.1.1', '10.244.1.2'],
    );
    const table = podnet(['ipam', 'pods', '--node', 'node-b', '--state-dir', stateDir]);
    assert.match(table.out, /10\.244\.1\.1\s+abcdef012345\s+eth0\s+shop\/web/);
    const rel = podnet([
      'ipam',
      'release',
      '--node',
      'node-b',
      '--container',
      'c2',
      '--state-dir',
      stateDir,
      '-o',
      'json',
    ]);
    assert.equal(json(rel.out).ip, '10.244.1.2');
    const after = podnet(['ipam', 'pods', '--node', 'node-b', '--state-dir', stateDir, '-o', 'json']);
    assert.equal(json(after.out).pods.length, 1);
    const missing = podnet(['ipam', 'pods', '--node', 'nope', '--state-dir', stateDir, '-o', 'json']);
    assert.equal(missing.code, 1);
    assert.equal(json(missing.out).error.code, 'PodIpamNotFound');
  });

  it('dual-stack: blocks per family in cluster show and ipam blocks, a node holding one of each', async () => {
    const url = `sqlite:${join(dir, 'dual.db')}`;
    const created = podnet([
      'cluster',
      'create',
      '-f',
      'examples/dual-stack.yaml',
      '--store',
      url,
      '-o',
      'json',
    ]);
    assert.equal(created.code, 0, created.err);
    assert.deepEqual(
      json(created.out).blocks.map((b: { family: number; blockPrefix: number; total: number | string }) => [
        b.family,
        b.blockPrefix,
        b.total,
      ]),
      [
        [4, 24, 1024],
        [6, 120, '72057594037927936'],
      ],
    );
    const store = await openStore(url);
    try {
      await store.claimBlock({
        nodeName: 'ds-0',
        nodeIp: '10.224.0.4',
        nodeIp6: 'fd00:10::4',
        pool: 'system',
        maxPods: 110,
        ttlSeconds: 60,
      });
    } finally {
      await store.close();
    }
    const shown = podnet(['cluster', 'show', '--store', url]);
    assert.equal(shown.code, 0, shown.err);
    assert.match(
      shown.out,
      /blocks +1024 in total \(IPv4 \/24\), 1 leased, 0 in quarantine\n +72057594037927936 in total \(IPv6 \/120\), 1 leased/,
    );
    const listed = podnet(['ipam', 'blocks', '--store', url]);
    assert.match(listed.out, /10\.244\.0\.0\/24 +ds-0 .* leased/);
    assert.match(listed.out, /fd12:3456:789a::\/120 +ds-0 +fd00:10::4 .* leased/);
  });

  it('check: refuses a missing --node or namespace and names a missing pod address file', () => {
    const noNetns = podnet(['ipam', 'check', '--node', 'n1', '--netns', 'podnet-no-such-ns', '-o', 'json']);
    assert.equal(noNetns.code, 2);
    assert.deepEqual(
      [json(noNetns.out).error.code, json(noNetns.out).error.field],
      ['UnknownNetns', '--netns'],
    );
    const noNode = podnet(['ipam', 'check', '-o', 'json']);
    assert.equal(noNode.code, 2);
    assert.equal(json(noNode.out).error.field, '--node');
    const missing = podnet([
      'ipam',
      'check',
      '--node',
      'nope',
      '--state-dir',
      join(dir, 'state'),
      '-o',
      'json',
    ]);
    assert.equal(missing.code, 1);
    assert.equal(json(missing.out).error.code, 'PodIpamNotFound');
  });
});
