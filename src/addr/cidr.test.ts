import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import {
  AKS_RESERVED_RANGES,
  BLOCK_PREFIX,
  blockAt,
  blockCount,
  blocks,
  cidrEquals,
  cidrSize,
  classify,
  containsCidr,
  containsIp,
  formatCidr,
  ipAt,
  lastIp,
  overlaps,
  parseCidr,
  parseCidrList,
} from './cidr.js';
import { formatIp, parseIp } from './ip.js';

const c = (t: string) => parseCidr(t);

function rejects(text: unknown, code: string, pattern: RegExp): PodnetError {
  let caught: PodnetError | undefined;
  assert.throws(
    () => parseCidr(text, 'networkProfile.podCidr'),
    (e: unknown) => {
      caught = e as PodnetError;
      return (
        e instanceof PodnetError &&
        e.code === code &&
        e.field === 'networkProfile.podCidr' &&
        pattern.test(e.message) &&
        typeof e.hint === 'string'
      );
    },
  );
  return caught!;
}

describe('parseCidr / formatCidr', () => {
  it('parses IPv4 and IPv6 CIDRs into canonical form', () => {
    assert.equal(formatCidr(c('10.244.0.0/16')), '10.244.0.0/16');
    assert.equal(formatCidr(c(' 10.244.0.0/16 ')), '10.244.0.0/16');
    assert.equal(formatCidr(c('FD12:3456:789A:0000::/64')), 'fd12:3456:789a::/64');
    assert.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(c('10.0.0.1/32')), '10.0.0.1/32');
    assert.equal(formatCidr(c('::/0')), '::/0');
    assert.equal(formatCidr(c('fd00::1/128')), 'fd00::1/128');
  });

  it('refuses host bits and names the aligned network', () => {
    const e = rejects('10.244.1.0/16', 'CidrHostBitsSet', /host bits set; the network is 10\.244\.0\.0\/16/);
    assert.match(e.hint!, /"10\.244\.0\.0\/16"/);
    assert.deepEqual(e.details, { aligned: '10.244.0.0/16' });
    rejects('fd12:3456:789a::1/64', 'CidrHostBitsSet', /fd12:3456:789a::\/64/);
    rejects('10.0.0.1/31', 'CidrHostBitsSet', /10\.0\.0\.0\/31/);
  });

  it('refuses malformed CIDRs with the reason', () => {
    rejects('10.244.0.0', 'InvalidCidr', /"\/prefix" part is missing/);
    rejects('10.244.0.0/33', 'InvalidCidr', /from 0 to 32/);
    rejects('fd00::/129', 'InvalidCidr', /from 0 to 128/);
    rejects('10.244.0.0/', 'InvalidCidr', /prefix length/);
    rejects('10.244.0.0/016', 'InvalidCidr', /prefix length/);
    rejects('10.244.0.0/-1', 'InvalidCidr', /prefix length/);
    rejects('10.244.0.0/1 6', 'InvalidCidr', /prefix length/);
    rejects('10.244.0/16', 'InvalidCidr', /four dot-separated octets/);
    rejects('10.244.0.0/16/2', 'InvalidCidr', /prefix length/);
    rejects(16, 'InvalidCidr', /got number 16/);
    rejects(undefined, 'InvalidCidr', /got nothing/);
  });

  it('parses lists given as arrays or comma-separated text, naming the bad item', () => {
    assert.deepEqual(parseCidrList('10.0.0.0/8, fd00::/8', 'f').map(formatCidr), ['10.0.0.0/8', 'fd00::/8']);
    assert.deepEqual(parseCidrList(['10.0.0.0/8'], 'f').map(formatCidr), ['10.0.0.0/8']);
    assert.throws(
      () => parseCidrList(['10.0.0.0/8', 'nope'], 'vnet.addressSpaces'),
      (e: unknown) => e instanceof PodnetError && e.field === 'vnet.addressSpaces[1]',
    );
    assert.throws(
      () => parseCidrList(5, 'vnet.addressSpaces'),
      (e: unknown) => e instanceof PodnetError && e.code === 'InvalidCidr',
    );
  });
});

describe('contains / overlaps / size', () => {
  it('contains addresses on both edges and not one past', () => {
    const pod = c('10.244.0.0/16');
    assert.ok(containsIp(pod, parseIp('10.244.0.0')));
    assert.ok(containsIp(pod, parseIp('10.244.255.255')));
    assert.ok(!containsIp(pod, parseIp('10.245.0.0')));
    assert.ok(!containsIp(pod, parseIp('10.243.255.255')));
    assert.ok(!containsIp(pod, parseIp('::a0f4:0')), 'an IPv6 address is never inside an IPv4 CIDR');
  });

  it('contains CIDRs (itself included) and overlaps symmetrically', () => {
    assert.ok(containsCidr(c('10.0.0.0/8'), c('10.244.0.0/16')));
    assert.ok(containsCidr(c('10.244.0.0/16'), c('10.244.0.0/16')));
    assert.ok(!containsCidr(c('10.244.0.0/16'), c('10.0.0.0/8')));
    assert.ok(overlaps(c('10.244.0.0/16'), c('10.0.0.0/8')));
    assert.ok(overlaps(c('10.0.0.0/8'), c('10.244.0.0/16')));
    assert.ok(!overlaps(c('10.244.0.0/16'), c('10.245.0.0/16')));
    assert.ok(!overlaps(c('10.244.0.0/24'), c('10.244.1.0/24')), 'adjacent blocks do not overlap');
    assert.ok(!overlaps(c('0.0.0.0/0'), c('::/0')), 'families never overlap');
    assert.ok(cidrEquals(c('fd00::/8'), c('fd00:0::/8')));
  });

  it('sizes CIDRs exactly, including IPv6 beyond 2^53', () => {
    assert.equal(cidrSize(c('10.0.0.0/16')), 65536n);
    assert.equal(cidrSize(c('10.0.0.1/32')), 1n);
    assert.equal(cidrSize(c('0.0.0.0/0')), 4294967296n);
    assert.equal(cidrSize(c('fd00::/64')), 1n << 64n);
    assert.equal(cidrSize(c('::/0')), 1n << 128n);
    assert.equal(formatIp(lastIp(c('10.0.0.0/16'))), '10.0.255.255');
    assert.equal(formatIp(ipAt(c('10.0.0.0/16'), 10)), '10.0.0.10');
  });
});

describe('blocks', () => {
  it('carves /24 blocks for IPv4 and /120 for IPv6', () => {
    assert.equal(BLOCK_PREFIX[4], 24);
    assert.equal(BLOCK_PREFIX[6], 120);
    assert.equal(blockCount(c('10.244.0.0/16')), 256n);
    assert.equal(blockCount(c('10.244.0.0/24')), 1n);
    assert.equal(blockCount(c('10.244.0.0/25')), 0n, 'a /25 cannot hold a /24');
    assert.equal(blockCount(c('fd12:3456:789a::/112')), 256n);
    assert.equal(blockCount(c('fd12:3456:789a::/64')), 1n << 56n);
    assert.equal(formatCidr(blockAt(c('10.244.0.0/16'), 0)), '10.244.0.0/24');
    assert.equal(formatCidr(blockAt(c('10.244.0.0/16'), 255)), '10.244.255.0/24');
    assert.equal(formatCidr(blockAt(c('fd12:3456:789a::/64'), 1)), 'fd12:3456:789a::100/120');
    assert.throws(() => blockAt(c('10.244.0.0/16'), 256), RangeError);
    assert.throws(() => blockAt(c('10.244.0.0/16'), -1), RangeError);
  });

  it('iterates every block once, lowest first, each inside the CIDR', () => {
    const pod = c('10.244.0.0/22');
    const all = [...blocks(pod)].map(formatCidr);
    assert.deepEqual(all, ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24']);
    assert.deepEqual([...blocks(c('10.0.0.0/26'))], []);
    assert.deepEqual([...blocks(pod, 23)].map(formatCidr), ['10.244.0.0/23', '10.244.2.0/23']);
  });
});

describe('classify and AKS reserved ranges', () => {
  it('classifies private, shared, ULA, special and public ranges', () => {
    assert.equal(classify(c('10.244.0.0/16')), 'rfc1918');
    assert.equal(classify(c('172.16.0.0/12')), 'rfc1918');
    assert.equal(classify(c('192.168.0.0/16')), 'rfc1918');
    assert.equal(classify(c('100.64.0.0/10')), 'rfc6598');
    assert.equal(classify(c('100.0.0.0/9')), 'public', 'wider than the RFC 6598 range');
    assert.equal(classify(c('fd12:3456:789a::/64')), 'ula');
    assert.equal(classify(c('127.0.0.0/8')), 'special');
    assert.equal(classify(c('169.254.0.0/16')), 'special');
    assert.equal(classify(c('224.0.0.0/24')), 'special');
    assert.equal(classify(c('fe80::/64')), 'special');
    assert.equal(classify(c('20.0.0.0/16')), 'public');
    assert.equal(classify(c('11.0.0.0/8')), 'public');
    assert.equal(classify(c('2001:4860::/32')), 'public');
  });

  it('lists exactly the ranges AKS reserves', () => {
    assert.deepEqual(
      AKS_RESERVED_RANGES.map((r) => formatCidr(r.cidr)),
      ['169.254.0.0/16', '172.30.0.0/16', '172.31.0.0/16', '192.0.2.0/24'],
    );
    assert.ok(
      AKS_RESERVED_RANGES.some((r) => overlaps(r.cidr, c('172.16.0.0/12'))),
      '172.16.0.0/12 is not usable',
    );
    assert.ok(!AKS_RESERVED_RANGES.some((r) => overlaps(r.cidr, c('172.29.0.0/16'))));
  });
});
