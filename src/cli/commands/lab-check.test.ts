/**
 * `podnet lab check`'s report: each probe with trace's expected verdict and, for a denied one, what denies it;
 * a probe that disagrees with trace is FAILED and followed by the trace that explains the expectation.
 * The expectations come from the trace engine over examples/trace (a profile, pods, a policy, an NSG).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decisionText } from '../../lab/check.js';
import { clusterDir } from '../../lab/names.js';
import { outboundLine } from '../../lab/report.js';
import { trace } from '../../trace/trace.js';
import { worldFromFiles } from '../../trace/world.js';
import { renderCheck } from './lab.js';
import { runPodnet } from './testing/run-cli.js';

const EXAMPLES = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'examples/trace');

describe('lab check report', () => {
  const world = worldFromFiles([EXAMPLES]);
  const denied = trace(world, { from: 'shop/web', to: 'shop/db', protocol: 'TCP', port: 6379, state: 'new' });
  const allowed = trace(world, {
    from: 'shop/web',
    to: 'shop/db',
    protocol: 'TCP',
    port: 5432,
    state: 'new',
  });
  const probe = (t: typeof denied, ok: boolean, sourceSeen: string | null) => ({
    from: 'pod/web',
    to: 'pod/db',
    kind: 'pod-pod-cross-pool' as const,
    expect: t.verdict,
    decidedBy: decisionText(t),
    ok,
    sourceSeen,
    ...(t.verdict === 'allow' ? { source: t.sourceSeen } : {}),
    connected: sourceSeen !== null,
    detail: null,
    durationSeconds: 0.1,
    ...(ok ? {} : { trace: t }),
  });

  it('names what denies each denied probe, and explains a disagreement with its trace', () => {
    const text = renderCheck({
      probes: [probe(allowed, true, '10.244.0.5'), probe(denied, false, '10.244.0.5')],
      outbound: { type: 'loadBalancer', publicIp: '198.51.100.254', probes: 0, seen: [], ok: true },
      ipam: [],
      agents: [],
    });
    const lines = text.split('\n');
    assert.match(lines[1], /^ok\s+pod-pod-cross-pool\s+pod\/web\s+pod\/db\s+allow\s+10\.244\.0\.5\s*$/);
    assert.match(lines[2], /^FAIL\s+.*deny\s+10\.244\.0\.5\s+nsg user-nsg deny-sys-subnet$/);
    assert.match(
      text,
      /pod-pod-cross-pool:pod\/web->pod\/db: connected, the receiver saw source 10\.244\.0\.5/,
    );
    assert.match(text, /pod-pod-cross-pool:pod\/web->pod\/db: the trace of what was expected:/);
    assert.match(
      text,
      /DENY\s+nsg\s+user-nsg \(subnet user, Inbound\)\s+Deny by deny-sys-subnet \(priority 300\)/,
    );
    assert.match(text, /1\/2 probes as trace expects, 1 FAILED/);
  });

  it('-o wide adds the source the receiver had to see, the time and what nc said', () => {
    const check = {
      probes: [probe(allowed, true, '10.244.0.5')],
      outbound: { type: 'loadBalancer' as const, publicIp: '198.51.100.254', probes: 0, seen: [], ok: true },
      ipam: [],
      agents: [],
    };
    const [header, row] = renderCheck(check, true).split('\n');
    assert.match(header, /DENIED BY \(TRACE\)\s+SOURCE EXPECTED\s+TIME\s+NC SAID$/);
    assert.match(row, /10\.244\.0\.5\s+10\.244\.0\.5\s+100 ms\s*$/);
    assert.doesNotMatch(renderCheck(check).split('\n')[0], /SOURCE EXPECTED/);
  });
});

describe('lab check: the outbound line', () => {
  const base = { type: 'userDefinedRouting' as const, publicIp: '198.51.100.254', probes: 2 };

  it('says what the internet saw against the plan, and what the firewall logged', () => {
    assert.equal(
      outboundLine({ ...base, seen: ['198.51.100.254', '198.51.100.254'], logged: 2, ok: true }),
      'outbound userDefinedRouting: the internet saw 198.51.100.254 on 2/2 probes; the firewall logged 2/2',
    );
    assert.equal(
      outboundLine({ ...base, seen: ['10.224.0.4', null], logged: 1, ok: false }),
      'outbound userDefinedRouting: the internet saw 198.51.100.254 on 0/2 probes (FAILED: it saw 10.224.0.4, nothing); the firewall logged 1/2 FAILED',
    );
  });

  it('refuses an outbound type AKS does not have, before anything is made', () => {
    // learn.microsoft.com/azure/aks/egress-outboundtype: loadBalancer, managedNATGateway, userAssignedNATGateway,
    // userDefinedRouting, none; the lab builds the three of issue 11.
    const r = runPodnet(['lab', 'up', '--name', 'egbad', '--outbound-type', 'nope']);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /UsageError \(--outbound-type\): --outbound-type must be one of loadBalancer, managedNATGateway, userDefinedRouting, got "nope"/,
    );
    assert.equal(existsSync(clusterDir('egbad')), false);
  });
});
