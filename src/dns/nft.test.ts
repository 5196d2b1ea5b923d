/**
 * The node table's `dns` section: the DNS service IP's port 53 (UDP and TCP) sent to the node's own DNS
 * server, as NodeLocal DNSCache intercepts kube-dns's ClusterIP
 * (https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/), ahead of the service proxy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredNodeTable } from '../agent/desired.js';
import { renderNodeTable } from '../dataplane/ruleset.js';
import { defaultLabProfile } from '../lab/default-profile.js';
import { dnsSection } from './nft.js';

describe('dns section', () => {
  const input = { serviceIp: '10.0.0.10', listenIp: '169.254.20.10', podCidrs: ['10.244.0.0/16'] };

  it('DNATs pod (prerouting) and node (output) queries to the node-local server before the proxy (-110/-100)', () => {
    const s = dnsSection(input);
    assert.deepEqual(
      s.chains.map((c) => [c.name, c.base?.hook, Number(c.base?.priority) < -110, c.rules]),
      [
        [
          'dns_dnat',
          'prerouting',
          true,
          [
            'ip saddr { 10.244.0.0/16 } ip daddr 10.0.0.10 meta l4proto { tcp, udp } th dport 53 dnat ip to 169.254.20.10 comment "podnet: cluster DNS answered by this node"',
          ],
        ],
        [
          'dns_dnat_out',
          'output',
          true,
          [
            'ip daddr 10.0.0.10 meta l4proto { tcp, udp } th dport 53 dnat ip to 169.254.20.10 comment "podnet: cluster DNS answered by this node"',
          ],
        ],
      ],
    );
    assert.deepEqual(dnsSection({ ...input, serviceIp: 'fd00::10' }).chains, []);
  });

  it('is in the node table only when the agent serves DNS, with the profile DNS service IP', () => {
    const profile = defaultLabProfile('t', 0);
    const snap = {
      profile,
      leases: [],
      selfNode: 'n1',
      attachedSubnets: [],
      peerRoutes: 'off' as const,
      storeEndpoints: [],
    };
    assert.doesNotMatch(renderNodeTable(desiredNodeTable(snap)), /dns_dnat/);
    const text = renderNodeTable(desiredNodeTable({ ...snap, dns: { listenIp: '169.254.20.10' } }));
    assert.match(
      text,
      new RegExp(`ip daddr ${profile.network.dnsServiceIp.replaceAll('.', '\\.')} meta l4proto`),
    );
  });
});
