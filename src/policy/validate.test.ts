/**
 * The API server's NetworkPolicy validation (kubernetes pkg/apis/networking/validation/validation.go,
 * TestValidateNetworkPolicy's failure cases): each refusal names the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkPolicy } from './types.js';
import { portNameProblem, qualifiedNameProblem, validateNetworkPolicySpec } from './validate.js';

const policy = (spec: object): NetworkPolicy =>
  ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'p', namespace: 'x' },
    spec: { podSelector: {}, ...spec },
  }) as NetworkPolicy;
const problems = (spec: object) =>
  validateNetworkPolicySpec(policy(spec)).map((p) => `${p.field}: ${p.message}`);
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
    assert.deepEqual(problems(ingressPort({ endPort: 90 })), [
      'spec.ingress[0].ports[0].endPort: may not be specified when port is not specified',
    ]);
    assert.deepEqual(problems(ingressPort({ port: 90, endPort: 80 })), [
      'spec.ingress[0].ports[0].endPort: must be greater than or equal to port',
    ]);
    assert.deepEqual(problems(ingressPort({ port: 90, endPort: 65536 })), [
      'spec.ingress[0].ports[0].endPort: must be between 1 and 65535, inclusive',
    ]);
    assert.deepEqual(problems(ingressPort({ port: 'http', endPort: 90 })), [
      'spec.ingress[0].ports[0].endPort: may not be specified when port is non-numeric',
    ]);
  });

  it('refuses ports out of range, bad port names and unknown protocols', () => {
    assert.deepEqual(problems(ingressPort({ port: 0 })), [
      'spec.ingress[0].ports[0].port: must be between 1 and 65535, inclusive',
    ]);
    assert.equal(
      problems(ingressPort({ port: '80' })).length,
      1,
      'a string port is a name, and needs a letter',
    );
    assert.deepEqual(problems(ingressPort({ protocol: 'ICMP', port: 80 })), [
      'spec.ingress[0].ports[0].protocol: "ICMP" is not supported: TCP, UDP or SCTP',
    ]);
    for (const bad of ['', 'a-very-long-port-name', 'Http', 'a--b', '-ab', '123'])
      assert.notEqual(portNameProblem(bad), null, bad);
    for (const good of ['http', 'serve-80-tcp', 'h2c']) assert.equal(portNameProblem(good), null, good);
  });

  it('refuses a peer with no selector, and ipBlock together with a selector', () => {
    assert.deepEqual(problems({ ingress: [{ from: [{}] }] }), [
      'spec.ingress[0].from[0]: must specify a peer',
    ]);
    assert.deepEqual(problems({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }), [
      'spec.egress[0].to[0]: may not specify both ipBlock and another peer',
    ]);
  });

  it('refuses bad CIDRs and excepts that are not strict subsets of the cidr', () => {
    const block = (ipBlock: object) => problems({ ingress: [{ from: [{ ipBlock }] }] });
    assert.deepEqual(block({ cidr: '10.0.0.0' }), [
      'spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0" is not a valid CIDR',
    ]);
    assert.deepEqual(block({ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }), [
      'spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset of `cidr` 10.0.0.0/8',
    ]);
    assert.deepEqual(block({ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }), [
      'spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset of `cidr` 10.0.0.0/8',
    ]);
    assert.deepEqual(block({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', 'x'] }), [
      'spec.ingress[0].from[0].ipBlock.except[1]: "x" is not a valid CIDR',
    ]);
    assert.deepEqual(block({ cidr: '10.0.0.1/8' }), [], 'host bits are accepted, as Go ParseCIDR takes them');
  });

  it('refuses bad selectors: keys, values, operators and their values', () => {
    assert.deepEqual(problems({ podSelector: { matchLabels: { 'a/b/c': 'x' } } }).length, 1);
    assert.deepEqual(problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'In' }] } }), [
      'spec.podSelector.matchExpressions[0].values: must be specified when operator is In or NotIn',
    ]);
    assert.deepEqual(
      problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'Exists', values: ['v'] }] } }),
      [
        'spec.podSelector.matchExpressions[0].values: may not be specified when operator is Exists or DoesNotExist',
      ],
    );
    assert.equal(
      problems({ podSelector: { matchExpressions: [{ key: 'k', operator: 'Equals', values: ['v'] }] } })
        .length,
      1,
    );
    assert.equal(problems({ podSelector: { matchLabels: { k: '-bad-' } } }).length, 1);
    assert.equal(qualifiedNameProblem('kubernetes.io/metadata.name'), null);
    assert.notEqual(qualifiedNameProblem(`${'a'.repeat(64)}`), null);
  });

  it('refuses unknown and too many policyTypes', () => {
    assert.deepEqual(problems({ policyTypes: ['Ingress', 'Sideways'] }), [
      'spec.policyTypes[1]: "Sideways" is not supported: Ingress or Egress',
    ]);
    assert.deepEqual(problems({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }), [
      'spec.policyTypes: may not specify more than two policyTypes',
    ]);
  });
});
