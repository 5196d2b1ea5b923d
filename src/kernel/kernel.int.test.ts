/**
 * The kernel layer against the real tools, in throw-away namespaces: each typed failure is what the tool
 * really answers, idempotent removals are idempotent, and programs run where they are asked to.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { kernelFailureOf } from './failure.js';
import { deleteLinkIfExists, getLink, ipBatch, listLinks, listRoutes, listRules } from './ip.js';
import { netnsPath } from './netns.js';
import { nftApply, nftDeleteTable, nftListTable, nftListTableJson } from './nft.js';
import { execInNetns, exitCodeOf, spawnInNetns } from './process.js';
import { readSysctl, writeSysctl } from './sysctl.js';

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return kernelFailureOf(e)?.code ?? (e as { code?: string }).code ?? String(e);
  }
};

describe('kernel layer in a real namespace', () => {
  let scope: NetnsScope;
  let ns: string;
  before(async () => {
    scope = netnsScope('pnk');
    ns = await scope.add('a');
  });
  after(async () => scope.cleanup());

  it('ip: a missing link is LinkNotFound, null for getLink, false for deleteLinkIfExists', async () => {
    assert.equal(await codeOf(ipBatch(['link set dev nope up'], ns)), 'LinkNotFound');
    assert.equal(await getLink('nope', ns), null);
    assert.equal(await deleteLinkIfExists('nope', ns), false);
    await ipBatch(['link add pk0 type veth peer name pk1'], ns);
    assert.equal((await getLink('pk0', ns))?.ifname, 'pk0');
    assert.deepEqual((await listLinks(ns, ['type', 'veth'])).map((l) => l.ifname).sort(), ['pk0', 'pk1']);
    assert.equal(await deleteLinkIfExists('pk0', ns), true);
  });

  it('ip: a missing namespace is NetnsNotFound, by name and by path', async () => {
    assert.equal(await codeOf(listLinks(`${scope.prefix}-gone`)), 'NetnsNotFound');
    assert.equal(await codeOf(listLinks('/proc/999999999/ns/net')), 'NetnsNotFound');
    assert.equal(await codeOf(execInNetns(`${scope.prefix}-gone`, ['true'])), 'NetnsNotFound');
  });

  it('ip: the failing line of a batch and its errno are data on the error', async () => {
    await ipBatch(['link add pk2 type veth peer name pk3'], ns);
    try {
      await ipBatch(['link set pk2 up', 'link add pk2 type veth peer name pk4'], ns);
      assert.fail('the second line must fail');
    } catch (e) {
      assert.deepEqual(kernelFailureOf(e), { code: 'KernelCommandFailed', batchLine: 2, errno: 'EEXIST' });
    }
  });

  it('ip: an empty routing table reads as no routes; removing what is gone is fine with ignoreMissing', async () => {
    assert.deepEqual(await listRoutes(['table', '4321'], ns, 4), []);
    const gone = [
      'rule del pref 4321 table 4321',
      'route flush table 4321',
      'route del 10.9.0.0/24 table 4321',
    ];
    await ipBatch(gone, ns, { force: true, ignoreMissing: true });
    assert.notEqual(await codeOf(ipBatch(gone, ns, { force: true })), 'ok', 'without ignoreMissing it fails');
    // Any other failure still fails.
    assert.equal(
      await codeOf(
        ipBatch(['rule del pref 4321 table 4321', 'link set dev nope up'], ns, {
          force: true,
          ignoreMissing: true,
        }),
      ),
      'LinkNotFound',
    );
    await ipBatch(['rule add iif lo lookup 4321 pref 4321'], ns);
    assert.ok((await listRules(ns)).some((r) => r.priority === 4321 && r.table === '4321'));
  });

  it('sysctl: reads and writes inside the namespace, never the host', async () => {
    const host = readFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', 'utf8').trim();
    const want = host === '2' ? '1' : '2';
    await writeSysctl('net/ipv4/conf/all/rp_filter', want, ns);
    assert.equal(await readSysctl('net/ipv4/conf/all/rp_filter', ns), want);
    assert.equal(await readSysctl('net/ipv4/conf/all/rp_filter'), host);
    assert.equal(await codeOf(writeSysctl('../../etc/passwd', 'x', ns)), 'InvalidSysctlKey');
  });

  it('nft: a missing table lists as null; JSON listing reads rules as data; delete is idempotent', async () => {
    assert.equal(await nftListTable('ip', 'pk_test', { netns: ns }), null);
    assert.equal(await nftListTableJson('ip', 'pk_test', { netns: ns }), null);
    await nftApply(
      'table ip pk_test {\n  chain c {\n    type filter hook forward priority filter;\n    ip daddr 10.0.0.0/8 accept comment "pk"\n  }\n}\n',
      { netns: ns },
    );
    const t = await nftListTableJson('ip', 'pk_test', { netns: ns });
    assert.equal(t?.chains[0]?.name, 'c');
    assert.deepEqual(
      t?.rules.map((r) => r.comment),
      ['pk'],
    );
    await nftDeleteTable('ip', 'pk_test', { netns: ns });
    await nftDeleteTable('ip', 'pk_test', { netns: ns });
    assert.equal(await nftListTable('ip', 'pk_test', { netns: ns }), null);
    assert.equal(await codeOf(nftApply('table ip x { junk }\n', { netns: ns })), 'KernelCommandFailed');
  });

  it('programs: run inside the namespace with input and exit code; a spawned one lives there', async () => {
    const r = await execInNetns(ns, ['sh', '-c', 'cat; readlink /proc/self/ns/net; exit 3'], {
      input: 'hi\n',
    });
    assert.equal(r.code, 3);
    const [echo, inode] = r.stdout.trim().split('\n');
    assert.equal(echo, 'hi');
    assert.equal(inode, `net:[${statSync(netnsPath(ns)).ino}]`);
    const child = spawnInNetns(ns, ['sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((res) => setTimeout(res, 200));
      // nsenter execs the program, so the child's pid is the program itself, inside the namespace.
      assert.equal(statSync(`/proc/${child.pid}/ns/net`).ino, statSync(netnsPath(ns)).ino);
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await exitCodeOf(child), 128);
  });
});
