/**
 * The API server's NetworkPolicy validation (kubernetes pkg/apis/networking/validation/validation.go,
 * TestValidateNetworkPolicy's failure cases): each refusal names the field and the kind of problem.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkPolicy } from './types.js';
import { validateNetworkPolicySpec } from './validate.js';

const policy = (spec: object): NetworkPolicy =>
  ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'p', namespace: 'x' },
    spec: { podSelector: {}, ...spec },
  }) as NetworkPolicy;
/** `field type` of every problem. */
const problems = (spec: object) => validateNetworkPolicySpec(policy(spec)).map((p) => `${p.field} ${p.type}`);
const messages = (spec: object) => validateNetworkPolicySpec(policy(spec)).map((p) => p.message);
const ingressPort = (port: object) => ({ ingress: [{ ports: [port] }] });

describe('NetworkPolicy validation', () => {
  it('accepts the documented example policy', () => {
    assert.deepEqual(
      problems({
        podSelector: { matchLabels: { role: 'db' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
              { namespaceSelector: { matchLabels: { project: 'myproject' } } },
              { podSelector: { matchLabels: { role: 'frontend' } } },
            ],
            ports: [{ protocol: 'TCP', port: 6379 }],
          },
        ],
        egress: [
          {
            to: [{ ipBlock: { cidr: '10.0.0.0/24' } }],
            ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }],
          },
        ],
      }),
      [],
    );
  });

  it('refuses endPort without port, below port, above 65535, or with a named port', () => {
    const at = 'spec.ingress[0].ports[0].endPort Invalid';
    assert.deepEqual(problems(ingressPort({ endPort: 90 })), [at]);
    assert.match(
      messages(ingressPort({ endPort: 90 }))[0],
      /may not be specified when `port` is not specified/,
    );
    assert.deepEqual(problems(ingressPort({ port: 90, endPort: 80 })), [at]);
    assert.match(
      messages(ingressPort({ port: 90, endPort: 80 }))[0],
      /must be greater than or equal to `port`/,
    );
    assert.deepEqual(problems(ingressPort({ port: 90, endPort: 65536 })), [at]);
    assert.deepEqual(problems(ingressPort({ port: 'http', endPort: 90 })), [at]);
    assert.match(messages(ingressPort({ port: 'http', endPort: 90 }))[0], /non-numeric/);
  });

  it('refuses ports out of range, bad port names and unknown protocols', () => {
    assert.deepEqual(problems(ingressPort({ port: 0 })), ['spec.ingress[0].ports[0].port Invalid']);
    assert.deepEqual(
      problems(ingressPort({ port: '80' })),
      ['spec.ingress[0].ports[0].port Invalid'],
      'a string port is a name, and needs a letter',
    );
    assert.deepEqual(problems(ingressPort({ protocol: 'ICMP', port: 80 })), [
      'spec.ingress[0].ports[0].protocol NotSupported',
    ]);
    assert.deepEqual(problems(ingressPort({ port: 'serve-80-tcp', protocol: 'UDP' })), []);
  });

  it('refuses a peer with no selector, and ipBlock together with a selector', () => {
    assert.deepEqual(problems({ ingress: [{ from: [{}] }] }), ['spec.ingress[0].from[0] Required']);
    assert.deepEqual(problems({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }), [
      'spec.egress[0].to[0] Forbidden',
    ]);
  });

  it('refuses bad CIDRs and excepts that are not strict subsets of the cidr', () => {
    const block = (ipBlock: object) => problems({ ingress: [{ from: [{ ipBlock }] }] });
    const at = 'spec.ingress[0].from[0].ipBlock';
    assert.deepEqual(block({ cidr: '10.0.0.0' }), [`${at}.cidr Invalid`]);
    assert.deepEqual(block({ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }), [`${at}.except[0] Invalid`]);
    assert.deepEqual(
      block({ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }),
      [`${at}.except[0] Invalid`],
      'not strict',
    );
    assert.deepEqual(block({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', 'x'] }), [
      `${at}.except[1] Invalid`,
    ]);
    assert.deepEqual(block({ cidr: '10.0.0.1/8' }), [], 'host bits are accepted, as Go ParseCIDR takes them');
  });

  it('refuses bad selectors: keys, values, operators and their values', () => {
    assert.deepEqual(problems({ podSelector: { matchLabels: { 'a/b/c': 'x' } } }), [
      'spec.podSelector.matchLabels Invalid',
    ]);
    assert.deepEqual(problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'In' }] } }), [
      'spec.podSelector.matchExpressions[0].values Required',
    ]);
    assert.deepEqual(
      problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'Exists', values: ['v'] }] } }),
      ['spec.podSelector.matchExpressions[0].values Forbidden'],
    );
    assert.deepEqual(
      problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'Equals', values: ['v'] }] } }),
      ['spec.podSelector.matchExpressions[0].operator NotSupported'],
    );
    assert.deepEqual(problems({ podSelector: { matchLabels: { k: '-bad-' } } }), [
      'spec.podSelector.matchLabels Invalid',
    ]);
    assert.deepEqual(problems({ podSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }), []);
  });

  it('refuses unknown and too many policyTypes', () => {
    assert.deepEqual(problems({ policyTypes: ['Ingress', 'Sideways'] }), [
      'spec.policyTypes[1] NotSupported',
    ]);
    assert.deepEqual(problems({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }), [
      'spec.policyTypes Forbidden',
    ]);
  });
});
