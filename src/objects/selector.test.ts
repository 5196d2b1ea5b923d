/**
 * Label selectors as k8s.io/apimachinery/pkg/labels parses and matches them (selector_test.go TestSelectorParse,
 * TestSelectorMatches): `!=` and `notin` also select objects without the key; the parser is fuzzed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { mulberry32, mutateChars } from '../testing/fuzz.js';
import { matches, parseSelector } from './selector.js';

const sel = (s: string, labels: Record<string, string>) => matches(parseSelector(s), labels);

describe('parseSelector', () => {
  it('reads every operator kubectl -l takes', () => {
    assert.deepEqual(parseSelector('x=a,y==b,z!=c'), [
      { key: 'x', operator: '=', values: ['a'] },
      { key: 'y', operator: '=', values: ['b'] },
      { key: 'z', operator: '!=', values: ['c'] },
    ]);
    assert.deepEqual(parseSelector('env in (prod, staging), tier notin (db), canary, !legacy'), [
      { key: 'env', operator: 'in', values: ['prod', 'staging'] },
      { key: 'tier', operator: 'notin', values: ['db'] },
      { key: 'canary', operator: 'exists', values: [] },
      { key: 'legacy', operator: '!', values: [] },
    ]);
    assert.deepEqual(parseSelector('x>1,y<10'), [
      { key: 'x', operator: 'gt', values: ['1'] },
      { key: 'y', operator: 'lt', values: ['10'] },
    ]);
    assert.deepEqual(parseSelector(''), []);
    assert.deepEqual(parseSelector('x='), [{ key: 'x', operator: '=', values: [''] }]);
    assert.deepEqual(parseSelector('example.com/app=web'), [
      { key: 'example.com/app', operator: '=', values: ['web'] },
    ]);
  });
  it('refuses what upstream refuses, with InvalidLabelSelector on --selector', () => {
    for (const s of [
      'x=a||y=b',
      'x==a==b',
      '!x=a',
      'x in ()',
      'x in (a',
      'x notin a',
      ',',
      'x,',
      'x=a,,y=b',
      'x>a',
      '-x=a',
      'x=-a',
      'x y',
      'x=a b',
    ]) {
      assert.throws(
        () => parseSelector(s),
        (e: unknown) =>
          e instanceof PodnetError && e.code === 'InvalidLabelSelector' && e.field === '--selector',
        s,
      );
    }
  });
});

describe('matches', () => {
  const labels = { app: 'web', tier: 'front', v: '3' };
  it('= and in need the key with a listed value', () => {
    assert.ok(sel('app=web', labels));
    assert.ok(sel('app in (api,web)', labels));
    assert.ok(!sel('app=api', labels));
    assert.ok(!sel('missing in (a)', labels));
  });
  it('!= and notin select objects without the key too', () => {
    assert.ok(sel('app!=api', labels));
    assert.ok(sel('missing!=x', labels));
    assert.ok(sel('missing notin (x)', labels));
    assert.ok(!sel('app notin (web)', labels));
  });
  it('exists, does-not-exist, gt, lt; all requirements must hold', () => {
    assert.ok(sel('app,!canary', labels));
    assert.ok(!sel('canary', labels));
    assert.ok(sel('v>2,v<4', labels));
    assert.ok(!sel('app>1', labels));
    assert.ok(!sel('app=web,tier=back', labels));
    assert.ok(sel('', {}));
  });
});

describe('parseSelector fuzz', () => {
  it('near misses of valid selectors give a selector or InvalidLabelSelector, never another error', () => {
    const seeds = [
      'app=web,tier!=db',
      'env in (prod,staging)',
      'x notin (a,b),!y',
      'example.com/k==v',
      'v>3,w<2',
    ];
    const rnd = mulberry32(9);
    for (let i = 0; i < 20_000; i++) {
      const text = mutateChars(seeds[i % seeds.length], 'a=!,() in/.-_<>xz9', rnd);
      try {
        const s = parseSelector(text);
        assert.ok(Array.isArray(s));
        matches(s, { app: 'web', x: 'a' });
      } catch (e) {
        assert.ok(
          e instanceof PodnetError && e.code === 'InvalidLabelSelector',
          `iteration ${i}: ${JSON.stringify(text)}: ${e}`,
        );
      }
    }
  });
});
