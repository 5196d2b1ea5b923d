/**
 * Fuzzes the profile parser: whatever the bytes, parseProfileText returns a profile (which checkPlan can then
 * check without throwing) or throws a PodnetError with a known code, a field and a hint. Deterministic seeds,
 * so a failure names the seed that reproduces it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { checkPlan } from '../plan/check.js';
import { mulberry32 } from '../testing/fuzz.js';
import { PROFILE_MAX_BYTES, parseProfileText } from './load.js';

const INPUT_CODES = new Set([
  'ProfileEmpty',
  'ProfileTooLarge',
  'MalformedProfile',
  'InvalidProfile',
  'InvalidCidr',
  'CidrHostBitsSet',
  'InvalidIpAddress',
]);

const VALID = `name: demo
vnet:
  name: vnet-demo
  resourceGroup: rg-demo
  addressSpaces: [10.224.0.0/12]
  subnets:
    - name: nodes
      cidr: 10.224.0.0/16
connectedNetworks:
  - name: onprem
    kind: vpn
    cidrs: [192.168.0.0/16]
networkProfile:
  podCidr: 10.244.0.0/16
  serviceCidr: 10.0.0.0/16
  dnsServiceIP: 10.0.0.10
  ipFamilies: [ipv4]
  outboundType: loadBalancer
agentPoolProfiles:
  - name: system
    count: 3
    maxPods: 110
    upgradeSettings:
      maxSurge: "33%"
`;

/** Parses `text` and asserts the contract; returns what happened, for the counts. */
function probe(text: string, what: string): 'profile' | 'error' {
  let profile: ReturnType<typeof parseProfileText>;
  try {
    profile = parseProfileText(text, 'fuzz.yaml');
  } catch (e) {
    if (!(e instanceof PodnetError)) {
      assert.fail(
        `${what}: threw ${String(e)} instead of a PodnetError for input ${JSON.stringify(text.slice(0, 300))}`,
      );
    }
    assert.ok(INPUT_CODES.has(e.code), `${what}: unexpected code ${e.code} (${e.message})`);
    assert.ok(e.field, `${what}: ${e.code} has no field`);
    assert.ok(e.hint, `${what}: ${e.code} has no hint`);
    return 'error';
  }
  assert.ok(
    Array.isArray(profile.nodePools) && profile.nodePools.length > 0,
    `${what}: profile without pools`,
  );
  const report = checkPlan(profile);
  assert.equal(typeof report.valid, 'boolean');
  assert.equal(report.valid, report.errors.length === 0);
  return 'profile';
}

const YAML_BITS = [
  '-',
  ':',
  ' ',
  '\n',
  '[',
  ']',
  '{',
  '}',
  '&a',
  '*a',
  '!!',
  '"',
  "'",
  '#',
  '|',
  '>',
  ',',
  '0',
  '/',
  '.',
  '\t',
  '\u0000',
  '%',
  '@',
  '`',
  '? ',
];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = Math.floor(rnd() * 5);
    if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    else if (op === 1) s = s.slice(0, at) + YAML_BITS[Math.floor(rnd() * YAML_BITS.length)] + s.slice(at);
    else if (op === 2) s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x3000)) + s.slice(at + 1);
    else if (op === 3) {
      const lines = s.split('\n');
      const i = Math.floor(rnd() * lines.length);
      lines.splice(i, 0, lines[Math.floor(rnd() * lines.length)]);
      s = lines.join('\n');
    } else {
      const lines = s.split('\n');
      const i = Math.floor(rnd() * lines.length);
      lines[i] = lines[i].replace(/^ */, (m) =>
        ' '.repeat(Math.max(0, m.length + Math.floor(rnd() * 5) - 2)),
      );
      s = lines.join('\n');
    }
  }
  return s;
}

describe('profile parser fuzz', () => {
  it('the unmutated profile parses and checks valid', () => {
    assert.equal(probe(VALID, 'valid'), 'profile');
    assert.equal(checkPlan(parseProfileText(VALID, 'v')).valid, true);
  });

  it('random bytes: a profile or a PodnetError, never anything else', () => {
    const rnd = mulberry32(1);
    for (let n = 0; n < 400; n++) {
      const len = Math.floor(rnd() * 600);
      const bytes = Buffer.alloc(len);
      for (let i = 0; i < len; i++) bytes[i] = Math.floor(rnd() * 256);
      probe(bytes.toString(n % 2 === 0 ? 'utf8' : 'latin1'), `random bytes #${n}`);
    }
  });

  it('mutated valid YAML: a profile or a PodnetError', () => {
    const rnd = mulberry32(2);
    const seen = { profile: 0, error: 0 };
    for (let n = 0; n < 1000; n++) seen[probe(mutate(VALID, rnd), `mutation #${n}`)]++;
    // Both outcomes must occur, or the mutations are not exercising the parser.
    assert.ok(seen.profile > 25 && seen.error > 25, JSON.stringify(seen));
  });

  it('mutated JSON: a profile or a PodnetError', () => {
    const rnd = mulberry32(3);
    const json = JSON.stringify(parseProfileText(VALID, 'v'));
    for (let n = 0; n < 500; n++) probe(mutate(json, rnd), `json mutation #${n}`);
  });

  it('values of every type in every field', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1,
      1.5,
      1e300,
      '',
      'x',
      '10.0.0.0/8',
      [],
      [1],
      {},
      { a: 1 },
      '9'.repeat(400),
    ];
    const paths: string[][] = [
      ['name'],
      ['vnet'],
      ['vnet', 'name'],
      ['vnet', 'addressSpaces'],
      ['vnet', 'subnets'],
      ['connectedNetworks'],
      ['networkProfile'],
      ['networkProfile', 'podCidr'],
      ['networkProfile', 'podCidrs'],
      ['networkProfile', 'ipFamilies'],
      ['networkProfile', 'dnsServiceIP'],
      ['networkProfile', 'nonMasqueradeCidrs'],
      ['agentPoolProfiles'],
    ];
    const base = fileShape();
    for (const path of paths) {
      for (const v of values) {
        const d = structuredClone(base);
        let o = d as Record<string, unknown>;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
        o[path[path.length - 1]] = v;
        probe(JSON.stringify(d), `${path.join('.')} = ${JSON.stringify(v)?.slice(0, 20)}`);
      }
    }
  });

  it('deep nesting, alias bombs and huge input are refused as PodnetErrors', () => {
    const cases: [string, string][] = [
      ['flow lists', '['.repeat(200_000)],
      ['flow maps', '{a: '.repeat(100_000)],
      ['block sequences', `${'- '.repeat(50_000)}x`],
      ['indentation', `a:\n${Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i + 1)}b:`).join('\n')}`],
      [
        'alias bomb',
        [
          'a: &a [x, x, x, x, x, x, x, x, x, x]',
          ...'bcdefghij'
            .split('')
            .map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`),
        ].join('\n'),
      ],
      ['huge', `name: ${'a'.repeat(PROFILE_MAX_BYTES)}`],
      ['nul bytes', '\u0000'.repeat(10_000)],
    ];
    for (const [what, text] of cases) assert.equal(probe(text, what), 'error', what);
  });
});

function fileShape(): Record<string, unknown> {
  return {
    name: 'demo',
    vnet: {
      name: 'v',
      addressSpaces: ['10.224.0.0/12'],
      subnets: [{ name: 'nodes', cidr: '10.224.0.0/16' }],
    },
    connectedNetworks: [{ name: 'onprem', kind: 'vpn', cidrs: ['192.168.0.0/16'] }],
    networkProfile: { podCidr: '10.244.0.0/16', serviceCidr: '10.0.0.0/16', dnsServiceIP: '10.0.0.10' },
    agentPoolProfiles: [{ name: 'system', count: 3 }],
  };
}
