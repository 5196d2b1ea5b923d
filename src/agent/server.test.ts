import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryStore } from '../store/memory.js';
import { parseAgentFlags } from './config.js';
import { agentLogger } from './log.js';
import { NodeAgent } from './node-agent.js';
import { closeServer, serveAgentApi, serveMetrics } from './server.js';
import { MemoryPodIpam, RecordingDataplane, testProfile } from './test-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-agent-api-'));
const socket = join(dir, 'agent.sock');
const log = agentLogger('silent');
let agent: NodeAgent;
let server: Server;

function call(
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string>; socketPath?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: opts.socketPath ?? socket, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes to the socket and returns what comes back before the server closes. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(socket);
    let out = '';
    c.on('data', (d) => {
      out += d;
    });
    c.on('close', () => resolve(out));
    c.on('error', () => resolve(out));
    c.end(bytes);
  });
}

before(async () => {
  const store = new MemoryStore();
  await store.putCluster(testProfile(), 0);
  const cfg = { ...parseAgentFlags({ store: 'memory:', node: 'n1', nodeIp: '10.224.0.4' }), socket };
  agent = new NodeAgent(cfg, {
    store,
    openIpam: (block, maxPods) => new MemoryPodIpam(block, maxPods),
    dataplane: new RecordingDataplane('10.224.0.4'),
    log,
  });
  server = await serveAgentApi(agent, socket, log);
});

after(async () => {
  await closeServer(server);
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent API on the unix socket', () => {
  it('creates the socket for root only (mode 0600)', () => {
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  it('is healthy but not ready before the block is leased and the dataplane reconciled', async () => {
    assert.equal((await call('/healthz')).status, 200);
    const r = await call('/readyz');
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.body).block, null);
  });

  it('turns ready after start and reports the node in /v1/status', async () => {
    await agent.start();
    assert.equal((await call('/readyz')).status, 200);
    const s = JSON.parse((await call('/v1/status')).body);
    assert.equal(s.node, 'n1');
    assert.equal(s.nodeIp, '10.224.0.4');
    assert.equal(s.block, '10.244.0.0/24');
    assert.deepEqual(s.podCidrs, ['10.244.0.0/16']);
    assert.equal(s.lastReconcile.result, 'ok');
    assert.deepEqual(s.pods, []);
  });

  it('answers unknown paths and methods with an error object', async () => {
    const r = await call('/nope');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).error.code, 'NotFound');
    assert.equal((await call('/v1/status', { method: 'DELETE' })).status, 405);
  });

  it('survives malformed HTTP and malformed CNI requests, and keeps serving', async () => {
    assert.match(await raw('THIS IS NOT HTTP\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw('GET /healthz HTTP/1.1\r\nContent-Length: banana\r\n\r\n'), /^HTTP\/1\.1 400/);
    const bad = await call('/v1/cni', {
      method: 'POST',
      body: '{"cniVersion": "1.0.0", "name": ',
      headers: { 'x-cni-command': 'ADD' },
    });
    assert.equal(bad.status, 400);
    assert.equal(typeof JSON.parse(bad.body).code, 'number');
    const noCommand = await call('/v1/cni', { method: 'POST', body: '{}' });
    assert.equal(noCommand.status, 400);
    assert.equal((await call('/healthz')).status, 200);
  });

  it('refuses to take over the socket of a live agent, and replaces a stale socket file', async () => {
    await assert.rejects(serveAgentApi(agent, socket, log), { code: 'AgentAlreadyRunning' });
    // A crashed agent: a process bound the socket and was killed -9, so the file stays with no one behind it.
    const stalePath = join(dir, 'stale.sock');
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(statSync(stalePath).isSocket(), true);
    const s2 = await serveAgentApi(agent, stalePath, log);
    try {
      assert.equal((await call('/healthz', { socketPath: stalePath })).status, 200);
    } finally {
      await closeServer(s2);
    }
    writeFileSync(join(dir, 'plain'), 'x');
    await assert.rejects(serveAgentApi(agent, join(dir, 'plain'), log), { code: 'SocketPathInUse' });
  });

  it('serves Prometheus metrics on its own socket', async () => {
    const msock = join(dir, 'metrics.sock');
    const m = await serveMetrics(agent.metrics.registry, { socket: msock }, log);
    try {
      const r = await call('/metrics', { socketPath: msock });
      assert.equal(r.status, 200);
      assert.match(r.body, /podnet_node_block_info\{block="10\.244\.0\.0\/24"\} 1/);
      assert.match(r.body, /# TYPE podnet_reconcile_duration_seconds histogram/);
    } finally {
      await closeServer(m);
    }
  });
});
