import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { renderTrace } from '../cli/commands/trace.js';
import { PodnetError } from '../errors/index.js';
import { mulberry32, mutateChars } from '../testing/fuzz.js';
import { trace } from '../trace/trace.js';
import type { PlannedProbe, ProbeResult } from './check.js';
import { junitXml, parseTestPattern, probeFailure, probeName, selectProbes } from './report.js';

const ep = (name: string) => ({ name, netns: 'x', ip: '10.0.0.1', at: '10.0.0.1' });
const planned: PlannedProbe[] = [
  {
    from: ep('pod/a-p0'),
    to: ep('pod/a-p1'),
    kind: 'pod-pod-same-node',
    port: 7000,
    expect: 'allow',
    source: '10.244.0.1',
  },
  {
    from: ep('pod/a-p0'),
    to: ep('pod/b-p0'),
    kind: 'pod-pod-cross-node',
    port: 7000,
    expect: 'allow',
    source: '10.244.0.1',
  },
  {
    from: ep('pod/b-p0'),
    to: ep('pod/c-p0'),
    kind: 'pod-pod-cross-pool',
    port: 7000,
    expect: 'allow',
    source: '10.244.1.1',
  },
  {
    from: ep('pod/a-p0'),
    to: ep('external/internet'),
    kind: 'pod-external',
    port: 7000,
    expect: 'allow',
    source: '10.224.0.4',
  },
  { from: ep('external/internet'), to: ep('pod/a-p0'), kind: 'external-pod', port: 7000, expect: 'deny' },
];

function result(over: Partial<ProbeResult>): ProbeResult {
  return {
    from: 'pod/a-p0',
    to: 'pod/b-p0',
    kind: 'pod-pod-cross-node',
    expect: 'allow',
    decidedBy: '-',
    ok: true,
    sourceSeen: '10.244.0.1',
    source: '10.244.0.1',
    connected: true,
    detail: null,
    durationSeconds: 0.012,
    ...over,
  };
}

describe('lab check as a connectivity suite', () => {
  it('names probes KIND:FROM->TO and selects them as cilium connectivity test --test does', () => {
    assert.equal(probeName(planned[3]), 'pod-external:pod/a-p0->external/internet');
    const names = (pattern: string) => selectProbes(planned, pattern).map((p) => p.kind);
    assert.deepEqual(names('pod-pod'), ['pod-pod-same-node', 'pod-pod-cross-node', 'pod-pod-cross-pool']);
    assert.deepEqual(names('pod-pod,!cross-pool'), ['pod-pod-same-node', 'pod-pod-cross-node']);
    assert.deepEqual(names('!external'), ['pod-pod-same-node', 'pod-pod-cross-node', 'pod-pod-cross-pool']);
    assert.deepEqual(names('^external-pod:,^pod-external:'), ['pod-external', 'external-pod']);
    assert.deepEqual(names('nothing-matches'), []);
  });

  it('refuses a bad pattern with InvalidTestPattern; fuzzed patterns either parse or are refused so', () => {
    for (const bad of ['', ',', '!', 'pod(', 'a,,b', '[z-a]', 'x'.repeat(513)]) {
      assert.throws(
        () => parseTestPattern(bad),
        (e) => e instanceof PodnetError && e.code === 'InvalidTestPattern',
        bad,
      );
    }
    const rnd = mulberry32(7);
    for (let i = 0; i < 2000; i++) {
      const p = mutateChars('pod-pod,!cross-(pool|node)', '()[]{}*+?!,\\^$|.', rnd, 6);
      try {
        selectProbes(planned, p);
      } catch (e) {
        assert.ok(e instanceof PodnetError && e.code === 'InvalidTestPattern', `seed 7 #${i} ${p}: ${e}`);
      }
    }
  });

  it("gives each failed probe its reason from what the sender's nc said, and what was expected", () => {
    assert.equal(probeFailure(result({})), null);
    const refused = probeFailure(
      result({
        ok: false,
        connected: false,
        sourceSeen: null,
        detail: 'nc: connect to 10.244.1.1 port 2 (tcp) failed: Connection refused',
      }),
    );
    assert.equal(refused?.kind, 'refused');
    assert.match(
      refused?.expected ?? '',
      /^allow, the receiver seeing source 10\.244\.0\.1: pods reach pods on other nodes/,
    );
    const timeout = probeFailure(
      result({
        ok: false,
        connected: false,
        sourceSeen: null,
        detail: 'nc: connect to 10.244.1.1 port 2 (tcp) timed out: Operation now in progress',
      }),
    );
    assert.equal(timeout?.kind, 'timeout');
    assert.equal(
      probeFailure(result({ ok: false, connected: false, sourceSeen: null, detail: null }))?.kind,
      'timeout',
    );
    const unreachable = probeFailure(
      result({
        ok: false,
        connected: false,
        sourceSeen: null,
        detail: 'nc: connect to 10.244.1.1 port 2 (tcp) failed: No route to host',
      }),
    );
    assert.equal(unreachable?.kind, 'unreachable');
    const snat = probeFailure(result({ ok: false, sourceSeen: '10.224.0.4' }));
    assert.deepEqual(
      [snat?.kind, snat?.reason],
      ['wrong-source', 'wrong source seen: 10.224.0.4, expected 10.244.0.1'],
    );
    const leak = probeFailure(
      result({
        ok: false,
        kind: 'external-pod',
        expect: 'deny',
        source: undefined,
        sourceSeen: '203.0.113.10',
      }),
    );
    assert.equal(leak?.kind, 'not-refused');
    assert.match(leak?.expected ?? '', /^deny .*nothing outside the cluster reaches a pod/);
  });

  it('writes JUnit XML that parses, with one case per probe, node IPAM check and agent, failures carrying reasons', () => {
    const text = junitXml({
      lab: 'demo',
      timestamp: '2026-12-01T12:00:00.000Z',
      probes: [
        result({}),
        result({
          ok: false,
          connected: false,
          sourceSeen: null,
          detail: 'failed: Connection refused <&"\u0001>',
        }),
      ],
      ipam: [{ node: 'a', findings: [] }],
      agents: [
        { node: 'a', problems: [] },
        {
          node: 'b',
          problems: [{ node: 'b', code: 'AgentSilent', message: 'no heartbeat', hint: 'restart it' }],
        },
      ],
    });
    assert.equal(XMLValidator.validate(text), true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text);
    assert.equal(doc.testsuites.tests, '5');
    assert.equal(doc.testsuites.failures, '2');
    const [probes, , agents] = doc.testsuites.testsuite;
    assert.equal(probes.name, 'demo: probes');
    assert.equal(probes.failures, '1');
    assert.equal(probes.testcase[1].name, 'pod-pod-cross-node:pod/a-p0->pod/b-p0');
    assert.equal(probes.testcase[1].failure.type, 'refused');
    assert.equal(probes.testcase[1].failure.message, 'refused: failed: Connection refused <&">');
    assert.match(probes.testcase[1].failure['#text'], /^expected: allow/);
    assert.equal(agents.testcase[1].failure.type, 'AgentSilent');
  });

  it("puts a failed probe's trace into its failure body, rendered as podnet trace prints it", () => {
    const expected = trace(
      { namespaces: new Map(), pods: [], policies: [], nsgs: [], nics: [] },
      { from: '10.244.0.1', to: '10.244.0.2', protocol: 'TCP', port: 7000, state: 'new' },
    );
    const failed = result({
      ok: false,
      connected: false,
      sourceSeen: null,
      detail: 'timed out',
      trace: expected,
    });
    const input = {
      lab: 'demo',
      timestamp: '2026-12-01T12:00:00.000Z',
      probes: [failed],
      ipam: [],
      agents: [],
    };
    const body = (text: string) =>
      new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text).testsuites.testsuite[0]
        .testcase.failure['#text'] as string;
    const withTrace = body(junitXml(input, renderTrace));
    assert.ok(withTrace.includes(renderTrace(expected)), 'the rendered trace, whole');
    assert.match(withTrace, /VERDICT: ALLOW/);
    assert.doesNotMatch(body(junitXml(input)), /VERDICT/, 'no renderer, no trace');
  });

  it('adds the outbound type as a case of the probes, failing with what the internet saw', () => {
    const outbound = {
      type: 'managedNATGateway' as const,
      publicIp: '198.51.100.254',
      probes: 1,
      seen: ['10.224.0.4'],
      ok: false,
    };
    const text = junitXml({
      lab: 'demo',
      timestamp: '2026-12-01T12:00:00.000Z',
      probes: [result({})],
      outbound,
      ipam: [],
      agents: [],
    });
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text);
    const [probes] = doc.testsuites.testsuite;
    assert.equal(probes.tests, '2');
    assert.equal(probes.testcase[1].name, 'outbound:managedNATGateway');
    assert.equal(
      probes.testcase[1].failure.message,
      'outbound managedNATGateway: the internet saw 198.51.100.254 on 0/1 probes (FAILED: it saw 10.224.0.4)',
    );
  });
});
