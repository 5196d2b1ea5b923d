/**
 * A fuzz suite of the whole CNI surface (issue 14, "What to build" 4): stdin and every CNI_* variable, through
 * the real shim (as install-cni installs it) and the real agent handler with its real pod IPAM, plumbing real
 * pods in kernel namespaces. For every input: a CNI error object with a documented code (docs/cni.md, "Error
 * codes"; spec: https://github.com/containernetworking/cni/blob/main/SPEC.md#error) or a valid result, the exit
 * status consistent with it, and nothing left in the kernel or the pod IPAM after the runtime's DEL (a runtime
 * calls DEL after every ADD, failed or not: SPEC.md "ADD ... the runtime must call DEL").
 *
 * Seeded: the seed is printed; `CNI_FUZZ_SEED=N` replays a run. Bounded: at most CASES inputs or BUDGET_MS.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPodVeths } from '../dataplane/pod-network.js';
import { openPodIpam } from '../ipam/pod-ipam.js';
import { ipJson } from '../kernel/ip.js';
import { below, mulberry32, mutateChars } from '../testing/fuzz.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { type PluginCall, type PluginRun, execPlugin, shimFor } from './testing/exec-plugin.js';
import { type TestAgent, startTestAgent } from './testing/test-agent.js';

const CASES = 160;
const BUDGET_MS = 25_000;
/** The codes docs/cni.md documents (999, a bug, is not among them). */
const DOCUMENTED = new Set([1, 4, 5, 6, 7, 11, 50, 100]);
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
/**
 * What bad values are made of: control characters, quotes, blanks, ip-batch comment and path characters. No
 * NUL: an environment variable cannot hold one (execve takes C strings); stdin gets NUL bytes of its own.
 */
const NASTY = 'aZ09_.-/#"\'\\ \t\r\n\x01\x7fü$;=:{}[]';

const seed = Number(process.env.CNI_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
let scope: NetnsScope;
let dir: string;
let agent: TestAgent;
let node: string;
let pods: string[];
let notNetns: string;

describe('CNI fuzz: stdin and every CNI_* variable through the shim and the agent', () => {
  before(async () => {
    scope = netnsScope('cz');
    dir = mkdtempSync(join(tmpdir(), 'podnet-cni-fuzz-'));
    node = await scope.add('node');
    pods = [await scope.add('p0'), await scope.add('p1')];
    notNetns = join(dir, 'regular-file');
    writeFileSync(notNetns, 'not a namespace');
    const octet = 200 + below(mulberry32(seed), 50);
    agent = await startTestAgent({
      socket: join(dir, 'agent.sock'),
      nodeName: 'fuzz-node',
      nodeNetns: node,
      ipam: openPodIpam({ path: join(dir, 'pod-ipam.db'), block: `10.${octet}.7.0/24`, maxPods: 250 }),
      podCidrs: [`10.${octet}.0.0/16`],
    });
  });

  after(async () => {
    await agent?.close();
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`every input gets a documented answer and leaves nothing after DEL (seed ${seed})`, async (t) => {
    t.diagnostic(`seed ${seed} (replay: CNI_FUZZ_SEED=${seed})`);
    const rnd = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[below(rnd, xs.length)];
    const shim = shimFor(agent.socket);
    const run = (c: PluginCall) => execPlugin(shim, c);

    const value = (valid: string, bad: string[]): string => {
      const r = rnd();
      if (r < 0.7) return valid;
      if (r < 0.78) return '';
      if (r < 0.9) return mutateChars(valid, NASTY, rnd, 3);
      return pick(bad);
    };
    const config = (command: string): string | Buffer => {
      const conf: Record<string, unknown> = {
        cniVersion: rnd() < 0.9 ? pick(VERSIONS) : pick(['9.9.9', '', 1, null]),
        name: rnd() < 0.9 ? 'podnet' : pick(['', 'bad name', 5, '#x']),
        type: 'podnet-cni',
      };
      if (command === 'GC' && rnd() < 0.7)
        conf['cni.dev/valid-attachments'] =
          rnd() < 0.8 ? [{ containerID: 'c1', ifname: 'eth0' }] : pick([5, [1], {}]);
      if (rnd() < 0.2) conf.prevResult = pick([{}, { ips: 5 }, null, 'x']);
      const text = JSON.stringify(conf);
      const r = rnd();
      if (r < 0.7) return text;
      if (r < 0.85) return mutateChars(text, NASTY, rnd, 4);
      return pick([
        Buffer.from([0x7b, 0xff, 0x7d]),
        Buffer.from(`${text.slice(0, -1)},"x":"\0"}`),
        Buffer.alloc(0),
        'x'.repeat((1 << 20) + 10),
        `[${text}]`,
      ]);
    };

    /** Exit status and stdout agree, and stdout is a valid result or a documented error. */
    const answerOk = (what: string, command: string, r: PluginRun) => {
      if (r.code === 0) {
        if (command === 'ADD') {
          const res = r.json as { cniVersion?: string; interfaces?: unknown[]; ips?: { address?: string }[] };
          assert.ok(VERSIONS.includes(String(res?.cniVersion)), `${what}: result version: ${r.stdout}`);
          assert.ok(Array.isArray(res.interfaces) && res.interfaces.length === 2, `${what}: ${r.stdout}`);
          assert.match(String(res.ips?.[0]?.address), /^10\.\d+\.7\.\d+\/32$/, `${what}: ${r.stdout}`);
        } else if (command === 'VERSION') {
          assert.ok(Array.isArray(r.json?.supportedVersions), `${what}: ${r.stdout}`);
        } else {
          assert.equal(r.stdout, '', `${what}: success prints nothing`);
        }
        return;
      }
      assert.equal(r.code, 1, `${what}: exit ${r.code}: ${r.stdout}${r.stderr}`);
      const e = r.json;
      assert.ok(
        e && typeof e.code === 'number' && typeof e.msg === 'string',
        `${what}: not a CNI error: ${r.stdout}`,
      );
      assert.ok(DOCUMENTED.has(e.code as number), `${what}: undocumented code ${e.code}: ${r.stdout}`);
      assert.notEqual(e.code, 11, `${what}: the agent answers, so never "try again later": ${r.stdout}`);
    };

    /** Nothing of any attachment left: no address held, no podnet veth or pod route on the node, pods empty. */
    const nothingLeft = async (what: string) => {
      assert.deepEqual(agent.node.ipam()?.list() ?? [], [], `${what}: pod IPAM empty`);
      assert.deepEqual(await listPodVeths(node), [], `${what}: no pod veth on the node`);
      assert.deepEqual(await ipJson(['route', 'show'], node), [], `${what}: no pod route on the node`);
      for (const p of pods) {
        const links = await ipJson<{ ifname: string }>(['link', 'show'], p);
        assert.deepEqual(
          links.map((l) => l.ifname),
          ['lo'],
          `${what}: nothing left in pod ${p}`,
        );
      }
    };

    const started = Date.now();
    let i = 0;
    const seen = new Map<string, number>();
    for (; i < CASES && Date.now() - started < BUDGET_MS; i++) {
      // ADD most often: it is the command that reaches the kernel.
      const r0 = rnd();
      const command = r0 < 0.4 ? 'ADD' : r0 < 0.92 ? pick(COMMANDS) : pick(['', 'add', 'BOGUS', 'ADD\n']);
      const pod = `/run/netns/${pick(pods)}`;
      const env: Record<string, string> = {
        CNI_COMMAND: command,
        CNI_CONTAINERID: value(`fz${i}`, ['x'.repeat(256), '-lead', 'a/b', 'x'.repeat(5000)]),
        CNI_NETNS: value(pod, [
          notNetns,
          dir,
          '/dev/null',
          `/run/netns/${scope.prefix}-none`,
          'relative/path',
        ]),
        CNI_IFNAME: value(pick(['eth0', 'net1']), ['x'.repeat(16), '.', '..', '#x', 'lo']),
        CNI_ARGS: value('IgnoreUnknown=1;K8S_POD_NAME=web', ['K8S_POD_NAME', ';;;', 'a'.repeat(4097)]),
        CNI_PATH: value('/opt/cni/bin', ['x'.repeat(5000)]),
      };
      // Sometimes a variable is not set at all.
      for (const k of Object.keys(env)) if (k !== 'CNI_COMMAND' && rnd() < 0.05) delete env[k];
      const stdin = config(command);
      const what = `seed ${seed} case ${i}: ${JSON.stringify(env)} stdin ${JSON.stringify(String(stdin).slice(0, 200))}`;
      const r = await run({ command: 'ADD', config: stdin, env });
      answerOk(what, command, r);
      const key = r.code === 0 ? `${command} ok` : `${command} ${r.json?.code}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (command === 'ADD' && r.code === 0) {
        // A live pod: CHECK with its result passes.
        const conf = {
          cniVersion: (r.json as { cniVersion: string }).cniVersion,
          name: 'podnet',
          prevResult: r.json,
        };
        if (conf.cniVersion !== '0.3.0' && conf.cniVersion !== '0.3.1') {
          const check = await run({ command: 'CHECK', config: conf, env: { ...env, CNI_COMMAND: 'CHECK' } });
          assert.equal(check.code, 0, `${what}: CHECK of the live pod: ${check.stdout}`);
        }
      }
      if (command === 'ADD' || command === 'CHECK') {
        // The runtime's DEL (valid config, the same attachment): it must succeed whenever the ids are usable.
        const del = await run({
          command: 'DEL',
          config: { cniVersion: '1.0.0', name: 'podnet' },
          env: { ...env, CNI_COMMAND: 'DEL' },
        });
        answerOk(`${what} (DEL)`, 'DEL', del);
        if (r.code === 0) assert.equal(del.code, 0, `${what}: DEL after a successful ADD: ${del.stdout}`);
      }
      await nothingLeft(what);
    }
    t.diagnostic(
      `${i} inputs in ${Date.now() - started} ms: ${[...seen].map(([k, n]) => `${k}: ${n}`).join(', ')}`,
    );
    assert.ok((seen.get('ADD ok') ?? 0) > 0, 'some inputs were valid ADDs (the fuzz reached the kernel)');
    for (const code of [4, 6, 7]) {
      assert.ok(
        [...seen.keys()].some((k) => k.endsWith(` ${code}`)),
        `some inputs were refused with code ${code}`,
      );
    }
  });
});
