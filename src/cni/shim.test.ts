/**
 * The sh shim on its own (no root, no kernel): what it extracts from stdin, what it sends, how it relays the
 * agent's answer and what it says when no agent answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHIM_PATH, execPlugin } from './testing/exec-plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-shim-'));
const socket = join(dir, 'echo.sock');
let seen: { headers: IncomingHttpHeaders; body: string; url?: string; method?: string }[] = [];
let reply = { status: 200, body: '{"cniVersion":"1.0.0","interfaces":[],"ips":[],"routes":[],"dns":{}}' };
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen.push({
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      url: req.url,
      method: req.method,
    });
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body);
  });
});

describe('bin/podnet-cni', () => {
  before(() => new Promise<void>((resolve) => server.listen(socket, resolve)));
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers VERSION itself, echoing the asked version', async () => {
    const r = await execPlugin(SHIM_PATH, { command: 'VERSION', config: '{\n  "cniVersion" : "0.4.0"\n}' });
    assert.equal(r.code, 0);
    assert.deepEqual(r.json, {
      cniVersion: '0.4.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    const junk = await execPlugin(SHIM_PATH, { command: 'VERSION', config: '{"cniVersion":"1\\"}' });
    assert.equal(junk.json?.cniVersion, '1.1.0', 'an unusable version falls back');
  });

  it('posts stdin byte for byte with the CNI_* variables as headers, and relays the result', async () => {
    seen = [];
    // Pretty-printed, non-ASCII and a trailing line without newline: the socket is still found.
    const stdin = `{\n  "cniVersion": "1.0.0",\n  "name": "podnet",\n  "note": "ü % \\\\ $HOME",\n  "agentSocket":\n    "${socket}"\n}`;
    const r = await execPlugin(SHIM_PATH, {
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
    assert.equal(req.body, `${stdin}\n`);
    assert.deepEqual(
      ['command', 'containerid', 'netns', 'ifname', 'args', 'path'].map((k) => req.headers[`x-cni-${k}`]),
      ['ADD', 'c1', '/run/netns/p1', 'eth0', 'IgnoreUnknown=1;K8S_POD_NAME=web', '/opt/cni/bin'],
    );
  });

  it('prints nothing for an empty success and exits 1 with the body of a refusal', async () => {
    const conf = { cniVersion: '1.0.0', name: 'podnet', agentSocket: socket };
    reply = { status: 200, body: '' };
    const del = await execPlugin(SHIM_PATH, { command: 'DEL', containerId: 'c1', config: conf });
    assert.deepEqual([del.code, del.stdout], [0, '']);
    reply = { status: 400, body: '{"cniVersion":"1.0.0","code":7,"msg":"bad"}' };
    const bad = await execPlugin(SHIM_PATH, { command: 'ADD', containerId: 'c1', config: conf });
    assert.deepEqual([bad.code, bad.json?.code], [1, 7]);
  });

  it('says "try again later" (11) in the asked version when no agent listens', async () => {
    const r = await execPlugin(SHIM_PATH, {
      command: 'ADD',
      containerId: 'c1',
      config: { cniVersion: '0.4.0', name: 'podnet', agentSocket: join(dir, 'nobody.sock') },
    });
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 11);
    assert.equal(r.json?.cniVersion, '0.4.0');
    assert.match(String(r.json?.details), /nobody\.sock/);
    const dflt = await execPlugin(SHIM_PATH, { command: 'ADD', config: { cniVersion: '1.0.0', name: 'x' } });
    assert.match(String(dflt.json?.details), /\/run\/podnet\/agent\.sock/, 'default socket');
  });
});
