/**
 * Issue 14, fault 1, replayed against a real lab of either store backend: from inside a pod, one HTTP `PUT`
 * to the etcd gateway API rewriting another node's block lease (plain and over TLS without a certificate); from
 * the node itself, which the guard lets through, the same without a client certificate; and a local non-root
 * user (`nobody`, via util-linux `setpriv`) listing and rewriting the store with the podnet CLI, reading the
 * files (sqlite file, client keys), and connecting to etcd's socket or to the loopback port the old relay
 * served. Every attempt must fail and the lease stay exactly as it was.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NODE_DNS_IP } from '../../agent/dns.js';
import { blockKey } from '../../ipam/leases.js';
import { execInNetns } from '../../kernel/process.js';
import { PROXY_HEALTHZ_PORT } from '../../loadbalancer/health.js';
import { DEFAULT_ETCD_PREFIX, openStore } from '../../store/open.js';
import { etcdSocket } from '../etcd.js';
import type { LabState } from '../model.js';
import { readVnet } from '../state.js';

const PODNET = fileURLToPath(new URL('../../../../bin/podnet.js', import.meta.url));

/** `argv` as user and group nobody (65534) with no supplementary groups. */
export const asNobody = (argv: string[]) => [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--',
  ...argv,
];

async function leaseOf(state: LabState, node: string) {
  const store = await openStore(state.store.url);
  try {
    const kv = await store.kv.get(
      blockKey((await store.listBlocks()).find((l) => l.nodeName === node)?.block ?? ''),
    );
    assert.ok(kv, `node ${node} holds a block lease`);
    return kv;
  } finally {
    await store.close();
  }
}

/** The attack's body: another node's lease, pointed at the attacker's node (etcd v3 JSON gateway, base64). */
function rewrite(key: string, value: string, attackerIp: string): string {
  const forged = { ...JSON.parse(value), nodeIp: attackerIp };
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return JSON.stringify({ key: b64(`${DEFAULT_ETCD_PREFIX}${key}`), value: b64(JSON.stringify(forged)) });
}

export async function podsCannotRewriteLeases(state: LabState): Promise<void> {
  const [victim, attacker] = state.nodes;
  const before = await leaseOf(state, victim.name);
  const pod = state.pods.find((p) => p.node === attacker.name);
  assert.ok(pod, `a pod on ${attacker.name}`);
  const body = rewrite(before.key, before.value, attacker.ip);
  const port = state.store.etcd?.clientPort ?? 2379;
  const gateways = (readVnet(state.vnet)?.subnets ?? [])
    .filter((s) => s.cluster === state.name)
    .map((s) => s.gateway);
  assert.ok(gateways.length > 0);
  for (const gw of gateways) {
    for (const scheme of ['http', 'https']) {
      const url = `${scheme}://${gw}:${port}/v3/kv/put`;
      const curl = ['curl', '-sS', '-k', '-m', '3', '-X', 'POST', url, '-d', body];
      const fromPod = await execInNetns(pod.netns, curl);
      assert.notEqual(fromPod.code, 0, `pod ${pod.name}: ${url} answered ${fromPod.stdout}`);
      if (state.store.kind === 'etcd') {
        // The node reaches etcd (the guard drops only pod traffic), but not without its certificate.
        const fromNode = await execInNetns(attacker.netns, curl);
        assert.notEqual(
          fromNode.code,
          0,
          `node ${attacker.name} without a certificate: ${url} answered ${fromNode.stdout}`,
        );
      }
    }
  }
  const after = await leaseOf(state, victim.name);
  assert.deepEqual(
    [after.value, after.modRevision],
    [before.value, before.modRevision],
    'the lease is unchanged',
  );
}

/**
 * A node listens on TCP only where it serves read-only answers: cluster DNS on its node-local address
 * (src/agent/dns.ts) and kube-proxy's load balancer health checks (src/loadbalancer/health.ts), neither of
 * which takes a write. The agent's API, IPAM and metrics stay on unix sockets, so nothing a pod reaches can
 * change the cluster.
 */
export async function nodesListenOnlyReadOnly(state: LabState): Promise<void> {
  const allowed = new Set([`${NODE_DNS_IP}:53`, `0.0.0.0:${PROXY_HEALTHZ_PORT}`, `*:${PROXY_HEALTHZ_PORT}`]);
  for (const n of state.nodes) {
    const r = await execInNetns(n.netns, ['ss', '-Hltn']);
    assert.equal(r.code, 0, r.stderr);
    const local = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.trim().split(/\s+/)[3]);
    assert.deepEqual(
      local.filter((a) => !allowed.has(a)),
      [],
      `node ${n.name} listens on TCP beyond DNS and health checks: ${r.stdout}`,
    );
  }
}

export async function nonRootCannotTouchStore(state: LabState): Promise<void> {
  const [victim] = state.nodes;
  const before = await leaseOf(state, victim.name);
  const run = (argv: string[]) => execInNetns(null, asNobody(argv));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' };
  // The podnet CLI as nobody, with the lab's own store URL.
  const list = await execInNetns(
    null,
    asNobody([process.execPath, PODNET, 'ipam', 'blocks', '--store', state.store.url, '-o', 'json']),
    { env },
  );
  assert.notEqual(list.code, 0, `nobody listed the blocks: ${list.stdout}`);
  assert.doesNotMatch(list.stdout, new RegExp(victim.ip.replace(/\./g, '\\.')));
  const files =
    state.store.kind === 'sqlite'
      ? [state.store.url.slice('sqlite:'.length)]
      : [
          `${state.store.etcd?.pki}/operator.key`,
          `${state.store.etcd?.pki}/node-${victim.name}.key`,
          `${state.store.etcd?.pki}/ca.key`,
        ];
  for (const f of files) {
    const read = await run(['cat', f]);
    assert.notEqual(read.code, 0, `nobody read ${f}`);
    const write = await run(['sh', '-c', `: >> '${f}'`]);
    assert.notEqual(write.code, 0, `nobody opened ${f} for writing`);
  }
  if (state.store.kind === 'etcd' && state.store.etcd) {
    const socket = etcdSocket(state.dir, state.store.etcd);
    const viaSocket = await run([
      'curl',
      '-sS',
      '-k',
      '-m',
      '3',
      '--unix-socket',
      socket,
      'https://localhost/v3/kv/range',
      '-d',
      '{"key":"AA==","range_end":"AA=="}',
    ]);
    assert.notEqual(viaSocket.code, 0, `nobody reached etcd's socket: ${viaSocket.stdout}`);
    // The port the loopback relay served: nothing listens there any more.
    const loopback = await run([
      'curl',
      '-sS',
      '-m',
      '3',
      `http://127.0.0.1:${state.store.etcd.clientPort}/v3/kv/range`,
      '-d',
      '{"key":"AA=="}',
    ]);
    assert.notEqual(
      loopback.code,
      0,
      `nobody reached 127.0.0.1:${state.store.etcd.clientPort}: ${loopback.stdout}`,
    );
  }
  const after = await leaseOf(state, victim.name);
  assert.deepEqual(
    [after.value, after.modRevision],
    [before.value, before.modRevision],
    'the lease is unchanged',
  );
}
