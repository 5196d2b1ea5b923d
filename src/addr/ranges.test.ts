import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCidr, parseIp } from './index.js';
import { cidrRange, normalizeRanges, rangesContain, subtractRanges } from './ranges.js';

const r = (...cidrs: string[]) => normalizeRanges(cidrs.map((c) => cidrRange(parseCidr(c))));
const has = (ranges: ReturnType<typeof r>, ip: string) => rangesContain(ranges, parseIp(ip));

describe('address ranges', () => {
  it('merges overlapping and adjacent ranges, per family', () => {
    const m = r('10.0.1.0/24', '10.0.0.0/24', '10.0.0.0/8', 'fd00::/64', '10.128.0.0/9');
    assert.equal(m.length, 2);
    assert.deepEqual(
      [has(m, '10.255.255.255'), has(m, '11.0.0.0'), has(m, 'fd00::1'), has(m, 'fd01::')],
      [true, false, true, false],
    );
    assert.equal(r('10.0.0.0/25', '10.0.0.128/25').length, 1, 'adjacent halves merge');
  });

  it('subtracts except ranges, leaving the pieces on both sides', () => {
    const left = subtractRanges(r('10.0.0.0/16'), r('10.0.5.0/24', '10.0.0.0/24'));
    assert.deepEqual(
      ['10.0.0.1', '10.0.1.0', '10.0.4.255', '10.0.5.7', '10.0.6.0', '10.0.255.255', 'fd00::'].map((ip) =>
        has(left, ip),
      ),
      [false, true, true, false, true, true, false],
    );
    assert.deepEqual(subtractRanges(r('10.0.0.0/24'), r('10.0.0.0/16')), []);
    assert.deepEqual(
      subtractRanges(r('10.0.0.0/24'), r('fd00::/8')),
      r('10.0.0.0/24'),
      'other family untouched',
    );
  });
});
