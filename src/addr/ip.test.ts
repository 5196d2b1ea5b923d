import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { formatIp, ipAdd, ipEquals, ipv4ToNumber, numberToIpv4, parseIp } from './ip.js';

function rejects(text: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseIp(text, 'networkProfile.dnsServiceIP'),
    (e: unknown) =>
      e instanceof PodnetError &&
      e.code === 'InvalidIpAddress' &&
      e.field === 'networkProfile.dnsServiceIP' &&
      pattern.test(e.message) &&
      typeof e.hint === 'string',
  );
}

describe('parseIp / formatIp', () => {
  it('parses IPv4 and formats it back as a dotted quad', () => {
    for (const t of ['0.0.0.0', '10.0.0.10', '255.255.255.255', '192.168.1.1']) {
      const ip = parseIp(t);
      assert.equal(ip.family, 4);
      assert.equal(formatIp(ip), t);
    }
    assert.equal(parseIp('10.0.0.10').value, 0x0a00000an);
  });

  it('rejects malformed IPv4 with the reason', () => {
    rejects('10.0.0', /four dot-separated octets/);
    rejects('10.0.0.0.1', /four dot-separated octets/);
    rejects('10.0.0.256', /larger than 255/);
    rejects('10.0.0.010', /leading zeros/);
    rejects('10.0.0.-1', /not a decimal number/);
    rejects('10.0.0.a', /not a decimal number/);
    rejects('', /empty/);
    rejects('   ', /empty/);
  });

  it('rejects values that are not strings, naming the type', () => {
    rejects(10, /got number 10/);
    rejects(null, /got null/);
    rejects(undefined, /got nothing/);
    rejects(['10.0.0.1'], /got a list/);
    rejects({ ip: '10.0.0.1' }, /got an object/);
  });

  it('compresses IPv6 per RFC 5952: lower case, longest zero run, first on a tie, no single-group ::', () => {
    const cases: [string, string][] = [
      ['FD12:3456:789A:0:0:0:0:0', 'fd12:3456:789a::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['2001:0db8::0001', '2001:db8::1'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
      ['::ffff:a01:203', '::ffff:10.1.2.3'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [input, canonical] of cases) {
      const ip = parseIp(input);
      assert.equal(ip.family, 6, input);
      assert.equal(formatIp(ip), canonical, input);
      assert.ok(ipEquals(parseIp(canonical), ip), `${canonical} parses back to the same address`);
    }
  });

  it('rejects malformed IPv6 with the reason', () => {
    rejects('1::2::3', /only once/);
    rejects('fe80::1%eth0', /zone ids/);
    rejects('1:2:3:4:5:6:7:8:9', /eight 16-bit groups/);
    rejects('1:2:3:4:5:6:7', /eight 16-bit groups/);
    rejects('1:2:3:4::5:6:7:8', /eight 16-bit groups/);
    rejects('12345::', /1-4 hex digits/);
    rejects('g::1', /1-4 hex digits/);
    rejects(':1::', /1-4 hex digits/);
    rejects('::ffff:10.1.2.300', /embedded IPv4 part/);
  });

  it('truncates a huge bad value in the message', () => {
    assert.throws(
      () => parseIp('9'.repeat(10_000)),
      (e: unknown) => e instanceof PodnetError && e.message.length < 300,
    );
  });

  it('converts between IPv4 addresses and uint32 numbers', () => {
    const ip = parseIp('255.1.2.3');
    assert.equal(ipv4ToNumber(ip), 0xff010203);
    assert.equal(numberToIpv4(0xff010203), '255.1.2.3');
    assert.equal(numberToIpv4(0), '0.0.0.0');
    assert.equal(formatIp(ipAdd(parseIp('10.0.0.255'), 1)), '10.0.1.0');
    assert.equal(formatIp(ipAdd(parseIp('10.0.1.0'), -1)), '10.0.0.255');
  });

  it('never treats an IPv4 and an IPv6 address as equal', () => {
    assert.equal(ipEquals(parseIp('0.0.0.1'), parseIp('::1')), false);
  });
});
