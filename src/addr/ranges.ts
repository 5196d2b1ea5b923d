/**
 * Sets of addresses as sorted, disjoint, merged ranges (per family): what a NetworkPolicy peer or an NSG
 * prefix list covers, with `except` subtracted. Pure. nftables interval sets refuse overlapping elements and
 * merged elements cannot be deleted one by one, so everything handed to the kernel is normalized here first.
 */
import type { Cidr } from './cidr.js';
import { cidrSize } from './cidr.js';
import type { Family, IpAddress } from './ip.js';

/** The addresses from `from` to `to`, both included. */
export interface IpRange {
  family: Family;
  from: bigint;
  to: bigint;
}

export function cidrRange(c: Cidr): IpRange {
  return { family: c.family, from: c.network, to: c.network + cidrSize(c) - 1n };
}

export function ipRange(ip: IpAddress): IpRange {
  return { family: ip.family, from: ip.value, to: ip.value };
}

/** Sorted by family then address, overlapping and adjacent ranges merged. */
export function normalizeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) =>
    a.family !== b.family ? a.family - b.family : a.from < b.from ? -1 : a.from > b.from ? 1 : 0,
  );
  const out: IpRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && last.family === r.family && r.from <= last.to + 1n) {
      if (r.to > last.to) last.to = r.to;
    } else out.push({ ...r });
  }
  return out;
}

/** `a` without the addresses of `b` (both normalized; the result is normalized). */
export function subtractRanges(a: readonly IpRange[], b: readonly IpRange[]): IpRange[] {
  const out: IpRange[] = [];
  for (const r of a) {
    let pieces: IpRange[] = [{ ...r }];
    for (const cut of b) {
      if (cut.family !== r.family) continue;
      pieces = pieces.flatMap((p) => {
        if (cut.to < p.from || cut.from > p.to) return [p];
        const left = cut.from > p.from ? [{ family: p.family, from: p.from, to: cut.from - 1n }] : [];
        const right = cut.to < p.to ? [{ family: p.family, from: cut.to + 1n, to: p.to }] : [];
        return [...left, ...right];
      });
    }
    out.push(...pieces);
  }
  return normalizeRanges(out);
}

/** True when `ip` is in the normalized `ranges` (binary search). */
export function rangesContain(ranges: readonly IpRange[], ip: IpAddress): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (r.family < ip.family || (r.family === ip.family && r.to < ip.value)) lo = mid + 1;
    else if (r.family > ip.family || r.from > ip.value) hi = mid - 1;
    else return true;
  }
  return false;
}
