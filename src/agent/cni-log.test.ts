import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type Server, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cniHttpHandler } from '../cni/http.js';
import type { CniRequest, CniResponse } from '../cni/types.js';
import { cniLogFields, cniObserver } from './cni-log.js';
import { agentLogger } from './log.js';
import { AgentMetrics } from './metrics.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const noSource = { addresses: () => null, block: () => null, ipamProblems: () => [] };

const env = (command: string) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'c0ffee',
  CNI_NETNS: '/run/netns/none',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1',
  CNI_PATH: '/opt/cni/bin',
});

describe('CNI observability', () => {
  it('logs an answered ADD with container, pod, namespace, interface, address, result code and duration', () => {
    const ok: CniResponse = {
      exitCode: 0,
      stdout: JSON.stringify({ cniVersion: '1.1.0', ips: [{ address: '10.244.0.7/32' }] }),
    };
    const l = cniLogFields({ env: env('ADD'), stdin: '{}' }, ok, 0.0123456789);
    assert.equal(l.msg, 'cni add');
    assert.equal(l.level, 'info');
    assert.deepEqual(l.fields, {
      command: 'ADD',
      containerId: 'c0ffee',
      pod: 'web-1',
      ns: 'shop',
      ifname: 'eth0',
      address: ['10.244.0.7/32'],
      result: 0,
      err: undefined,
      durationSeconds: 0.012346,
    });
    const failed = cniLogFields(
      { env: env('DEL'), stdin: '{}' },
      { exitCode: 1, stdout: JSON.stringify({ code: 11, msg: 'node holds no block yet' }) },
      0.001,
    );
    assert.deepEqual(
      [failed.msg, failed.level, failed.fields.result, failed.fields.err],
      ['cni del', 'warn', 11, 'node holds no block yet'],
    );
    // A command nobody defined never becomes a label value.
    assert.equal(
      cniLogFields({ env: env('x'.repeat(99)), stdin: '' }, { exitCode: 1, stdout: '' }, 0).command,
      'invalid',
    );
    assert.equal(
      cniLogFields({ env: env('STATUS'), stdin: '' }, { exitCode: 0, stdout: '' }, 0).level,
      'debug',
    );
  });

  describe('through the agent CNI endpoint', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const metrics = new AgentMetrics(noSource);
    const seen: [CniRequest, CniResponse][] = [];
    const observe = cniObserver(agentLogger('debug', sink), metrics);
    const node = {
      nodeName: 'n1',
      ipam: () => null,
      podCidrs: () => ['10.244.0.0/16'],
      uplinkMtu: () => 1500,
    };
    const socket = join(tmpdir(), `pnops-cni-${process.pid}.sock`);
    let server: Server;
    after(() => new Promise<void>((r) => server.close(() => r())));

    const call = (cniEnv: Record<string, string>, body: string) =>
      new Promise<number>((done, fail) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(cniEnv)) headers[`x-cni-${k.slice(4).toLowerCase()}`] = v;
        const req = request({ socketPath: socket, path: '/v1/cni', method: 'POST', headers }, (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode ?? 0));
        });
        req.on('error', fail);
        req.end(body);
      });

    it('logs one line per call with a stable msg and counts it by command and result', async () => {
      server = createServer(
        cniHttpHandler(node, (req, res, s) => {
          seen.push([req, res]);
          observe(req, res, s);
        }),
      );
      await new Promise<void>((r) => server.listen(socket, () => r()));
      const conf = JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', type: 'podnet-cni' });
      assert.equal(await call(env('VERSION'), conf), 200);
      // No such pod namespace: the spec's code 4, before anything is allocated.
      assert.equal(await call(env('ADD'), conf), 400);
      // No block yet: DEL answers 11, try again later.
      assert.equal(await call(env('DEL'), conf), 400);
      assert.deepEqual(
        lines.map((l) => [l.msg, l.level, l.result, l.pod, l.ns, l.containerId]),
        [
          ['cni version', 'debug', 0, 'web-1', 'shop', 'c0ffee'],
          ['cni add', 'warn', 4, 'web-1', 'shop', 'c0ffee'],
          ['cni del', 'warn', 11, 'web-1', 'shop', 'c0ffee'],
        ],
      );
      assert.ok(lines.every((l) => typeof l.durationSeconds === 'number' && l.component === 'agent'));
      const text = await metrics.registry.metrics();
      assert.match(text, /^podnet_cni_requests_total\{command="ADD",result="error"\} 1$/m);
      assert.match(text, /^podnet_cni_requests_total\{command="VERSION",result="ok"\} 1$/m);
      assert.match(text, /^podnet_cni_request_duration_seconds_count\{command="DEL"\} 1$/m);
    });
  });

  it("names in every Grafana panel's query only metrics (and labels) the agent's registry exports", async () => {
    const dash = JSON.parse(readFileSync(join(ROOT, 'docs/grafana/podnet-agent.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const registry = new AgentMetrics(noSource).registry;
    const exported = new Map(
      registry.getMetricsAsArray().map((m) => {
        const { name, labelNames } = m as unknown as { name: string; labelNames: string[] };
        return [name, { type: (m as unknown as { type: string }).type, labels: labelNames }];
      }),
    );
    const base = (series: string) => {
      const h = series.replace(/_(bucket|sum|count)$/, '');
      return exported.get(h)?.type === 'histogram' ? h : series;
    };
    assert.ok(dash.panels.length >= 8);
    const used = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has no query`);
      for (const t of p.targets) {
        const selectors = [...t.expr.matchAll(/\b(podnet_[a-z0-9_]+)(\{([^}]*)\})?/g)];
        assert.ok(selectors.length > 0, `panel "${p.title}": ${t.expr} names no podnet metric`);
        for (const [, series, , matchers] of selectors) {
          const name = base(series);
          assert.ok(
            exported.has(name),
            `panel "${p.title}" queries ${series}, which the agent does not export`,
          );
          used.add(name);
          // `node` is the scrape target's label; every other matcher must be one of the metric's labels.
          for (const [, label] of (matchers ?? '').matchAll(/([a-z_]+)\s*(=~|!=|!~|=)/g)) {
            if (label === 'node' || label === 'le') continue;
            assert.ok(
              exported.get(name)?.labels.includes(label),
              `panel "${p.title}": ${name} has no label ${label}`,
            );
          }
        }
      }
    }
    assert.ok(used.has('podnet_cni_requests_total') && used.has('podnet_cni_request_duration_seconds'));
  });
});
