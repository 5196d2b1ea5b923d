import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_DEFAULTS, parseAgentFlags } from './config.js';

const base = { store: 'sqlite:/tmp/c.db', node: 'node-1', nodeIp: '10.224.0.4' };

function code(fn: () => unknown): { code: string; field?: string } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; field?: string };
  }
  assert.fail('expected an error');
}

describe('agent flags', () => {
  it('applies the documented defaults', () => {
    const c = parseAgentFlags(base);
    assert.deepEqual(c, {
      store: 'sqlite:/tmp/c.db',
      node: 'node-1',
      nodeIp: '10.224.0.4',
      nodeIp6: null,
      pool: null,
      netns: null,
      socket: '/run/podnet/agent.sock',
      stateDir: '/var/lib/podnet',
      metrics: null,
      peerRoutes: 'direct',
      leaseTtlSeconds: 86_400,
      resyncSeconds: 10,
      proxyHealthzPort: null,
      logLevel: 'info',
      clusterDns: null,
    });
    assert.equal(AGENT_DEFAULTS.leaseTtlSeconds, 86_400);
  });

  it('takes the IPv6 node address of a dual-stack node, canonical', () => {
    assert.equal(parseAgentFlags({ ...base, nodeIp6: 'FD00:10:0::4' }).nodeIp6, 'fd00:10::4');
  });

  it('serves cluster DNS with --cluster-dns or --dns-upstream (IP, IP:PORT, [IPv6]:PORT; port 53 by default)', () => {
    assert.deepEqual(parseAgentFlags({ ...base, clusterDns: true }).clusterDns, { upstream: null });
    assert.deepEqual(parseAgentFlags({ ...base, dnsUpstream: '203.0.113.10' }).clusterDns, {
      upstream: { host: '203.0.113.10', port: 53 },
    });
    assert.deepEqual(parseAgentFlags({ ...base, dnsUpstream: '203.0.113.10:5353' }).clusterDns?.upstream, {
      host: '203.0.113.10',
      port: 5353,
    });
    assert.deepEqual(parseAgentFlags({ ...base, dnsUpstream: '[FD00::53]:53' }).clusterDns?.upstream, {
      host: 'fd00::53',
      port: 53,
    });
    for (const bad of ['resolver.example', '203.0.113.10:0', '203.0.113.10:99999', '[fd00::53', '']) {
      const e = code(() => parseAgentFlags({ ...base, dnsUpstream: bad }));
      assert.deepEqual([e.code, e.field], ['InvalidDnsUpstream', '--dns-upstream'], bad);
    }
  });

  it("takes the proxy's health check port (kube-proxy's 10256), off by default", () => {
    assert.equal(parseAgentFlags({ ...base, proxyHealthzPort: '10256' }).proxyHealthzPort, 10256);
    assert.throws(() => parseAgentFlags({ ...base, proxyHealthzPort: '70000' }), /--proxy-healthz-port/);
  });

  it('takes a metrics socket or a metrics port, never both', () => {
    assert.deepEqual(parseAgentFlags({ ...base, metricsPort: '9962' }).metrics, { port: 9962 });
    assert.deepEqual(parseAgentFlags({ ...base, metricsSocket: '/run/m.sock' }).metrics, {
      socket: '/run/m.sock',
    });
    assert.equal(
      code(() => parseAgentFlags({ ...base, metricsPort: '1', metricsSocket: '/x' })).code,
      'UsageError',
    );
    assert.equal(code(() => parseAgentFlags({ ...base, metricsPort: '70000' })).code, 'InvalidMetricsPort');
  });

  it('names the flag of every bad value', () => {
    assert.deepEqual(
      [
        code(() => parseAgentFlags({ ...base, store: undefined })),
        code(() => parseAgentFlags({ ...base, node: 'Node_1' })),
        code(() => parseAgentFlags({ ...base, nodeIp: '10.224.0.300' })),
        code(() => parseAgentFlags({ ...base, nodeIp6: '10.224.0.5' })),
        code(() => parseAgentFlags({ ...base, netns: '../etc' })),
        code(() => parseAgentFlags({ ...base, peerRoutes: 'vxlan' })),
        code(() => parseAgentFlags({ ...base, leaseTtl: '2' })),
        code(() => parseAgentFlags({ ...base, leaseTtl: '1h' })),
        code(() => parseAgentFlags({ ...base, logLevel: 'loud' })),
      ].map((e) => [e.code, e.field]),
      [
        ['UsageError', '--store'],
        ['InvalidNodeName', '--node'],
        ['InvalidIpAddress', '--node-ip'],
        ['UsageError', '--node-ip6'],
        ['InvalidNetnsName', '--netns'],
        ['InvalidPeerRoutesMode', '--peer-routes'],
        ['InvalidLeaseTtl', '--lease-ttl'],
        ['InvalidLeaseTtl', '--lease-ttl'],
        ['InvalidLogLevel', '--log-level'],
      ],
    );
  });

  it('canonicalises the node IP and keeps pool and netns', () => {
    const c = parseAgentFlags({
      ...base,
      nodeIp: ' 10.224.0.4 ',
      pool: 'system',
      netns: 'pn1a2b-node1',
      peerRoutes: 'off',
    });
    assert.equal(c.nodeIp, '10.224.0.4');
    assert.equal(c.pool, 'system');
    assert.equal(c.netns, 'pn1a2b-node1');
    assert.equal(c.peerRoutes, 'off');
  });
});
