/**
 * The name and label rules against the cases of k8s.io/apimachinery/pkg/util/validation/validation_test.go
 * (TestIsDNS1123Label, TestIsDNS1123Subdomain, TestIsQualifiedName, TestIsValidLabelValue,
 * TestIsValidPortName): the same values are accepted and refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from './validation.js';

const ok = (f: (v: string) => string[], v: string) =>
  assert.deepEqual(f(v), [], `${JSON.stringify(v)} is valid`);
const bad = (f: (v: string) => string[], v: string) =>
  assert.ok(f(v).length > 0, `${JSON.stringify(v)} is refused`);

describe('DNS-1123 label (namespace names, container names)', () => {
  it('accepts what upstream accepts', () => {
    for (const v of [
      'a',
      'ab',
      'abc',
      'a1',
      'a-1',
      'a--1--2--b',
      '0',
      '01',
      '012',
      '1a',
      '1-a',
      '1--a--b--2',
      'a'.repeat(63),
    ])
      ok(isDns1123Label, v);
  });
  it('refuses what upstream refuses, with its message', () => {
    for (const v of [
      '',
      'A',
      'ABC',
      'aBc',
      'A1',
      'A-1',
      '1-A',
      '-',
      'a-',
      '-a',
      '1-',
      '-1',
      '_',
      'a_',
      '_a',
      'a_b',
      '.',
      'a.',
      '.a',
      'a.b',
      'a'.repeat(64),
    ])
      bad(isDns1123Label, v);
    assert.deepEqual(isDns1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
    assert.match(isDns1123Label('Web')[0], /^a lowercase RFC 1123 label must consist of/);
  });
});

describe('DNS-1123 subdomain (pod names, spec.nodeName, label key prefixes)', () => {
  it('accepts dotted names up to 253 characters', () => {
    for (const v of [
      'a',
      'a.b',
      'a-1.b-2',
      '0.a',
      'a.b.c.d.e',
      'aa.bb.cc',
      `${'a'.repeat(63)}.${'b'.repeat(63)}`,
      'a'.repeat(253),
    ])
      ok(isDns1123Subdomain, v);
  });
  it('refuses upper case, underscores, empty labels and 254 characters', () => {
    for (const v of ['', 'A', 'a.B', 'a_b', 'a..b', '.a', 'a.', '-a', 'a-', 'a.-b', 'a'.repeat(254)])
      bad(isDns1123Subdomain, v);
  });
});

describe('qualified names (label and annotation keys)', () => {
  it('accepts a name and an optional DNS-subdomain prefix', () => {
    for (const v of [
      'simple',
      'now-with-dashes',
      '1-starts-with-num',
      '1234',
      'simple/simple',
      'now-with-dashes/simple',
      'now-with-dashes/now-with-dashes',
      'now.with.dots/simple',
      'now-with.dashes-and.dots/simple',
      '1-num.2-num/3-num',
      '1234/5678',
      '1.2.3.4/5678',
      'Uppercase_Is_OK_123',
      'example.com/Uppercase_Is_OK_123',
      'requests.storage-foo',
      `${'a'.repeat(63)}`,
      `${'a'.repeat(253)}/${'b'.repeat(63)}`,
    ])
      ok(isQualifiedName, v);
  });
  it('refuses what upstream refuses', () => {
    for (const v of [
      'nospecialchars%^=@',
      'cantendwithadash-',
      '-cantstartwithadash-',
      'only/one/slash',
      'Example.com/abc',
      'example_com/abc',
      'example.com/',
      '/simple',
      'a'.repeat(64),
      `${'a'.repeat(254)}/abc`,
    ])
      bad(isQualifiedName, v);
    assert.deepEqual(isQualifiedName('/simple'), ['prefix part must be non-empty']);
    assert.deepEqual(isQualifiedName('example.com/').slice(0, 1), ['name part must be non-empty']);
  });
});

describe('label values', () => {
  it('accepts the empty value and the label charset up to 63', () => {
    for (const v of [
      'simple',
      'now-with-dashes',
      '1-starts-with-num',
      'end-with-num-1',
      '1234',
      '',
      'a'.repeat(63),
      'Upper_and.dots',
    ])
      ok(isValidLabelValue, v);
  });
  it('refuses slashes, other characters, edges and 64 characters', () => {
    for (const v of [
      'nospecialchars%^=@',
      'Tama-nui-te-rā.is.Māori.sun',
      '\\backslashes\\are\\bad',
      '-starts-with-dash',
      'ends-with-dash-',
      '.starts.with.dot',
      'ends.with.dot.',
      'a/b',
      'a'.repeat(64),
    ])
      bad(isValidLabelValue, v);
  });
});

describe('IANA_SVC_NAME port names and port numbers', () => {
  it('accepts what upstream accepts', () => {
    for (const v of ['telnet', 're-mail-ck', 'pop3', 'a', 'a-1', '1-a', 'a-1-b-2-c', '1-a-2-b-3'])
      ok(isValidPortName, v);
  });
  it('refuses what upstream refuses', () => {
    for (const v of ['', 'longerthan15characters', 'a--b', '-a', 'a-', '1', '12', '123', 'Ab', 'a_b', 'a.b'])
      bad(isValidPortName, v);
    assert.deepEqual(isValidPortName('a--b'), ['must not contain consecutive hyphens']);
    assert.deepEqual(isValidPortName('123'), ['must contain at least one letter (a-z)']);
  });
  it('ports are 1..65535', () => {
    for (const p of [1, 80, 65535]) assert.deepEqual(isValidPortNum(p), []);
    for (const p of [0, -1, 65536, 1.5])
      assert.deepEqual(isValidPortNum(p), ['must be between 1 and 65535, inclusive']);
  });
});
