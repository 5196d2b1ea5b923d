/**
 * Operating a lab as an operator would (root, real kernel, one lab for the file): `podnet status` healthy;
 * `lab check --test --junit-file`; one node's agent killed by its pid, after which `podnet status`, `lab status`
 * and `lab check` name that node within bounded time; `podnet sysdump` of the lab with its expected entries,
 * the CNI calls in the agents' logs and metrics, and no secret; the agent restarted, and status healthy again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { labDown, labRestartAgent, labUp } from '../../lab/lab.js';
import { killAgent } from '../../lab/node.js';
import { readLab, requireLab } from '../../lab/state.js';
import { readSysdump } from '../../sysdump/testing/read-archive.js';
import { runPodnet } from './testing/run-cli.js';

const name = `to${randomBytes(2).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'pnops-'));

const podnet = (args: string[], timeout = 120_000) => runPodnet(args, { timeoutMs: timeout });

const xml = (file: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'testcase' }).parse(
    readFileSync(file, 'utf8'),
  );

describe('operating a lab', { concurrency: false }, () => {
  before(async () => {
    await labUp({ name, nodes: 2, podsPerNode: 1 });
  });
  after(async () => {
    if (readLab(name)) await labDown(name).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('podnet status: every node leased, heartbeating and publishing its pod', () => {
    const r = podnet(['status', '--lab', name, '--wait', '--timeout', '60s', '-o', 'json']);
    assert.equal(r.code, 0, r.out + r.err);
    const s = JSON.parse(r.out);
    assert.equal(s.healthy, true);
    assert.deepEqual(
      s.nodes.map(
        (n: { agent: { state: string; ready: boolean }; endpoints: number; block: string | null }) => [
          n.agent.state,
          n.agent.ready,
          n.endpoints,
          n.block !== null,
        ],
      ),
      [
        ['ok', true, 1, true],
        ['ok', true, 1, true],
      ],
    );
    assert.equal(s.podCidr.blocks.leased, 2);
  });

  it('lab check --test picks probes by name and --junit-file writes them as JUnit', () => {
    const file = join(dir, 'check.xml');
    const r = podnet(['lab', 'check', '--name', name, '--test', 'pod-pod,!same-node', '--junit-file', file]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /2\/2 agents healthy \(podnet status\)/);
    const doc = xml(file);
    const [probes, ipam, agents] = doc.testsuites.testsuite;
    assert.ok(probes.testcase.length > 0);
    for (const c of probes.testcase) {
      assert.match(c.name, /^pod-pod-cross-(node|pool):/);
      assert.equal(c.failure, undefined);
    }
    assert.equal(ipam.testcase.length, 2);
    assert.equal(agents.failures, '0');
  });

  it("names a node whose agent was killed in podnet status, lab status and lab check, within the heartbeat's lease", async () => {
    const victim = requireLab(name).nodes[1];
    const killedAt = Date.now();
    killAgent(victim);
    // The heartbeat lives on the node's 30 s endpoint lease: gone at most 30 s after the last keep-alive.
    let status: { code: number | null; out: string } = { code: 0, out: '' };
    while (Date.now() - killedAt < 75_000) {
      status = podnet(['status', '--lab', name, '-o', 'json']);
      if (status.code !== 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const seconds = (Date.now() - killedAt) / 1000;
    assert.equal(status.code, 1, `still healthy ${seconds} s after the kill`);
    const s = JSON.parse(status.out);
    assert.deepEqual(
      s.problems.map((p: { node: string; code: string }) => [p.node, p.code]),
      [[victim.name, 'AgentSilent']],
    );
    const table = podnet(['status', '--lab', name]);
    assert.equal(table.code, 1);
    assert.match(table.out, new RegExp(`DEGRADED: 1/2 nodes with problems\\n  ${victim.name}: AgentSilent`));

    const lab = JSON.parse(podnet(['lab', 'status', '--name', name, '-o', 'json']).out);
    assert.deepEqual(
      lab.clusters[0].nodes.map((n: { name: string; agent: string }) => [n.name, n.agent]),
      requireLab(name).nodes.map((n) => [n.name, n.name === victim.name ? 'silent' : 'ok']),
    );
    const file = join(dir, 'dead.xml');
    const check = podnet(['lab', 'check', '--name', name, '--test', '^external-pod:', '--junit-file', file]);
    assert.equal(check.code, 1, 'a silent agent fails lab check');
    assert.match(
      check.out,
      new RegExp(`1/2 agents healthy \\(podnet status\\), 1 FAILED:\\n  ${victim.name}: AgentSilent`),
    );
    const agents = xml(file).testsuites.testsuite[2];
    assert.equal(agents.failures, '1');
    assert.equal(
      agents.testcase.find((c: { name: string }) => c.name === `agent:node/${victim.name}`).failure.type,
      'AgentSilent',
    );
  });

  it('podnet sysdump of the lab: every node dumped, CNI calls in logs and metrics, what failed named, no secret', async () => {
    const [alive, dead] = requireLab(name).nodes;
    // Secrets a log could carry by mistake: they must not leave the node in a bundle.
    appendFileSync(
      join(alive.dir, 'agent.log'),
      `{"level":"warn","msg":"test line","password":"hunter2-ops","url":"etcd:https://root:s3cr3t-ops@10.0.0.1:2379"}\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANops\n-----END PRIVATE KEY-----\n`,
    );
    const file = join(dir, 'lab.tar.gz');
    const r = podnet(['sysdump', '--lab', name, '-o', file]);
    assert.equal(r.code, 0, r.err);
    const entries = await readSysdump(file);
    for (const n of [alive, dead]) {
      for (const f of [
        'ip-addr.json',
        'ip-route.json',
        'ip-link.json',
        'nft.json',
        'agent.log',
        'ipam-check.json',
      ]) {
        assert.ok(entries.has(`nodes/${n.name}/${f}`), `nodes/${n.name}/${f}`);
      }
    }
    assert.ok(JSON.parse(entries.get(`nodes/${alive.name}/nft.json`) ?? '').nftables.length > 0);
    assert.ok(
      JSON.parse(entries.get(`nodes/${alive.name}/ip-addr.json`) ?? '').some(
        (l: { ifname: string }) => l.ifname === 'eth0',
      ),
    );
    // Each pod was attached through the agent: its ADD is in the log and in the metrics.
    assert.match(entries.get(`nodes/${alive.name}/agent.log`) ?? '', /"msg":"cni add"/);
    assert.match(
      entries.get(`nodes/${alive.name}/metrics.txt`) ?? '',
      /^podnet_cni_requests_total\{command="ADD",result="ok"\} [1-9]/m,
    );
    // The dead agent answers nothing: its status and metrics are named as left out, with why.
    const meta = JSON.parse(entries.get('sysdump.json') ?? '');
    const skipped = meta.skipped.map((s: { path: string }) => s.path);
    assert.ok(skipped.includes(`nodes/${dead.name}/metrics.txt`), JSON.stringify(meta.skipped));
    assert.ok(
      entries.has('cluster/status.json') && entries.has('cluster/plan.json') && entries.has('lab/state.json'),
    );
    const all = [...entries.values()].join('\n');
    for (const secret of ['hunter2-ops', 's3cr3t-ops', 'MIIEvQIBADANops'])
      assert.ok(!all.includes(secret), secret);
  });

  it('a restarted agent makes status healthy again', async () => {
    await labRestartAgent(name, requireLab(name).nodes[1].name);
    const r = podnet(['status', '--lab', name, '--wait', '--timeout', '60s']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /healthy: 2\/2 nodes/);
  });
});
