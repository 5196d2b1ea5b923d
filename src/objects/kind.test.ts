/**
 * The registry resolves the words kubectl takes for a type (plural, singular, short name, kind, any case), and
 * AGE is kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration, duration_test.go TestHumanDuration).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { humanDuration, objectSchema, typeName } from './kind.js';
import { KINDS, kindOf, resolveResource } from './registry.js';

describe('registry', () => {
  it('resolves plural, singular, short names and kinds, case-insensitively', () => {
    for (const w of ['pods', 'pod', 'po', 'Pod', 'PODS']) assert.equal(resolveResource(w).kind, 'Pod');
    for (const w of ['namespaces', 'namespace', 'ns', 'Namespace'])
      assert.equal(resolveResource(w).kind, 'Namespace');
    assert.throws(
      () => resolveResource('widgets'),
      (e: unknown) =>
        e instanceof PodnetError && e.code === 'UnknownResourceType' && /pods\|pod\|po/.test(e.hint ?? ''),
    );
  });
  it('finds kinds by apiVersion and kind, and names them as kubectl prints them', () => {
    assert.equal(kindOf('v1', 'Pod')?.resource, 'pods');
    assert.equal(kindOf('apps/v1', 'Pod'), undefined);
    assert.deepEqual(KINDS.map(typeName), [
      'namespace',
      'pod',
      'networkpolicy.networking.k8s.io',
      'service',
      'networksecuritygroup.network.azure.com',
      'networkinterface.network.azure.com',
    ]);
    assert.equal(resolveResource('netpol').kind, 'NetworkPolicy');
    assert.equal(resolveResource('nsg').kind, 'NetworkSecurityGroup');
    assert.equal(resolveResource('networkinterfaces.network.azure.com').kind, 'NetworkInterface');
    assert.equal(resolveResource('networkpolicies.networking.k8s.io').kind, 'NetworkPolicy');
  });
  it('every kind declares a unique resource, aliases and at least a NAME column', () => {
    const words = KINDS.flatMap((k) => [k.resource, ...k.aliases]);
    assert.equal(new Set(words).size, words.length);
    for (const k of KINDS) {
      assert.equal(k.columns[0].header, 'NAME');
      assert.equal(objectSchema(k).type, 'object');
    }
  });
});

describe('humanDuration', () => {
  it('matches kubectl', () => {
    const s = 1000;
    const cases: [number, string][] = [
      [-2 * s, '<invalid>'],
      [-0.5 * s, '0s'],
      [0, '0s'],
      [119 * s, '119s'],
      [120 * s, '2m'],
      [121 * s, '2m1s'],
      [599 * s, '9m59s'],
      [600 * s, '10m'],
      [179 * 60 * s, '179m'],
      [3 * 3600 * s, '3h'],
      [(3 * 3600 + 60) * s, '3h1m'],
      [8 * 3600 * s, '8h'],
      [47 * 3600 * s, '47h'],
      [48 * 3600 * s, '2d'],
      [(48 + 1) * 3600 * s, '2d1h'],
      [8 * 24 * 3600 * s, '8d'],
      [729 * 24 * 3600 * s, '729d'],
      [2 * 365 * 24 * 3600 * s, '2y'],
      [(2 * 365 + 1) * 24 * 3600 * s, '2y1d'],
      [8 * 365 * 24 * 3600 * s, '8y'],
    ];
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
  });
});
