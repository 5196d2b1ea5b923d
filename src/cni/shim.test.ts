/**
 * The sh shim on its own (no root, no kernel): what it sends, how it relays the agent's answer and what it says
 * when no agent answers; and, against the real CNI endpoint (an agent without a lease), that every stdin the
 * shim streams unparsed gets the agent's decode and config errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execInNetns } from '../kernel/process.js';
import { SHIM_PATH, execPlugin, shimFor } from './testing/exec-plugin.js';
import { gcConfig } from './testing/gc-config.js';
import { type TestAgent, startTestAgent } from './testing/test-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-shim-'));
const socket = join(dir, 'echo.sock');
const shim = shimFor(socket);
let seen: { headers: IncomingHttpHeaders; body: Buffer; url?: string; method?: string }[] = [];
const RESULT = '{"cniVersion":"1.0.0","interfaces":[],"ips":[],"routes":[],"dns":{}}';
let reply = { status: 200, body: RESULT };
/** Answers the shim's streamed request (an HTTP upgrade, stdin until the half-close) with `reply`. */
const server = createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
server.on('upgrade', (req, sock, head: Buffer) => {
  const chunks: Buffer[] = [head];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.on('end', () => {
    seen.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url, method: req.method });
    sock.end(
      `HTTP/1.1 ${reply.status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(reply.body)}\r\n\r\n${reply.body}`,
    );
  });
});
/** A plain HTTP service with no idea of the upgrade (as the agent's metrics socket). */
const other = join(dir, 'other.sock');
const otherServer = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"NotFound","message":"metrics are served on GET /metrics"}}');
  });
});
let agent: TestAgent;

describe('bin/podnet-cni', () => {
  before(async () => {
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    await new Promise<void>((resolve) => otherServer.listen(other, resolve));
    agent = await startTestAgent({
      socket: join(dir, 'agent.sock'),
      nodeName: 'n1',
      ipam: null,
      podCidrs: ['10.244.0.0/16'],
    });
  });
  after(async () => {
    server.close();
    otherServer.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The Go skel of the reference plugins ignores VERSION's stdin and prints its newest version; libcni reads only
  // supportedVersions (reference/cni-spec.md, VERSION). Reading nothing keeps VERSION O(1) whatever stdin holds
  // (issue 14, fault 3: VERSION with a 500-attachment config took 2.2 s).
  it('answers VERSION itself without reading stdin', async () => {
    for (const config of ['{\n  "cniVersion" : "0.4.0"\n}', '{"cniVersion":"1\\"}', 'x'.repeat(2_000_000)]) {
      const r = await execPlugin(shim, { command: 'VERSION', config });
      assert.equal(r.code, 0);
      assert.deepEqual(r.json, {
        cniVersion: '1.1.0',
        supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
      });
    }
  });

  it('streams stdin byte for byte (NUL and non-UTF-8 bytes too) with the CNI_* variables as headers', async () => {
    const stdins = [
      Buffer.from(`{\n  "cniVersion": "1.0.0",\n  "name": "podnet",\n  "note": "ü % \\\\ $HOME"\n}`),
      // A shell variable cannot hold these: the old shim dropped the NUL and the agent never saw it.
      Buffer.from([0x7b, 0x00, 0x22, 0xff, 0xfe, 0x0d, 0x0a, 0x7d]),
      Buffer.alloc(0),
    ];
    for (const stdin of stdins) {
      seen = [];
      const r = await execPlugin(shim, {
        command: 'ADD',
        containerId: 'c1',
        netns: '/run/netns/p1',
        ifname: 'eth0',
        args: 'IgnoreUnknown=1;K8S_POD_NAME=web',
        path: '/opt/cni/bin',
        config: stdin,
      });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.stdout, `${reply.body}\n`);
      const [req] = seen;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/v1/cni');
      assert.equal(req.headers.upgrade, 'podnet-cni');
      assert.ok(req.body.equals(stdin), `byte for byte: ${JSON.stringify(req.body.toString('latin1'))}`);
      assert.deepEqual(
        ['command', 'containerid', 'netns', 'ifname', 'args', 'path'].map((k) => req.headers[`x-cni-${k}`]),
        ['ADD', 'c1', '/run/netns/p1', 'eth0', 'IgnoreUnknown=1;K8S_POD_NAME=web', '/opt/cni/bin'],
      );
    }
  });

  it('passes at most 1 MiB and one byte, so the agent can refuse more (code 5)', async () => {
    seen = [];
    const r = await execPlugin(shim, { command: 'ADD', containerId: 'c1', config: 'x'.repeat(3 << 20) });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(seen[0].body.length, (1 << 20) + 1);
    const big = await execPlugin(shimFor(agent.socket), {
      command: 'ADD',
      containerId: 'c1',
      config: 'x'.repeat(3 << 20),
    });
    assert.deepEqual([big.code, big.json?.code], [1, 5], big.stdout);
  });

  it('prints nothing for an empty success and exits 1 with the body of a refusal', async () => {
    const conf = { cniVersion: '1.0.0', name: 'podnet' };
    reply = { status: 200, body: '' };
    const del = await execPlugin(shim, { command: 'DEL', containerId: 'c1', config: conf });
    assert.deepEqual([del.code, del.stdout], [0, '']);
    reply = { status: 400, body: '{"cniVersion":"1.0.0","code":7,"msg":"bad"}' };
    const bad = await execPlugin(shim, { command: 'ADD', containerId: 'c1', config: conf });
    assert.deepEqual([bad.code, bad.json?.code], [1, 7]);
    reply = { status: 200, body: RESULT };
  });

  it('says "try again later" (11) naming the installed socket when no agent listens', async () => {
    const nobody = join(dir, 'nobody.sock');
    const r = await execPlugin(shimFor(nobody), {
      command: 'ADD',
      containerId: 'c1',
      config: { cniVersion: '0.4.0', name: 'podnet' },
    });
    assert.deepEqual([r.code, r.json?.code], [1, 11], r.stdout);
    assert.match(String(r.json?.details), /nobody\.sock/);
    // The shim never reads the config, so its own errors carry the newest version, as its VERSION answer.
    assert.equal(r.json?.cniVersion, '1.1.0');
    const dflt = await execPlugin(SHIM_PATH, { command: 'ADD', config: { cniVersion: '1.0.0', name: 'x' } });
    assert.match(String(dflt.json?.details), /\/run\/podnet\/agent\.sock/, 'default socket');
  });

  // Issue 14, fault 5: values reach HTTP header lines; a CR LF injected a header, a huge value was lost.
  it('refuses CNI_* values with control characters or over 4096 bytes (code 4), before any request', async () => {
    seen = [];
    const conf = { cniVersion: '1.0.0', name: 'podnet' };
    const injected = await execPlugin(shim, {
      command: 'ADD',
      containerId: 'zz\r\nX-Cni-Ifname: lo',
      netns: '/run/netns/p1',
      config: conf,
    });
    assert.deepEqual(
      [injected.code, injected.json?.code, injected.json?.msg],
      [1, 4, 'invalid env variables [CNI_CONTAINERID]'],
    );
    const lf = await execPlugin(shim, { command: 'DEL', containerId: 'c1', args: 'A=1\nB=2', config: conf });
    assert.deepEqual([lf.json?.code, lf.json?.msg], [4, 'invalid env variables [CNI_ARGS]']);
    const huge = await execPlugin(shim, {
      command: 'ADD',
      containerId: 'c1',
      netns: `/run/netns/${'x'.repeat(17_000)}`,
      config: conf,
    });
    assert.deepEqual([huge.json?.code, huge.json?.msg], [4, 'invalid env variables [CNI_NETNS]']);
    assert.equal(seen.length, 0, 'nothing reached the agent');
  });

  // Issue 14, faults 5 and 6: stdin without agentSocket got the retryable 11; NUL and non-UTF-8 were accepted.
  // The agent decodes what the shim streams: 6 for what is not a UTF-8 JSON object, 7 without cniVersion.
  it('gets the agent decode (6) and config (7) errors for every bad stdin', async () => {
    const cases: [string | Buffer, number][] = [
      ['', 6],
      ['garbage', 6],
      ['[1,2]', 6],
      [Buffer.from('{"cniVersion":"1.0.0","name":"a\0b"}'), 6],
      [Buffer.from([0x7b, 0xff, 0x7d]), 6],
      ['{}', 7],
      ['{"name":"podnet"}', 7],
    ];
    for (const [stdin, code] of cases) {
      const r = await execPlugin(shimFor(agent.socket), { command: 'ADD', containerId: 'c1', config: stdin });
      assert.deepEqual(
        [r.code, r.json?.code],
        [1, code],
        `stdin ${JSON.stringify(String(stdin))}: ${r.stdout}`,
      );
    }
  });

  // Issue 14, fault 6: a socket that is not the agent's printed a non-CNI JSON error.
  it('answers a CNI error (100) when the socket answers but not as a podnet agent', async () => {
    const call = { command: 'ADD', containerId: 'c1', netns: '/run/netns/p1', config: '{}' } as const;
    const plain = await execPlugin(shimFor(other), call);
    assert.deepEqual([plain.code, plain.json?.code], [1, 100], plain.stdout);
    assert.match(String(plain.json?.details), /HTTP 404/);
    for (const r of [
      { status: 400, body: '' },
      { status: 200, body: 'hello' },
    ]) {
      reply = r;
      const out = await execPlugin(shim, call);
      assert.deepEqual([out.code, out.json?.code], [1, 100], `HTTP ${r.status} ${r.body}: ${out.stdout}`);
      assert.match(String(out.json?.details), new RegExp(`HTTP ${r.status}`));
    }
    reply = { status: 200, body: RESULT };
  });

  // Issue 14, fault 3: parsing was quadratic in the bytes before agentSocket (10 KB 0.15 s, 80 KB 8.6 s, 500 KB
  // over 60 s); a runtime that sorts keys puts cni.dev/valid-attachments first. The bar: a 900 KB
  // config with the keys last answers within 2x of a small one. The shim no longer parses, so the difference is
  // streaming 900 KB through a pipe and a socket. stdin is a file, so the time is the shim's own and not this
  // test's feeding of a pipe. Best of interleaved runs each, sampled until the bar holds (at least 3 rounds, at
  // most 40 or 15 s), so busy moments of this shared machine do not decide: a failure needs every round to be
  // slow, while the old quadratic shim took over 60 s a call. The absolute figures are in bench/shim.ts.
  // How long it takes against a small one is bench/shim.ts's to measure (a ratio, in a benchmark), not a test's.
  it('streams a 900 KB config with the keys last whole to the agent, and answers it', async () => {
    const full = gcConfig(9200);
    assert.ok(full.length > 900_000, `${full.length} bytes`);
    const file = join(dir, 'full.json');
    writeFileSync(file, full);
    reply = { status: 200, body: '' };
    seen = [];
    const r = await execInNetns(null, ['sh', '-c', 'exec "$0" < "$1"', shim, file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'GC' },
    });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(seen.at(-1)?.body.toString(), full, 'the whole config reached the agent');
    reply = { status: 200, body: RESULT };
  });
});
