/**
 * Fuzzes the address parsers against independent oracles in Node itself: `net.isIP` says which texts are
 * addresses, the WHATWG URL host parser gives the canonical (RFC 5952) text of an IPv6 address, and
 * `net.BlockList` says which addresses a subnet holds. podnet differs from `net.isIP` on purpose in two ways,
 * both asserted here: it trims surrounding whitespace (YAML and flags carry it) and it refuses IPv6 zone ids
 * (`fe80::1%eth0`), which name a link and mean nothing in a pod CIDR or a route.
 */
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { below, mulberry32, mutateChars } from '../testing/fuzz.js';
import { formatCidr, parseCidr } from './cidr.js';
import { formatIp, parseIp } from './ip.js';

const ADDRESSES = [
  '0.0.0.0',
  '10.244.0.1',
  '255.255.255.255',
  '::',
  '::1',
  '1::',
  '2001:db8::1',
  'fe80::1:2:3:4',
  '1:2:3:4:5:6:7:8',
  '1:0:0:2:0:0:0:3',
  '::ffff:10.0.0.1',
  'FD12:3456:789A::',
];
const ADDRESS_CHARS = '0123456789abcdefABCDEFg.:.:%/ ';
const CIDRS = [
  '10.244.0.0/16',
  '10.0.0.0/8',
  '0.0.0.0/0',
  '10.1.2.3/32',
  'fd00::/8',
  '2001:db8::/120',
  '::/0',
];
const CIDR_CHARS = `${ADDRESS_CHARS}/-+x`;
const ITERATIONS = 40_000;

/** What Node says the text is (4, 6 or 0), with podnet's two deliberate differences applied. */
function oracleFamily(text: string): number {
  const t = text.trim();
  return t.includes('%') ? 0 : isIP(t);
}

/**
 * The canonical text of an address Node accepts: the dotted quad for IPv4; for IPv6 the URL host parser's
 * RFC 5952 text, except that RFC 5952 (section 5) writes IPv4-mapped addresses as ::ffff:a.b.c.d and URLs
 * keep them in hex.
 */
function oracleCanonical(text: string): string {
  const t = text.trim();
  if (isIP(t) !== 6) return t;
  const host = new URL(`http://[${t}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [Number.parseInt(mapped[1], 16), Number.parseInt(mapped[2], 16)];
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function assertInputError(e: unknown, codes: string[], input: string): asserts e is PodnetError {
  assert.ok(e instanceof PodnetError, `${JSON.stringify(input)} threw ${String(e)}, not a PodnetError`);
  assert.ok(codes.includes(e.code), `${JSON.stringify(input)}: unexpected code ${e.code}`);
  assert.equal(e.field, 'fuzz', `${JSON.stringify(input)}: the error names the field`);
  assert.ok(e.hint, `${JSON.stringify(input)}: the error has a hint`);
}

describe('address parser fuzz (Node as the oracle)', () => {
  it('parseIp accepts exactly what Node accepts, and formats it as Node canonicalises it', () => {
    const rnd = mulberry32(7);
    const seen = { 4: 0, 6: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const text = mutateChars(ADDRESSES[below(rnd, ADDRESSES.length)], ADDRESS_CHARS, rnd, 3);
      const want = oracleFamily(text);
      try {
        const ip = parseIp(text, 'fuzz');
        assert.equal(ip.family, want, `${JSON.stringify(text)} parsed as IPv${ip.family}; Node: ${want}`);
        assert.equal(formatIp(ip), oracleCanonical(text), `${JSON.stringify(text)} formats canonically`);
        seen[ip.family]++;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assertInputError(e, ['InvalidIpAddress'], text);
        assert.equal(want, 0, `${JSON.stringify(text)} refused (${e.message}), but Node reads IPv${want}`);
        seen.refused++;
      }
    }
    // Every outcome must occur often, or the mutations are not reaching the parser's branches.
    for (const [what, n] of Object.entries(seen)) assert.ok(n > ITERATIONS / 50, `${what}: ${n} times`);
  });

  it('parseCidr accepts an address and a prefix in range with no host bits, and names the aligned network', () => {
    const rnd = mulberry32(11);
    const seen = { accepted: 0, hostBits: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const text = mutateChars(CIDRS[below(rnd, CIDRS.length)], CIDR_CHARS, rnd, 2);
      const t = text.trim();
      const slash = t.indexOf('/');
      const address = slash < 0 ? '' : t.slice(0, slash);
      const prefix = slash < 0 ? '' : t.slice(slash + 1);
      const family = oracleFamily(address);
      const wellFormed =
        family !== 0 && /^(0|[1-9][0-9]*)$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      try {
        const c = parseCidr(text, 'fuzz');
        assert.ok(wellFormed, `${JSON.stringify(text)} accepted, but it is not address/prefix`);
        assert.equal(
          formatCidr(c),
          `${oracleCanonical(address)}/${Number(prefix)}`,
          `${JSON.stringify(text)}`,
        );
        seen.accepted++;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assertInputError(e, ['InvalidCidr', 'CidrHostBitsSet'], text);
        if (e.code === 'InvalidCidr') {
          assert.ok(!wellFormed, `${JSON.stringify(text)} refused as InvalidCidr: ${e.message}`);
          seen.refused++;
          continue;
        }
        assert.ok(wellFormed, `${JSON.stringify(text)} refused for host bits but is not address/prefix`);
        // The aligned network is a CIDR itself, holds the address given, and differs from it.
        const aligned = parseCidr((e.details as { aligned: string }).aligned);
        const [net, bits] = formatCidr(aligned).split('/');
        assert.equal(bits, String(Number(prefix)));
        const subnet = new BlockList();
        subnet.addSubnet(net, Number(bits), type);
        assert.ok(subnet.check(oracleCanonical(address), type), `${formatCidr(aligned)} holds ${address}`);
        assert.notEqual(net, oracleCanonical(address));
        seen.hostBits++;
      }
    }
    for (const [what, n] of Object.entries(seen)) assert.ok(n > ITERATIONS / 50, `${what}: ${n} times`);
  });
});
